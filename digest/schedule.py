"""When things run: APScheduler (3.x) triggers for fetching, delivering and housekeeping.

The scheduler only decides *when*; the work is done by coroutines passed in (`Jobs`), so
this module holds no pipeline logic and can be tested with any callables.

- Each source is fetched on its own trigger: its `cron` (standard crontab, 0 = Sunday) or
  `every` (`2h`), else the default for its kind. arXiv announces new submissions Sunday to
  Thursday at 20:00 US Eastern, so arXiv sources default to 20:30 on those evenings in
  the source's `timezone` (America/New_York); Hugging Face Daily Papers grows through the
  day and is polled every two hours; other feeds every six hours.
- A delivery tick runs every minute (a few seconds past the minute, so a 07:00 send time
  is served at 07:00:05). Due-ness is computed from the database, so a tick after downtime
  catches up on the missed digests, and never sends one twice.
- Housekeeping runs once a day.

No job overlaps itself (`max_instances=1`) and missed runs collapse into one (`coalesce`).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from digest.config import SourceSettings, parse_duration

ARXIV_CRON = "30 20 * * 0-4"
DEFAULT_EVERY = {"hf-daily": "2h", "rss": "6h"}
DELIVERY_JOB = "deliver"
HOUSEKEEPING_JOB = "housekeeping"
FETCH_JOB_PREFIX = "fetch:"
DELIVERY_SECOND = 5
HOUSEKEEPING_AT = (3, 17)  # 03:17 UTC: away from the top of the hour and from arXiv's evening

_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_DOW_PART = re.compile(r"^(\*|\w+)(?:-(\w+))?(?:/(\d+))?$")


@dataclass(frozen=True, slots=True)
class Jobs:
    """The work the scheduler triggers; any of them may be left out.

    `fetch` receives the names of the sources to fetch now.
    """

    fetch: Callable[[Sequence[str]], Awaitable[object]] | None = None
    deliver: Callable[[], Awaitable[object]] | None = None
    housekeeping: Callable[[], Awaitable[object]] | None = None


def _weekday_number(text: str) -> int:
    lowered = text.lower()[:3]
    if lowered in _WEEKDAYS:
        return _WEEKDAYS.index(lowered)
    if text.isdigit() and 0 <= int(text) <= 7:
        return int(text) % 7
    raise ValueError(f"{text!r} is not a day of the week (0-7 or sun-sat)")


def crontab_weekdays(field: str) -> str:
    """A crontab day-of-week field (0 or 7 = Sunday) in APScheduler's spelling (names).

    APScheduler 3 counts 0 as Monday, so numbers are translated to names, and ranges are
    expanded because a range may not wrap past Sunday there.
    """
    if field == "*":
        return "*"
    days: set[int] = set()
    for part in field.split(","):
        match = _DOW_PART.match(part.strip())
        if not match:
            raise ValueError(f"{field!r} is not a crontab day-of-week field")
        first, last, step = match[1], match[2], int(match[3] or 1)
        if first == "*":
            start, end = 0, 6
        else:
            start = _weekday_number(first)
            end = _weekday_number(last) if last else start
            if end < start:  # "5-7" or "fri-sun": through Sunday
                end += 7
        days.update(day % 7 for day in range(start, end + 1, step))
    return ",".join(_WEEKDAYS[day] for day in sorted(days))


def crontab_trigger(expr: str, timezone: str) -> CronTrigger:
    """A trigger for a standard five-field crontab expression in `timezone`."""
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(
            f"{expr!r} is not a crontab expression (five fields, e.g. '30 20 * * 0-4')"
        )
    minute, hour, day, month, weekdays = fields
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=crontab_weekdays(weekdays),
        timezone=ZoneInfo(timezone),
    )


def source_trigger(source: SourceSettings) -> BaseTrigger:
    """When `source` is fetched: its `cron`, its `every`, or the default for its kind."""
    if source.cron:
        return crontab_trigger(source.cron, source.timezone)
    every = source.every or DEFAULT_EVERY.get(source.kind)
    if every:
        return IntervalTrigger(seconds=parse_duration(every), timezone=ZoneInfo(source.timezone))
    return crontab_trigger(ARXIV_CRON, source.timezone)


def describe_trigger(source: SourceSettings) -> str:
    """The schedule in words, for logs and `digest check`."""
    if source.cron:
        return f"cron '{source.cron}' ({source.timezone})"
    every = source.every or DEFAULT_EVERY.get(source.kind)
    if every:
        return f"every {every}"
    return f"cron '{ARXIV_CRON}' ({source.timezone}, arXiv's announcement evenings)"


def previous_fire_time(trigger: BaseTrigger, now: datetime) -> datetime | None:
    """The latest time at or before `now` that `trigger` fired (or would have)."""
    if isinstance(trigger, IntervalTrigger):
        interval: timedelta = trigger.interval
        return now - interval
    for window in (timedelta(hours=2), timedelta(days=2), timedelta(days=9), timedelta(days=400)):
        latest: datetime | None = None
        fire: datetime | None = trigger.get_next_fire_time(None, now - window)
        while fire is not None and fire <= now:
            latest = fire
            fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
        if latest is not None:
            return latest
    return None


def overdue_sources(
    sources: Sequence[SourceSettings],
    last_success: Mapping[str, datetime | None],
    now: datetime,
) -> list[str]:
    """Sources whose latest scheduled fetch was missed (or that were never fetched)."""
    overdue = []
    for source in sources:
        succeeded = last_success.get(source.name)
        due = previous_fire_time(source_trigger(source), now)
        if succeeded is None or (due is not None and succeeded < due):
            overdue.append(source.name)
    return overdue


def _job_options(grace_seconds: int) -> dict[str, Any]:
    return {"max_instances": 1, "coalesce": True, "misfire_grace_time": grace_seconds}


def new_scheduler() -> AsyncIOScheduler:
    """An empty scheduler (not started), in UTC, whose jobs never overlap themselves.

    Created before the jobs, so that a job can be given the scheduler it runs in (a failed
    fetch schedules its own retry); `add_jobs` then adds them.
    """
    return AsyncIOScheduler(timezone=UTC, job_defaults=_job_options(60))


def add_jobs(
    scheduler: AsyncIOScheduler,
    sources: Sequence[SourceSettings],
    jobs: Jobs,
    *,
    deliver_now: bool = True,
) -> None:
    """Add one job per source, the delivery tick and housekeeping to `scheduler`.

    With `deliver_now` false the delivery tick is added paused; start it with
    `start_delivery(scheduler)` once the catch-up fetch is done, so the first digests of
    the day are not composed from yesterday's papers.
    """
    fetch = jobs.fetch
    if fetch is not None:
        for source in sources:
            scheduler.add_job(
                fetch,
                source_trigger(source),
                args=[(source.name,)],
                id=FETCH_JOB_PREFIX + source.name,
                name=f"fetch {source.name}",
                **_job_options(3600),
            )
    if jobs.deliver is not None:
        scheduler.add_job(
            jobs.deliver,
            CronTrigger(second=DELIVERY_SECOND, timezone=UTC),
            id=DELIVERY_JOB,
            name="delivery tick",
            next_run_time=datetime.now(UTC) if deliver_now else None,
        )
    if jobs.housekeeping is not None:
        hour, minute = HOUSEKEEPING_AT
        scheduler.add_job(
            jobs.housekeeping,
            CronTrigger(hour=hour, minute=minute, timezone=UTC),
            id=HOUSEKEEPING_JOB,
            name="housekeeping",
            **_job_options(6 * 3600),
        )


def start_delivery(scheduler: AsyncIOScheduler) -> None:
    """Run the (paused) delivery tick now, then every minute."""
    if scheduler.get_job(DELIVERY_JOB) is not None:
        scheduler.modify_job(DELIVERY_JOB, next_run_time=datetime.now(UTC))


def next_fetches(scheduler: AsyncIOScheduler) -> list[tuple[str, datetime]]:
    """(source name, next fetch time) for every scheduled source, soonest first."""
    upcoming = [
        (job.id.removeprefix(FETCH_JOB_PREFIX), job.next_run_time)
        for job in scheduler.get_jobs()
        if job.id.startswith(FETCH_JOB_PREFIX) and job.next_run_time is not None
    ]
    return sorted(upcoming, key=lambda pair: pair[1])
