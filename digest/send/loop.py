"""The delivery loop over the ledger: claim → prepare → send → record, batch after batch.

    producer:  claim a batch (one short transaction) → prepare it (rank + render, in a
               thread) → hand it over; the next batch is prepared while this one is sent
    consumer:  per chunk: mark `sending` (one UPDATE, items written) → send concurrently
               over the transport's connection pool → record outcomes (one transaction);
               the next chunk is marked while this one is sent, and this one recorded
               while the next is sent, so the ledger never holds up the SMTP work

Many workers share one ledger (PostgreSQL): claims skip rows another worker holds, so a
slow worker never blocks the others. A worker that runs out of rows checks for siblings on
its host that died and recovers what they held (in-flight rows → unknown, leases released)
before it stops, so the day is finished without waiting for their leases to expire.

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
import os
import secrets
import socket
from collections import Counter, deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from digest.errors import TransportError
from digest.records import OutgoingEmail
from digest.send.due import end_of_local_day
from digest.send.transport import MessageRejected, Transport
from digest.store import deliveries as ledger
from digest.store.deliveries import Claim, Item, Outcome
from digest.store.engine import transaction

log = logging.getLogger("digest.send")
T = TypeVar("T")

RETRY_DELAYS = (60, 300, 900, 1800, 3600)  # seconds after the 1st, 2nd … failed attempt
MAX_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class Prepared:
    """A claimed row made ready: the message to send, or None and why not."""

    claim: Claim
    email: OutgoingEmail | None
    items: tuple[Item, ...] = ()
    skip_reason: str | None = None
    status: str = "skipped"  # the ledger state when there is nothing to send


PrepareBatch = Callable[[Sequence[Claim]], list[Prepared]]


@dataclass
class DeliveryReport:
    """What one run did. `total` is what was claimable when it started (for progress)."""

    sent: int = 0
    skipped_empty: int = 0
    retry: int = 0
    failed: int = 0
    unknown: int = 0
    suppressed: int = 0
    queued: int = 0
    recovered: int = 0
    total: int = 0
    dry_run: bool = False
    paused: str | None = None
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def done(self) -> int:
        return self.sent + self.skipped_empty + self.retry + self.failed + self.unknown

    @property
    def ok(self) -> bool:
        return not (self.failed or self.unknown or self.retry or self.paused)

    def add(self, outcome: Outcome) -> None:
        if outcome.status == "skipped":
            self.skipped_empty += 1
        else:
            setattr(self, outcome.status, getattr(self, outcome.status) + 1)
        if outcome.suppress:
            self.suppressed += 1
        if outcome.error and outcome.status != "skipped":
            self.errors[outcome.error[:200]] += 1


@dataclass(frozen=True)
class LoopOptions:
    worker_id: str
    batch_size: int = 250
    chunk_size: int = 64
    lease_seconds: int = 900
    failure_limit: int = 10
    prepare_parallel: int = 1  # batches prepared at once (helper processes, see preparers)
    subscriber_id: int | None = None
    digest_date: date | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


def new_worker_id() -> str:
    """`host:pid:nonce`: lets a restarted worker on the same host see its predecessor died."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def is_dead(owner: str, *, me: str) -> bool:
    """True if `owner` is a worker on this host whose process is gone (or an earlier me)."""
    host, _, rest = owner.partition(":")
    pid_text, _, _nonce = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit() or owner == me:
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return True  # same pid, other nonce: a predecessor whose pid was reused
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def recover(engine: Engine, *, worker_id: str, now: datetime) -> int:
    """Start-up recovery (see store.deliveries.recover_interrupted); returns rows made unknown."""
    with transaction(engine) as session:
        dead = [o for o in ledger.lease_owners(session) if is_dead(o, me=worker_id)]
        return ledger.recover_interrupted(session, now=now, dead_owners=dead)


def retry_outcome(claim: Claim, error: str, now: datetime) -> Outcome:
    """`retry` with back-off, or `failed` when out of attempts or past the local day."""
    attempt = claim.attempts + 1
    base = Outcome(claim.delivery_id, claim.subscriber.id, claim.digest_date, "failed")
    if attempt >= MAX_ATTEMPTS:
        return _with(base, error=f"gave up after {attempt} attempts: {error}")
    delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS)) - 1]
    when = now + timedelta(seconds=delay)
    if when >= end_of_local_day(claim.digest_date, claim.subscriber.timezone):
        return _with(base, error=f"gave up at the end of the local day: {error}")
    return _with(base, status="retry", error=error, next_attempt_at=when)


def _with(outcome: Outcome, **changes: Any) -> Outcome:
    return replace(outcome, **changes)


def outcome_of(prepared: Prepared, error: BaseException | None, now: datetime) -> Outcome:
    """Turn one send attempt's result into the ledger outcome (see the module docstring)."""
    claim = prepared.claim
    base = Outcome(
        claim.delivery_id,
        claim.subscriber.id,
        claim.digest_date,
        "sent",
        email=claim.subscriber.email,
        message_id=prepared.email.message_id if prepared.email else None,
        items=prepared.items,
    )
    if error is None:
        return base
    text = str(error) or type(error).__name__
    if not isinstance(error, TransportError):
        return _with(base, status="failed", error=f"unexpected error: {text}", items=())
    if error.in_data:
        return _with(base, status="unknown", error=text)
    if error.permanent:
        return _with(base, status="failed", error=text, items=(), suppress=True)
    if isinstance(error, MessageRejected):
        return _with(base, status="failed", error=text, items=())
    return _with(retry_outcome(claim, text, now), email=claim.subscriber.email)


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
        self._consecutive_failures = 0
        self._halt = asyncio.Event()
        self._end_seen = False

    async def run(self) -> DeliveryReport:
        batches: asyncio.Queue[list[Prepared] | None] = asyncio.Queue(maxsize=2)
        producer = asyncio.create_task(self._produce(batches))
        try:
            await self._consume(batches)
        finally:
            self._halt.set()
            await self._drain(batches, producer)
            self._db.shutdown(wait=True)
        return self.report

    async def _in_db(self, work: Callable[[Session], T]) -> T:
        def unit() -> T:
            with transaction(self.engine) as session:
                return work(session)

        return await asyncio.get_running_loop().run_in_executor(self._db, unit)

    def _stopping(self) -> bool:
        return self.stop.is_set() or self._halt.is_set()

    async def _produce(self, batches: asyncio.Queue[list[Prepared] | None]) -> None:
        """Claim and prepare batches ahead of the sender, up to `prepare_parallel` at once.
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
                    await self._hand_over(batches, *preparing.popleft())
            while preparing:
                await self._hand_over(batches, *preparing.popleft())
        finally:
            while preparing:
                claims, future = preparing.popleft()
                await asyncio.wait([future])
                if future.cancelled() or future.exception() is not None:
                    await self._release([c.delivery_id for c in claims])
                else:
                    await batches.put(future.result())
            await batches.put(None)

    async def _hand_over(
        self,
        batches: asyncio.Queue[list[Prepared] | None],
        claims: list[Claim],
        future: asyncio.Future[list[Prepared]],
    ) -> None:
        try:
            batch = await future
        except BaseException:
            await self._release([c.delivery_id for c in claims])
            raise
        await batches.put(batch)

    async def _prepare(self, claims: list[Claim]) -> list[Prepared]:
        fresh, stale = self._split_stale(claims)
        prepared = await asyncio.to_thread(self.prepare, fresh) if fresh else []
        return stale + prepared

    def _take_over_dead(self, session: Session) -> bool:
        """Out of work: a sibling on this host that died leaves leased rows nobody may claim
        until they expire. Recover them now (as at start-up); True if there was any."""
        me = self.options.worker_id
        dead = [o for o in ledger.lease_owners(session) if is_dead(o, me=me)]
        if not dead:
            return False
        now = self.options.clock()
        self.report.recovered += ledger.recover_interrupted(session, now=now, dead_owners=dead)
        return True

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

    async def _consume(self, batches: asyncio.Queue[list[Prepared] | None]) -> None:
        """Send chunk after chunk. The next chunk is marked `sending` while this one is sent,
        and its outcomes are recorded while the next is sent, so the ledger's work overlaps
        the SMTP work; a stop unmarks the chunk marked ahead (it was never sent)."""
        pending: asyncio.Future[None] | None = None
        ahead: tuple[list[Prepared], asyncio.Future[set[int]]] | None = None
        try:
            while (batch := await batches.get()) is not None:
                skipped = [self._skipped(p) for p in batch if p.email is None]
                sendable = [p for p in batch if p.email is not None]
                pending = await self._record(pending, skipped)
                size = self.options.chunk_size
                for start in range(0, len(sendable), size):
                    if self._stopping():
                        await self._release([p.claim.delivery_id for p in sendable[start:]])
                        break
                    chunk = sendable[start : start + size]
                    # `ahead` always names the chunk marked but not yet sent: if sending
                    # the current one fails, only that one is unmarked below.
                    current, ahead = ahead, (chunk, self._mark(chunk))
                    if current is not None:
                        pending = await self._send_marked(pending, *current)
                if self._stopping():
                    break
            else:
                self._end_seen = True
            if ahead is not None and not self._stopping():
                last, ahead = ahead, None
                pending = await self._send_marked(pending, *last)
        finally:
            if ahead is not None:
                await self._unmark(*ahead)
            if pending is not None:
                await pending

    def _mark(self, chunk: list[Prepared]) -> asyncio.Future[set[int]]:
        """Start turning `chunk` `sending` (with its items); the ids actually marked."""
        planned = {p.claim.delivery_id: p.items for p in chunk}
        now = self.options.clock()
        lease_until = now + timedelta(seconds=self.options.lease_seconds)
        worker = self.options.worker_id
        return asyncio.ensure_future(
            self._in_db(
                lambda s: ledger.mark_sending(
                    s, planned, worker_id=worker, now=now, lease_until=lease_until
                )
            )
        )

    async def _unmark(self, chunk: list[Prepared], marking: asyncio.Future[set[int]]) -> None:
        """Put a chunk that was marked but never sent back in the queue."""
        await asyncio.wait([marking])
        ids = [p.claim.delivery_id for p in chunk]
        worker = self.options.worker_id
        await self._in_db(lambda s: ledger.unmark_sending(s, ids, worker_id=worker))

    async def _release(self, delivery_ids: list[int]) -> None:
        if delivery_ids:
            worker = self.options.worker_id
            await self._in_db(lambda s: ledger.release(s, delivery_ids, worker_id=worker))

    def _skipped(self, prepared: Prepared) -> Outcome:
        claim = prepared.claim
        return Outcome(
            claim.delivery_id,
            claim.subscriber.id,
            claim.digest_date,
            prepared.status,
            error=prepared.skip_reason,
        )

    async def _record(
        self, pending: asyncio.Future[None] | None, outcomes: list[Outcome]
    ) -> asyncio.Future[None] | None:
        if pending is not None:
            await pending
        if not outcomes:
            return None
        now = self.options.clock()
        for outcome in outcomes:
            self.report.add(outcome)
        future = asyncio.ensure_future(
            self._in_db(lambda s: ledger.record_outcomes(s, outcomes, now=now))
        )
        self.progress(self.report)
        return future

    async def _send_marked(
        self,
        pending: asyncio.Future[None] | None,
        chunk: list[Prepared],
        marking: asyncio.Future[set[int]],
    ) -> asyncio.Future[None] | None:
        """Send the rows of `chunk` that were marked, concurrently; start recording."""
        marked = await marking
        chunk = [p for p in chunk if p.claim.delivery_id in marked]
        results = await asyncio.gather(*(self._send_one(p) for p in chunk), return_exceptions=True)
        now = self.options.clock()
        outcomes = []
        for prepared, result in zip(chunk, results, strict=True):
            error = result if isinstance(result, BaseException) else None
            outcomes.append(outcome_of(prepared, error, now))
            self._count_failure(error)
        return await self._record(pending, outcomes)

    async def _send_one(self, prepared: Prepared) -> None:
        assert prepared.email is not None
        await self.transport.send(prepared.email)

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

    async def _drain(
        self, batches: asyncio.Queue[list[Prepared] | None], producer: asyncio.Task[None]
    ) -> None:
        """Give back every claimed-but-unsent row, whatever stopped the run."""
        leftovers: list[int] = []
        if not self._end_seen:
            while (batch := await batches.get()) is not None:
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
