"""The service's scheduled work: fetching (with retries), the catch-up after downtime, the
delivery tick and housekeeping, each logged as one line and tracked so a stop can wait
for deliveries in flight (`RunningJobs.finish`).

Each kind of job is built with what it uses: `FetchJobs` with the HTTP client and the
scheduler it adds retries to, `DeliveryJobs` with the mail transport, `Housekeeping` with
the store alone. `digest.schedule`
decides when they run; the pipeline does the work.

    running = RunningJobs(stopping)
    scheduler = new_scheduler()
    fetching = FetchJobs(settings, engine, client, scheduler, running=running, model=model)
    delivering = DeliveryJobs(settings, engine, transport, running=running, ...)
    add_jobs(scheduler, settings.sources, Jobs(fetching.fetch_sources, delivering.delivery_tick))
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

from digest.config import Settings
from digest.pipeline.deliver import deliver_due
from digest.pipeline.fetch import fetch_all
from digest.rank.embed import SentenceModel
from digest.records import SourceReport
from digest.schedule import overdue_sources, start_delivery
from digest.send.loop import DeliveryReport
from digest.send.transport import Transport
from digest.service.heartbeats import Heartbeats
from digest.store import service_state
from digest.tokens import CONFIRM_MAX_AGE

log = logging.getLogger("digest.service")

STOP_GRACE = 20.0
CATCH_UP_LIMIT = 600.0
RETRY_FIRST = timedelta(minutes=10)
RETRY_MAX = timedelta(hours=2)


def _tick_counts(report: DeliveryReport) -> dict[str, int]:
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


class RunningJobs:
    """The jobs running now: none starts while stopping; a stop waits for them (`finish`)."""

    def __init__(self, stopping: asyncio.Event) -> None:
        self.stopping = stopping
        self.tasks: dict[asyncio.Task[Any], str] = {}

    async def run(self, kind: str, work: Callable[[], Awaitable[None]]) -> None:
        """Run one job: skip it while stopping, remember it for the stop, log failures."""
        if self.stopping.is_set():
            return
        task = asyncio.current_task()
        if task is None:  # not in a task: nothing to wait for or cancel on a stop
            raise RuntimeError(f"the {kind} job must run in an asyncio task")
        self.tasks[task] = kind
        try:
            await work()
        except asyncio.CancelledError:
            if not self.stopping.is_set():
                raise
        except Exception as exc:
            log.error("%s failed: %s: %s", kind, type(exc).__name__, exc, extra={"job": kind})
            log.debug("%s failure details", kind, exc_info=True)
        finally:
            self.tasks.pop(task, None)

    def cancel(self) -> bool:
        """Cancel every running job at once; False when none was running."""
        for task in self.tasks:
            task.cancel()
        return bool(self.tasks)

    async def finish(self) -> None:
        """Cancel fetches now; give deliveries and housekeeping STOP_GRACE to finish."""
        for task, kind in list(self.tasks.items()):
            if kind == "fetch":
                task.cancel()
        pending = set(self.tasks)
        if pending:
            _, late = await asyncio.wait(pending, timeout=STOP_GRACE)
            for task in late:
                log.warning(
                    "job did not finish in time; cancelled", extra={"job": self.tasks[task]}
                )
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=2.0)


class FetchJobs:
    """Fetching the sources on their schedule; a failed source is retried with back-off
    in `scheduler`, and the catch-up after downtime starts the delivery tick when done."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        client: httpx.AsyncClient,
        scheduler: AsyncIOScheduler,
        *,
        running: RunningJobs,
        model: SentenceModel,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.client = client
        self.scheduler = scheduler
        self.running = running
        self.model = model
        self._failures: dict[str, int] = {}

    async def fetch_sources(self, names: Sequence[str]) -> None:
        """Fetch these sources now; failed ones are retried with back-off."""

        async def work() -> None:
            reports = await fetch_all(
                self.settings, self.engine, self.client, only=list(names), model=self.model
            )
            for report in reports:
                self._after_fetch(report)

        await self.running.run("fetch", work)

    def _after_fetch(self, report: SourceReport) -> None:
        context = {"source": report.name}
        if report.error:
            failures = self._failures.get(report.name, 0) + 1
            self._failures[report.name] = failures
            log.warning("fetch failed: %s", report.error, extra=context)
            self._schedule_retry(report.name, failures)
            return
        self._failures.pop(report.name, None)
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
        if self.running.stopping.is_set():
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
            if not self.running.stopping.is_set():
                start_delivery(self.scheduler)


class DeliveryJobs:
    """The delivery tick: through `transport`, beating `heartbeats`."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        transport: Transport,
        *,
        running: RunningJobs,
        heartbeats: Heartbeats,
        worker_id: str,
        model: SentenceModel,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.transport = transport
        self.running = running
        self.heartbeats = heartbeats
        self.worker_id = worker_id
        self.model = model

    async def delivery_tick(self) -> None:
        """Deliver whatever is due now; stops early (messages in flight finish) on stop."""

        async def work() -> None:
            try:
                report = await deliver_due(
                    self.settings,
                    self.engine,
                    self.transport,
                    worker_id=self.worker_id,
                    stop=self.running.stopping,
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

        await self.running.run("deliver", work)


class Housekeeping:
    """The daily clean-up of the store."""

    def __init__(self, settings: Settings, engine: Engine, *, running: RunningJobs) -> None:
        self.settings = settings
        self.engine = engine
        self.running = running

    async def run(self) -> None:
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

        await self.running.run("housekeeping", work)
