"""When the scheduler fetches, delivers and tidies up, and what it catches up on after downtime."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from digest.config import SourceSettings
from digest.schedule import (
    DELIVERY_JOB,
    HOUSEKEEPING_JOB,
    Jobs,
    add_jobs,
    crontab_trigger,
    crontab_weekdays,
    new_scheduler,
    next_fetches,
    overdue_sources,
    previous_fire_time,
    source_trigger,
    start_delivery,
)

NEW_YORK = ZoneInfo("America/New_York")


def arxiv(**extra: str) -> SourceSettings:
    return SourceSettings(
        name="arxiv", kind="arxiv-rss", url="https://rss.arxiv.org/rss/cs", **extra
    )


def hf(**extra: str) -> SourceSettings:
    return SourceSettings(name="hf", kind="hf-daily", url="https://hf.co/api/daily_papers", **extra)


def fires(source: SourceSettings, start: datetime, count: int) -> list[datetime]:
    trigger = source_trigger(source)
    times: list[datetime] = []
    fire = trigger.get_next_fire_time(None, start)
    while len(times) < count:
        times.append(fire)
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return times


def test_arxiv_is_fetched_on_announcement_evenings_sunday_to_thursday() -> None:
    friday = datetime(2025, 6, 6, 12, 0, tzinfo=NEW_YORK)
    week = fires(arxiv(), friday, 5)
    assert [f.strftime("%a %H:%M") for f in week] == [
        "Sun 20:30",
        "Mon 20:30",
        "Tue 20:30",
        "Wed 20:30",
        "Thu 20:30",
    ]
    assert all(f.utcoffset() == timedelta(hours=-4) for f in week)  # US Eastern summer time


def test_arxiv_evening_follows_new_york_across_daylight_saving() -> None:
    winter = fires(arxiv(), datetime(2025, 1, 6, tzinfo=UTC), 1)[0]
    assert winter.astimezone(UTC).strftime("%H:%M") == "01:30"
    summer = fires(arxiv(), datetime(2025, 7, 7, tzinfo=UTC), 1)[0]
    assert summer.astimezone(UTC).strftime("%H:%M") == "00:30"


def test_crontab_sunday_is_zero_or_seven_as_in_cron() -> None:
    assert crontab_weekdays("0-4") == "sun,mon,tue,wed,thu"
    assert crontab_weekdays("7") == "sun"
    assert crontab_weekdays("5-7") == "sun,fri,sat"
    assert crontab_weekdays("mon-fri") == "mon,tue,wed,thu,fri"
    assert crontab_weekdays("*/2") == "sun,tue,thu,sat"
    assert crontab_weekdays("1,3") == "mon,wed"
    assert crontab_weekdays("*") == "*"


@pytest.mark.parametrize("bad", ["8", "funday", "1-2-3", ""])
def test_bad_weekday_fields_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="day"):
        crontab_weekdays(bad)


def test_a_crontab_needs_five_fields() -> None:
    with pytest.raises(ValueError, match="five fields"):
        crontab_trigger("30 20 * *", "UTC")


def test_configured_cron_and_every_override_the_default() -> None:
    custom = arxiv(cron="0 6 * * 1", timezone="Europe/Berlin")
    first = fires(custom, datetime(2025, 6, 4, tzinfo=UTC), 2)
    assert [f.strftime("%a %H:%M %Z") for f in first] == ["Mon 06:00 CEST", "Mon 06:00 CEST"]
    start = datetime(2025, 6, 4, tzinfo=UTC)
    hourly = fires(hf(every="30m"), start, 3)
    assert hourly[1] - hourly[0] == timedelta(minutes=30)


def test_hugging_face_is_polled_through_the_day_by_default() -> None:
    day = fires(hf(), datetime(2025, 6, 4, tzinfo=UTC), 12)
    assert {b - a for a, b in itertools.pairwise(day)} == {timedelta(hours=2)}


def test_previous_fire_time_of_arxiv_on_a_monday_morning_is_sunday_evening() -> None:
    monday = datetime(2025, 6, 9, 7, 0, tzinfo=NEW_YORK)
    previous = previous_fire_time(source_trigger(arxiv()), monday)
    assert previous == datetime(2025, 6, 8, 20, 30, tzinfo=NEW_YORK)
    saturday = datetime(2025, 6, 7, 9, 0, tzinfo=NEW_YORK)
    assert previous_fire_time(source_trigger(arxiv()), saturday) == datetime(
        2025, 6, 5, 20, 30, tzinfo=NEW_YORK
    )


def test_after_downtime_only_missed_fetches_are_caught_up() -> None:
    now = datetime(2025, 6, 10, 7, 0, tzinfo=NEW_YORK)  # Tuesday morning
    monday_evening = datetime(2025, 6, 9, 20, 45, tzinfo=NEW_YORK)
    sunday_evening = datetime(2025, 6, 8, 20, 45, tzinfo=NEW_YORK)
    sources = [arxiv(), hf()]
    assert overdue_sources(sources, {"arxiv": monday_evening, "hf": now}, now) == []
    assert overdue_sources(sources, {"arxiv": sunday_evening, "hf": now}, now) == ["arxiv"]
    three_hours_ago = now - timedelta(hours=3)
    assert overdue_sources(sources, {"arxiv": monday_evening, "hf": three_hours_ago}, now) == ["hf"]
    assert overdue_sources(sources, {}, now) == ["arxiv", "hf"]


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[str, ...]]] = []
        self.ran = asyncio.Event()

    async def fetch(self, names: Sequence[str]) -> None:
        self.calls.append(("fetch", tuple(names)))

    async def deliver(self) -> None:
        self.calls.append(("deliver", ()))
        self.ran.set()

    async def housekeeping(self) -> None:
        self.calls.append(("housekeeping", ()))


def test_jobs_never_overlap_themselves_and_missed_runs_coalesce() -> None:
    rec = Recorder()

    async def scenario() -> None:
        scheduler = new_scheduler()
        work = Jobs(rec.fetch, rec.deliver, rec.housekeeping)
        add_jobs(scheduler, [arxiv(), hf()], work, deliver_now=False)
        scheduler.start(paused=True)
        try:
            jobs = {job.id: job for job in scheduler.get_jobs()}
            assert set(jobs) == {"fetch:arxiv", "fetch:hf", DELIVERY_JOB, HOUSEKEEPING_JOB}
            assert all(job.max_instances == 1 and job.coalesce for job in jobs.values())
            assert jobs["fetch:arxiv"].args == (("arxiv",),)
        finally:
            scheduler.shutdown(wait=False)

    asyncio.run(scenario())


def test_a_slow_delivery_tick_is_not_started_twice() -> None:
    running = 0
    most = 0
    started = asyncio.Event()
    runs = 0

    async def slow_deliver() -> None:
        nonlocal running, most, runs
        running += 1
        runs += 1
        most = max(most, running)
        started.set()
        await asyncio.sleep(0.5)
        running -= 1

    async def scenario() -> None:
        scheduler = new_scheduler()
        add_jobs(scheduler, [], Jobs(deliver=slow_deliver), deliver_now=True)
        scheduler.start()
        try:
            await asyncio.wait_for(started.wait(), 10)
            start_delivery(scheduler)  # due again while the first run is still going
            await asyncio.sleep(0.3)
        finally:
            scheduler.shutdown(wait=False)
        await asyncio.sleep(0.5)

    asyncio.run(scenario())
    assert (most, runs) == (1, 1)


def test_the_delivery_tick_waits_for_the_catch_up_then_runs_every_minute() -> None:
    rec = Recorder()

    async def scenario() -> None:
        scheduler = new_scheduler()
        add_jobs(scheduler, [arxiv()], Jobs(rec.fetch, rec.deliver), deliver_now=False)
        scheduler.start()
        try:
            assert scheduler.get_job(DELIVERY_JOB).next_run_time is None  # paused
            [(name, when)] = next_fetches(scheduler)
            assert name == "arxiv"
            assert when.astimezone(NEW_YORK).strftime("%H:%M") == "20:30"
            start_delivery(scheduler)
            await asyncio.wait_for(rec.ran.wait(), 10)
            following = scheduler.get_job(DELIVERY_JOB).next_run_time
            assert following.second == 5
            assert following - datetime.now(UTC) <= timedelta(seconds=61)
        finally:
            scheduler.shutdown(wait=False)

    asyncio.run(scenario())
    assert rec.calls == [("deliver", ())]


def test_jobs_left_out_are_not_scheduled() -> None:
    rec = Recorder()
    scheduler = new_scheduler()
    add_jobs(scheduler, [arxiv()], Jobs(deliver=rec.deliver))
    assert [job.id for job in scheduler.get_jobs()] == [DELIVERY_JOB]
