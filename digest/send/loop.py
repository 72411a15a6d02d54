"""The delivery loop over the ledger: claim → prepare → send → record.

    producer:  claim a batch (one short transaction, rows leased) → prepare it (rank and
               render, in a thread or helper processes) → hand it over; the next batch is
               prepared while this one is sent
    senders:   `concurrency` of them (the SMTP pool's size), each one message at a time:
               mark it `sending` → send it → record its outcome; the outcome of one message
               and the mark of the sender's next one are written in the same transaction
    ledger:    the writes the senders ask for at the same moment share one transaction
               (group commit), on one database thread
    heartbeat: renews every lease this worker holds, every third of a lease

So a row is `sending` only while its own SMTP transaction runs (and until its outcome is
committed): a crash at any moment leaves at most `concurrency` rows `sending`, which the
next recovery makes `unknown`; every other row it held is still queued and goes out with
the rerun or a sibling once its lease is given back or runs out.

Many workers share one ledger (PostgreSQL): claims skip rows another worker holds, so a
slow worker never blocks the others. A worker that runs out of rows recovers what dead
siblings on its host held (see `digest.send.leases`) before it stops.

Outcomes of one attempt:
- accepted                                 → sent (items and sent papers recorded)
- dropped or timed out after DATA          → unknown (never resent blindly)
- 5xx to RCPT (not 552)                    → failed, address suppressed
- other 5xx for this message               → failed
- 4xx, 552, dropped before DATA, timeouts  → retry with back-off, inside the local day
- nothing relevant that day                → skipped (no email) when digest.skip_when_empty

After `failure_limit` consecutive transport failures the loop stops claiming, logs one line
and returns with `report.paused` set; unsent claims go back to the queue. Preparing (ranking
and rendering) is injected, so this module knows nothing of either.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from digest.errors import TransportError
from digest.send.due import end_of_local_day
from digest.send.leases import is_dead, new_worker_id, recover
from digest.send.outcomes import DeliveryReport, Prepared, outcome_of
from digest.send.transport import Transport
from digest.store import deliveries as ledger
from digest.store.deliveries import Claim, Outcome
from digest.store.engine import transaction

__all__ = [
    "DeliveryReport",
    "LoopOptions",
    "PrepareBatch",
    "Prepared",
    "new_worker_id",
    "recover",
    "run_deliveries",
]

log = logging.getLogger("digest.send")
T = TypeVar("T")

PrepareBatch = Callable[[Sequence[Claim]], list[Prepared]]


@dataclass(frozen=True)
class LoopOptions:
    worker_id: str
    batch_size: int = 250
    concurrency: int = 4  # messages in flight at once: smtp.max_connections
    lease_seconds: int = ledger.LEASE_SECONDS
    failure_limit: int = 10
    prepare_parallel: int = 1  # batches prepared at once (helper processes, see preparers)
    subscriber_id: int | None = None
    digest_date: date | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


@dataclass
class _Write:
    """What one sender asks the ledger for: outcomes to record, a message to mark."""

    outcomes: list[Outcome]
    mark: Prepared | None
    done: asyncio.Future[bool]


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
        self._batches: asyncio.Queue[list[Prepared] | None] = asyncio.Queue(maxsize=2)
        self._current: deque[Prepared] = deque()
        self._taking = asyncio.Lock()
        self._writes: list[_Write] = []
        self._write_wanted = asyncio.Event()
        self._writes_closed = False
        self._skipped: list[asyncio.Future[bool]] = []
        self._consecutive_failures = 0
        self._halt = asyncio.Event()
        self._end_seen = False

    async def run(self) -> DeliveryReport:
        producer = asyncio.create_task(self._produce())
        writer = asyncio.create_task(self._write_loop())
        heartbeat = asyncio.create_task(self._heartbeat())
        senders = [
            asyncio.create_task(self._sender()) for _ in range(max(self.options.concurrency, 1))
        ]
        try:
            await asyncio.gather(*senders)
            await asyncio.gather(*self._skipped)
        except BaseException:
            for sender in senders:
                sender.cancel()
            await asyncio.gather(*senders, return_exceptions=True)
            raise
        finally:
            self._halt.set()
            try:
                await self._drain(producer)
            finally:
                self._writes_closed = True
                self._write_wanted.set()
                await writer
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

    def _lease_until(self) -> datetime:
        return self.options.clock() + timedelta(seconds=self.options.lease_seconds)

    # --- the producer: claim and prepare ---------------------------------------------

    async def _produce(self) -> None:
        """Claim and prepare batches ahead of the senders, up to `prepare_parallel` at once.
        Every claimed batch is handed over prepared, or released if preparing it failed."""
        preparing: deque[tuple[list[Claim], asyncio.Future[list[Prepared]]]] = deque()
        try:
            while not self._stopping():
                claims = await self._in_db(self._claim)
                if not claims:
                    if await self._in_db(self._take_over_dead):
                        continue
                    break
                preparing.append((claims, asyncio.ensure_future(self._prepare(claims))))
                if len(preparing) >= max(self.options.prepare_parallel, 1):
                    await self._hand_over(*preparing.popleft())
            while preparing:
                await self._hand_over(*preparing.popleft())
        finally:
            while preparing:
                claims, future = preparing.popleft()
                await asyncio.wait([future])
                if future.cancelled() or future.exception() is not None:
                    await self._release([c.delivery_id for c in claims])
                else:
                    await self._batches.put(future.result())
            await self._batches.put(None)

    async def _hand_over(self, claims: list[Claim], future: asyncio.Future[list[Prepared]]) -> None:
        try:
            batch = await future
        except BaseException:
            await self._release([c.delivery_id for c in claims])
            raise
        await self._batches.put(batch)

    def _claim(self, session: Session) -> list[Claim]:
        now = self.options.clock()
        return ledger.claim_deliveries(
            session,
            worker_id=self.options.worker_id,
            now=now,
            lease_until=now + timedelta(seconds=self.options.lease_seconds),
            limit=self.options.batch_size,
            subscriber_id=self.options.subscriber_id,
            digest_date=self.options.digest_date,
        )

    def _take_over_dead(self, session: Session) -> bool:
        """Out of work: a sibling on this host that died holds leases nobody may claim
        until they run out. Recover its rows now; True if any went back to the queue."""
        me = self.options.worker_id
        dead = [o for o in ledger.lease_owners(session) if is_dead(o, me=me)]
        now = self.options.clock()
        recovered = ledger.recover_interrupted(session, now=now, dead_owners=dead)
        self.report.recovered += recovered.unknown
        return recovered.released > 0

    async def _prepare(self, claims: list[Claim]) -> list[Prepared]:
        fresh, stale = self._split_stale(claims)
        prepared = await asyncio.to_thread(self.prepare, fresh) if fresh else []
        return stale + prepared

    def _split_stale(self, claims: list[Claim]) -> tuple[list[Claim], list[Prepared]]:
        """Rows whose local day is over are not sent late (unless that date was asked for)."""
        if self.options.digest_date is not None:
            return claims, []
        now = self.options.clock()
        fresh, stale = [], []
        for claim in claims:
            if now < end_of_local_day(claim.digest_date, claim.subscriber.timezone):
                fresh.append(claim)
            else:
                reason = "the local day ended before the digest could be sent"
                stale.append(Prepared(claim, None, (), reason, status="failed"))
        return fresh, stale

    # --- the senders ----------------------------------------------------------------

    async def _sender(self) -> None:
        """One message at a time: its mark committed with the previous one's outcome."""
        outcome: list[Outcome] = []
        while (prepared := await self._next()) is not None:
            marked = await self._commit(outcome, prepared)
            outcome = []
            if not marked:
                continue  # its lease was lost: another worker has the row now
            assert prepared.email is not None
            error: Exception | None = None
            try:
                await self.transport.send(prepared.email)
            except Exception as exc:  # classified by outcome_of; never lost
                error = exc
            outcome = [outcome_of(prepared, error, self.options.clock())]
            self._count_failure(error)
        if outcome:
            await self._commit(outcome, None)

    async def _next(self) -> Prepared | None:
        """The next message to send, or None when there is none or the run is stopping.
        Rows with nothing to send are recorded on the way."""
        async with self._taking:
            while not self._current:
                if self._end_seen or self._stopping():
                    return None
                batch = await self._batches.get()
                if batch is None:
                    self._end_seen = True
                    return None
                skipped = [self._skipped_outcome(p) for p in batch if p.email is None]
                if skipped:
                    self._skipped.append(asyncio.ensure_future(self._commit(skipped, None)))
                self._current.extend(p for p in batch if p.email is not None)
            return None if self._stopping() else self._current.popleft()

    def _skipped_outcome(self, prepared: Prepared) -> Outcome:
        claim = prepared.claim
        return Outcome(
            claim.delivery_id,
            claim.subscriber.id,
            claim.digest_date,
            prepared.status,
            error=prepared.skip_reason,
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

    # --- the ledger: grouped writes, heartbeat, giving rows back ----------------------

    async def _commit(self, outcomes: list[Outcome], mark: Prepared | None) -> bool:
        """Record `outcomes` and mark `mark` `sending`, in the next group transaction;
        True if `mark` was marked (this worker still held it)."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._writes.append(_Write(outcomes, mark, done))
        self._write_wanted.set()
        return await done

    async def _write_loop(self) -> None:
        """Commit what the senders asked for, all of it in one transaction at a time: the
        requests that arrive while one commits go together in the next."""
        while True:
            await self._write_wanted.wait()
            self._write_wanted.clear()
            writes, self._writes = self._writes, []
            if not writes:
                if self._writes_closed:
                    return
                continue
            try:
                marked = await self._in_db(partial(self._write, writes=writes))
            except Exception as exc:
                for write in writes:
                    write.done.set_exception(exc)
                continue
            for write in writes:
                for outcome in write.outcomes:
                    self.report.add(outcome)
                mark = write.mark
                write.done.set_result(mark is not None and mark.claim.delivery_id in marked)
            self.progress(self.report)

    def _write(self, session: Session, writes: list[_Write]) -> set[int]:
        now = self.options.clock()
        worker = self.options.worker_id
        outcomes = [outcome for write in writes for outcome in write.outcomes]
        ledger.record_outcomes(session, outcomes, worker_id=worker, now=now)
        planned = {w.mark.claim.delivery_id: w.mark.items for w in writes if w.mark is not None}
        return ledger.mark_sending(session, planned, worker_id=worker, now=now)

    async def _heartbeat(self) -> None:
        """Renew this worker's leases every third of a lease, while the run lasts."""
        worker = self.options.worker_id
        while True:
            await asyncio.sleep(self.options.lease_seconds / 3)
            until = self._lease_until()
            try:
                await self._in_db(partial(ledger.renew_leases, worker_id=worker, lease_until=until))
            except Exception as exc:  # the next beat tries again; the lease has slack
                log.warning("could not renew delivery leases: %s", exc)

    async def _release(self, delivery_ids: list[int]) -> None:
        if delivery_ids:
            worker = self.options.worker_id
            await self._in_db(lambda s: ledger.release(s, delivery_ids, worker_id=worker))

    async def _drain(self, producer: asyncio.Task[None]) -> None:
        """Give back every claimed-but-unsent row, whatever stopped the run."""
        leftovers = [p.claim.delivery_id for p in self._current]
        self._current.clear()
        if not self._end_seen:
            while (batch := await self._batches.get()) is not None:
                leftovers += [p.claim.delivery_id for p in batch]
        try:
            await producer
        finally:
            await self._release(leftovers)


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
