"""The delivery loop over the ledger: claim → prepare → mark → send → record.

    producer:  claim a batch (one short transaction, rows leased) → prepare it (rank and
               render, in a thread or helper processes) → hand it over; the next batch is
               prepared while this one is sent
    ledger:    one task, one transaction at a time: record the outcomes that came in since
               the last one, and mark as many rows `sending` as the window has room for
    senders:   `concurrency` of them (the SMTP pool's size): take a marked row, send it,
               hand its outcome to the ledger task
    heartbeat: renews every lease this worker holds, every third of a lease

The window bounds the rows this worker has `sending` at any moment: marked and waiting for
a connection, in flight, or answered and not yet recorded, together at most `concurrency +
ahead` (the SMTP pool's size plus one small chunk). That is what a crash at any moment can
leave behind for recovery to make `unknown`; every other row the worker held is still
queued and goes out with the rerun or a sibling, once its lease is given back or runs out.
A stop gives the rows marked but not yet sent back to the queue, untouched.

Many workers share one ledger (PostgreSQL): claims skip rows another worker holds, so a
slow worker never blocks the others. A worker that runs out of rows recovers what dead
siblings on its host held (see `digest.send.leases`) before it stops.

Outcomes of one attempt:
- accepted                                 → sent (items and sent papers recorded)
- dropped or timed out during DATA         → unknown (never resent blindly)
- 5xx to RCPT (not 552)                    → failed, address suppressed
- other 5xx for this message               → failed
- 4xx, 552, dropped before DATA, timeouts  → retry with back-off, inside the local day
- nothing relevant that day                → skipped (no email) when digest.skip_when_empty
- a feed-only subscriber's digest           → published (no email; items and sent papers
                                             recorded, for the feed and the archive)

After `failure_limit` consecutive transport failures the loop stops claiming, logs one line
and returns with `report.paused` set; unsent claims go back to the queue. Preparing (ranking
and rendering) is injected, so this module knows nothing of either.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from digest.errors import TransportError
from digest.records import Outcome, Prepared
from digest.send.batches import BatchFeed, PrepareBatch
from digest.send.leases import new_worker_id, recover
from digest.send.outcomes import DeliveryReport, outcome_of
from digest.send.transport import Transport
from digest.store import deliveries as ledger
from digest.store.delivery_outcomes import record_outcomes
from digest.store.engine import transaction

__all__ = [
    "DeliveryReport",
    "LoopOptions",
    "PrepareBatch",
    "new_worker_id",
    "recover",
    "run_deliveries",
]

log = logging.getLogger("digest.send")
T = TypeVar("T")

RECORD_WITHIN = 0.02  # seconds an outcome may wait for the next ledger transaction


@dataclass(frozen=True)
class LoopOptions:
    worker_id: str
    batch_size: int = 250
    concurrency: int = 4  # messages in flight at once: smtp.max_connections
    ahead: int = 16  # rows marked `sending` beyond those: the one small chunk (see above)
    lease_seconds: int = ledger.LEASE_SECONDS
    failure_limit: int = 10
    prepare_parallel: int = 1  # batches prepared at once (helper processes, see preparers)
    subscriber_id: int | None = None
    digest_date: date | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


class DeliveryRun:
    """One pass over the claimable ledger rows by one worker."""

    def __init__(
        self,
        engine: Engine,
        transport: Transport,
        prepare: PrepareBatch,
        options: LoopOptions,
        *,
        stop: asyncio.Event | None = None,
        progress: Callable[[DeliveryReport], None] | None = None,
        report: DeliveryReport | None = None,
    ) -> None:
        self.engine = engine
        self.transport = transport
        self.prepare = prepare
        self.options = options
        self.stop = stop or asyncio.Event()
        self.progress = progress or (lambda _report: None)
        self.report = report or DeliveryReport()
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="digest-ledger")
        self._window = max(options.concurrency, 1) + max(options.ahead, 0)
        self._waiting: deque[Prepared] = deque()  # prepared, not yet marked
        self._ready: deque[Prepared] = deque()  # marked `sending`, waiting for a connection
        self._in_flight = 0
        self._answered: list[Outcome] = []  # sent (or tried), not yet recorded
        self._answered_at = 0.0  # when the first of them came in
        self._skipped: list[Outcome] = []  # nothing to send, not yet recorded
        self._wake = asyncio.Event()  # for the ledger task: something to write
        self._marked = asyncio.Condition()  # for the senders: rows marked, or the end
        self._no_more_marks = False
        self._consecutive_failures = 0
        self._halt = asyncio.Event()
        self._end_seen = False
        self._feed = BatchFeed(
            options,
            prepare,
            self._in_db,
            self.report,
            stopping=self._stopping,
            arrived=self._wake.set,
        )

    async def run(self) -> DeliveryReport:
        producer = asyncio.create_task(self._feed.run())
        heartbeat = asyncio.create_task(self._heartbeat())
        watch = asyncio.create_task(self._watch_stop())
        tasks = [asyncio.create_task(self._keep_ledger())]
        tasks += [
            asyncio.create_task(self._sender()) for _ in range(max(self.options.concurrency, 1))
        ]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        finally:
            self._halt.set()
            watch.cancel()
            try:
                unsent, self._waiting = list(self._waiting), deque()
                await self._feed.drain(producer, unsent, ended=self._end_seen)
            finally:
                heartbeat.cancel()
                self._db.shutdown(wait=True)
        return self.report

    async def _in_db(self, work: Callable[[Session], T]) -> T:
        def unit() -> T:
            with transaction(self.engine) as session:
                return work(session)

        return await asyncio.get_running_loop().run_in_executor(self._db, unit)

    def _stopping(self) -> bool:
        return self.stop.is_set() or self._halt.is_set()

    async def _watch_stop(self) -> None:
        """Wake the ledger task and the senders when a stop is asked for."""
        waits = [asyncio.ensure_future(e.wait()) for e in (self.stop, self._halt)]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
        self._wake.set()

    # --- the ledger task: record outcomes, mark rows, within the window ---------------

    async def _keep_ledger(self) -> None:
        """Record outcomes and mark rows, one transaction at a time, until every row taken
        on is recorded. A transaction waits until it is worth its cost: when the senders
        are about to run out of marked rows, or an outcome has waited `RECORD_WITHIN`."""
        while True:
            await self._until_worth_writing()
            answered = len(self._answered)
            outcomes, self._answered = self._skipped + self._answered, []
            self._skipped = []
            unmark: list[Prepared] = []
            if self._stopping():
                unmark, self._ready = list(self._ready), deque()
            # Mark about twice what was sent since the last transaction (at least enough
            # for every connection): through a fast relay the marks grow to fill the
            # window and each transaction carries many rows; through a slow one they stay
            # few, and so does what a crash can leave in doubt.
            wanted = self.options.concurrency + 2 * answered - len(self._ready)
            room = 0 if self._stopping() else min(self._room(), wanted)
            marks = [self._waiting.popleft() for _ in range(max(min(room, len(self._waiting)), 0))]
            if outcomes or marks or unmark:
                marked = await self._in_db(partial(self._write, outcomes, marks, unmark))
                for outcome in outcomes:
                    self.report.add(outcome)
                self.progress(self.report)
                async with self._marked:
                    self._ready.extend(p for p in marks if p.claim.delivery_id in marked)
                    self._marked.notify_all()
            elif not self._finished():
                self._wake.clear()  # nothing to do after all: wait for news
                await self._wake.wait()
            if self._finished():
                async with self._marked:
                    self._no_more_marks = True
                    self._marked.notify_all()
                return

    async def _until_worth_writing(self) -> None:
        while True:
            self._take_batches()
            if self._worth_writing():
                return
            self._wake.clear()
            if not self._answered:
                await self._wake.wait()
                continue
            waited = asyncio.get_running_loop().time() - self._answered_at
            try:
                await asyncio.wait_for(self._wake.wait(), max(RECORD_WITHIN - waited, 0))
            except TimeoutError:
                return

    def _worth_writing(self) -> bool:
        if self._finished() or self._skipped:
            return True
        if self._stopping():
            return bool(self._ready or self._answered)  # to give back, to record
        if self._answered and not (self._ready or self._in_flight):
            return True  # nothing else will come in for a while
        if self._answered and len(self._ready) <= self.options.concurrency:
            return True  # the senders are about to run out of marked rows
        return (
            len(self._ready) < self.options.concurrency and bool(self._waiting) and self._room() > 0
        )

    def _take_batches(self) -> None:
        """Move the prepared batches waiting in the queue in, while the window could use
        them; rows with nothing to send go straight to be recorded."""
        while len(self._waiting) < self._window and not self._end_seen:
            try:
                batch = self._feed.queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            if batch is None:
                self._end_seen = True
                return
            self._skipped += [self._skipped_outcome(p) for p in batch if p.email is None]
            self._waiting.extend(p for p in batch if p.email is not None)

    def _room(self) -> int:
        """Rows the window can take: those answered count only once recorded, as they
        stay `sending` until then."""
        return self._window - len(self._ready) - self._in_flight - len(self._answered)

    def _finished(self) -> bool:
        """Nothing marked, in flight or answered is left, and no more will be marked."""
        settled = not (self._ready or self._in_flight or self._answered or self._skipped)
        return settled and (self._stopping() or (self._end_seen and not self._waiting))

    def _write(
        self,
        outcomes: list[Outcome],
        marks: list[Prepared],
        unmark: list[Prepared],
        session: Session,
    ) -> set[int]:
        now = self.options.clock()
        worker = self.options.worker_id
        record_outcomes(session, outcomes, worker_id=worker, now=now)
        ledger.unmark_sending(session, [p.claim.delivery_id for p in unmark], worker_id=worker)
        planned = {p.claim.delivery_id: p.items for p in marks}
        return ledger.mark_sending(session, planned, worker_id=worker, now=now)

    # --- the senders ----------------------------------------------------------------

    async def _sender(self) -> None:
        """Send marked rows, one at a time, until there are no more."""
        while (prepared := await self._take_marked()) is not None:
            assert prepared.email is not None
            error: Exception | None = None
            try:
                await self.transport.send(prepared.email)
            except Exception as exc:  # classified by outcome_of; never lost
                error = exc
            finally:
                self._in_flight -= 1
            if not self._answered:
                self._answered_at = asyncio.get_running_loop().time()
            self._answered.append(outcome_of(prepared, error, self.options.clock()))
            self._count_failure(error)
            self._wake.set()

    async def _take_marked(self) -> Prepared | None:
        async with self._marked:
            await self._marked.wait_for(
                lambda: bool(self._ready) or self._no_more_marks or self._stopping()
            )
            if not self._ready or self._stopping():
                return None
            self._in_flight += 1
            return self._ready.popleft()

    def _skipped_outcome(self, prepared: Prepared) -> Outcome:
        claim = prepared.claim
        return Outcome(
            claim.delivery_id,
            claim.subscriber.id,
            claim.digest_date,
            prepared.status,
            error=prepared.skip_reason,
            items=prepared.items,
        )

    def _count_failure(self, error: BaseException | None) -> None:
        if error is None or (isinstance(error, TransportError) and error.permanent):
            self._consecutive_failures = 0
            return
        self._consecutive_failures += 1
        if self._consecutive_failures == self.options.failure_limit and not self.report.paused:
            self.report.paused = (
                f"paused after {self.options.failure_limit} consecutive failures; last: {error}"
            )
            log.warning("delivery %s", self.report.paused)
            self._halt.set()

    # --- leases: the heartbeat, giving rows back -------------------------------------

    async def _heartbeat(self) -> None:
        """Renew this worker's leases every third of a lease, while the run lasts."""
        worker = self.options.worker_id
        while True:
            await asyncio.sleep(self.options.lease_seconds / 3)
            until = self.options.clock() + timedelta(seconds=self.options.lease_seconds)
            try:
                await self._in_db(partial(ledger.renew_leases, worker_id=worker, lease_until=until))
            except Exception as exc:  # the next beat tries again; the lease has slack
                log.warning("could not renew delivery leases: %s", exc)


async def run_deliveries(
    engine: Engine,
    transport: Transport,
    prepare: PrepareBatch,
    options: LoopOptions,
    *,
    stop: asyncio.Event | None = None,
    progress: Callable[[DeliveryReport], None] | None = None,
    report: DeliveryReport | None = None,
) -> DeliveryReport:
    """Deliver every claimable row (see the module docstring); returns the report."""
    run = DeliveryRun(
        engine, transport, prepare, options, stop=stop, progress=progress, report=report
    )
    return await run.run()
