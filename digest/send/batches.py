"""The delivery loop's supply: claimed rows, prepared in batches.

`BatchFeed.run` claims a batch (one short transaction; the rows are leased to this worker),
has it prepared (ranked and rendered, in a thread or in helper processes) and puts it in
`queue`, with up to `prepare_parallel` batches being prepared at once; `None` ends the
queue. When nothing is left to claim it first recovers what dead siblings on this host held
(`digest.send.leases`). `drain` gives back every row that was claimed but never taken on,
whatever stopped the run.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from digest.records import Claim, Prepared
from digest.send.due import end_of_local_day
from digest.send.leases import is_dead
from digest.send.outcomes import DeliveryReport
from digest.store import deliveries as ledger
from digest.store.delivery_outcomes import recover_interrupted

if TYPE_CHECKING:
    from digest.send.loop import LoopOptions

PrepareBatch = Callable[[Sequence[Claim]], list[Prepared]]
InDb = Callable[[Callable[[Session], Any]], Awaitable[Any]]


class BatchFeed:
    """Claims and prepares batches ahead of the senders (see the module docstring)."""

    def __init__(
        self,
        options: LoopOptions,
        prepare: PrepareBatch,
        in_db: InDb,
        report: DeliveryReport,
        *,
        stopping: Callable[[], bool],
        arrived: Callable[[], None],
    ) -> None:
        self.options = options
        self.prepare = prepare
        self.in_db = in_db
        self.report = report
        self.stopping = stopping
        self.arrived = arrived
        self.queue: asyncio.Queue[list[Prepared] | None] = asyncio.Queue(maxsize=2)

    async def run(self) -> None:
        """Claim and prepare batches ahead of the senders, up to `prepare_parallel` at once.
        Every claimed batch is handed over prepared, or released if preparing it failed."""
        preparing: deque[tuple[list[Claim], asyncio.Future[list[Prepared]]]] = deque()
        try:
            while not self.stopping():
                claims = await self.in_db(self._claim)
                if not claims:
                    if await self.in_db(self._take_over_dead):
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
                    await self.release([c.delivery_id for c in claims])
                else:
                    await self._hand(future.result())
            await self._hand(None)

    async def _hand_over(self, claims: list[Claim], future: asyncio.Future[list[Prepared]]) -> None:
        try:
            batch = await future
        except BaseException:
            await self.release([c.delivery_id for c in claims])
            raise
        await self._hand(batch)

    async def _hand(self, batch: list[Prepared] | None) -> None:
        await self.queue.put(batch)
        self.arrived()

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
        recovered = recover_interrupted(session, now=now, dead_owners=dead)
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

    async def release(self, delivery_ids: list[int]) -> None:
        """Give back leases on rows this worker claimed but did not attempt."""
        if delivery_ids:
            worker = self.options.worker_id
            await self.in_db(lambda s: ledger.release(s, delivery_ids, worker_id=worker))

    async def drain(self, task: asyncio.Task[None], unsent: list[Prepared], *, ended: bool) -> None:
        """Give back `unsent` and every batch still queued, once `task` (this feed's `run`)
        is over. `ended`: the queue's end was already taken."""
        leftovers = [p.claim.delivery_id for p in unsent]
        if not ended:
            while (batch := await self.queue.get()) is not None:
                leftovers += [p.claim.delivery_id for p in batch]
        try:
            await task
        finally:
            await self.release(leftovers)
