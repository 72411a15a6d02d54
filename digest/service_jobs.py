"""The service's scheduled work: fetching (with retries), the catch-up after downtime, the
delivery tick and housekeeping, each logged as one line and tracked so a stop can wait
for deliveries in flight (`finish`).

`digest.schedule` decides when these run; the pipeline does the work.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import Engine

from digest import pipeline
from digest.config import Settings
from digest.rank.embed import SentenceModel
from digest.schedule import overdue_sources, start_delivery
from digest.send.transport import Transport
from digest.store import service_state
from digest.tokens import CONFIRM_MAX_AGE
from digest.web.health import Heartbeats

log = logging.getLogger("digest.service")

STOP_GRACE = 20.0
CATCH_UP_LIMIT = 600.0
RETRY_FIRST = timedelta(minutes=10)
RETRY_MAX = timedelta(hours=2)


def _tick_counts(report: Any) -> dict[str, int]:
    """The non-zero counts of a delivery report, for one log line."""
    names = (
        "sent",
        "published",
        "skipped_empty",
        "retry",
        "failed",
        "unknown",
        "suppressed",
        "recovered",
    )
    counts = {name: int(getattr(report, name, 0) or 0) for name in names}
    return {name: count for name, count in counts.items() if count}


class ScheduledWork:
    """The jobs the scheduler runs; `transport`, `client` and `scheduler` are set by the
    service once it has created them."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        heartbeats: Heartbeats,
        stopping: asyncio.Event,
        worker_id: str,
        model: SentenceModel,
    ) -> None:
        self.settings = settings
        self.model = model
        self.engine = engine
        self.heartbeats = heartbeats
        self.stopping = stopping
        self.worker_id = worker_id
        self.transport: Transport | None = None
        self.client: httpx.AsyncClient | None = None
        self.scheduler: AsyncIOScheduler | None = None
        self.running: dict[asyncio.Task[Any], str] = {}
        self._fetch_failures: dict[str, int] = {}

    async def _tracked(self, kind: str, work: Callable[[], Awaitable[None]]) -> None:
        """Run one job: skip it while stopping, remember it for the stop, log failures."""
        if self.stopping.is_set():
            return
        task = asyncio.current_task()
        assert task is not None
        self.running[task] = kind
        try:
            await work()
        except asyncio.CancelledError:
            if not self.stopping.is_set():
                raise
        except Exception as exc:
            log.error("%s failed: %s: %s", kind, type(exc).__name__, exc, extra={"job": kind})
            log.debug("%s failure details", kind, exc_info=True)
        finally:
            self.running.pop(task, None)

    async def fetch_sources(self, names: Sequence[str]) -> None:
        """Fetch these sources now; failed ones are retried with back-off."""

        async def work() -> None:
            assert self.client is not None
            reports = await pipeline.fetch_all(
                self.settings, self.engine, self.client, only=list(names), model=self.model
            )
            for report in reports:
                self._after_fetch(report)

        await self._tracked("fetch", work)

    def _after_fetch(self, report: Any) -> None:
        context = {"source": report.name}
        if report.error:
            failures = self._fetch_failures.get(report.name, 0) + 1
            self._fetch_failures[report.name] = failures
            log.warning("fetch failed: %s", report.error, extra=context)
            self._schedule_retry(report.name, failures)
            return
        self._fetch_failures.pop(report.name, None)
        log.info(
            "fetched",
            extra={
                **context,
                "new": report.new,
                "updated": report.updated,
                "unchanged": report.unchanged,
            },
        )

    def _schedule_retry(self, name: str, failures: int) -> None:
        """Retry a failed fetch before its next regular run (10 min, doubling, ≤ 2 h)."""
        if self.scheduler is None or self.stopping.is_set():
            return
        delay = min(RETRY_FIRST * 2 ** (failures - 1), RETRY_MAX)
        when = datetime.now(UTC) + delay
        regular = self.scheduler.get_job("fetch:" + name)
        if regular is not None and regular.next_run_time and regular.next_run_time <= when:
            return
        self.scheduler.add_job(
            self.fetch_sources,
            DateTrigger(run_date=when),
            args=[(name,)],
            id="retry:" + name,
            name=f"retry fetch {name}",
            replace_existing=True,
        )
        log.info(
            "fetch retry scheduled",
            extra={"source": name, "at": when.isoformat(timespec="seconds")},
        )

    async def catch_up(self) -> None:
        """Fetch what was missed while the service was down, then start delivering."""
        try:
            states = await asyncio.to_thread(service_state.fetch_states, self.engine)
            last = {name: state.last_success_at for name, state in states.items()}
            overdue = overdue_sources(self.settings.sources, last, datetime.now(UTC))
            if overdue:
                log.info("catching up on missed fetches", extra={"sources": ",".join(overdue)})
                await asyncio.wait_for(self.fetch_sources(overdue), CATCH_UP_LIMIT)
        except TimeoutError:
            log.warning("catch-up fetch still running; delivering anyway")
        finally:
            if self.scheduler is not None and not self.stopping.is_set():
                start_delivery(self.scheduler)

    async def delivery_tick(self) -> None:
        """Deliver whatever is due now; stops early (messages in flight finish) on stop."""

        async def work() -> None:
            assert self.transport is not None
            try:
                report = await pipeline.deliver_due(
                    self.settings,
                    self.engine,
                    self.transport,
                    worker_id=self.worker_id,
                    stop=self.stopping,
                    model=self.model,
                )
            except Exception as exc:
                self.heartbeats.ticked(datetime.now(UTC), f"{type(exc).__name__}: {exc}")
                raise
            self.heartbeats.ticked(datetime.now(UTC))
            if counts := _tick_counts(report):
                log.info("delivery tick", extra=counts)
            if report.paused:
                log.warning("delivery paused: %s", report.paused)

        await self._tracked("deliver", work)

    async def housekeeping(self) -> None:
        """Forget expired sign-ups and the fetch state of removed sources."""

        async def work() -> None:
            cutoff = datetime.now(UTC) - timedelta(seconds=CONFIRM_MAX_AGE) - timedelta(days=1)
            expired = await asyncio.to_thread(
                service_state.expire_unconfirmed, self.engine, requested_before=cutoff
            )
            keep = [source.name for source in self.settings.sources]
            pruned = await asyncio.to_thread(
                service_state.prune_fetch_states, self.engine, keep=keep
            )
            log.info(
                "housekeeping done", extra={"expired_signups": expired, "pruned_sources": pruned}
            )

        await self._tracked("housekeeping", work)

    async def finish(self) -> None:
        """Cancel fetches now; give deliveries and housekeeping STOP_GRACE to finish."""
        for task, kind in list(self.running.items()):
            if kind == "fetch":
                task.cancel()
        pending = set(self.running)
        if pending:
            _, late = await asyncio.wait(pending, timeout=STOP_GRACE)
            for task in late:
                log.warning(
                    "job did not finish in time; cancelled", extra={"job": self.running[task]}
                )
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=2.0)
