"""Due computation: local send times on local dates, across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from hypothesis import given
from hypothesis import strategies as st

from digest.send.due import (
    due_date,
    due_groups,
    end_of_local_day,
    send_instant,
    upcoming_sends,
)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_due_once_the_local_send_time_has_passed() -> None:
    # 07:00 in Berlin (CEST, UTC+2) is 05:00 UTC.
    assert due_date(utc(2026, 7, 1, 4, 59), "Europe/Berlin", "07:00") is None
    assert due_date(utc(2026, 7, 1, 5, 0), "Europe/Berlin", "07:00") == date(2026, 7, 1)


def test_the_local_date_is_the_subscribers_not_utcs() -> None:
    # 23:30 UTC on 1 July is already 2 July 09:30 in Sydney.
    assert due_date(utc(2026, 7, 1, 23, 30), "Australia/Sydney", "07:00") == date(2026, 7, 2)
    # ... and still 1 July 16:30 in Los Angeles, before an 18:00 send time.
    assert due_date(utc(2026, 7, 1, 23, 30), "America/Los_Angeles", "18:00") is None


def test_send_all_ignores_the_hour_but_not_the_local_date() -> None:
    now = utc(2026, 7, 1, 1, 0)
    assert due_date(now, "Asia/Tokyo", "23:00", ignore_send_time=True) == date(2026, 7, 1)
    assert due_date(now, "America/New_York", "06:00", ignore_send_time=True) == date(2026, 6, 30)


def test_a_send_time_in_the_spring_forward_gap_is_due_when_the_clocks_jump() -> None:
    # New York, 8 March 2026: 02:00 EST jumps to 03:00 EDT (07:00 UTC); 02:30 never happens.
    assert send_instant(date(2026, 3, 8), time(2, 30), "America/New_York") == utc(2026, 3, 8, 7)
    assert due_date(utc(2026, 3, 8, 6, 59), "America/New_York", "02:30") is None
    assert due_date(utc(2026, 3, 8, 7, 0), "America/New_York", "02:30") == date(2026, 3, 8)


def test_a_send_time_in_the_repeated_hour_is_due_the_first_time() -> None:
    # New York, 1 November 2026: 01:00-02:00 happens twice, first EDT (UTC-4), then EST.
    first = utc(2026, 11, 1, 5, 30)  # 01:30 EDT
    assert send_instant(date(2026, 11, 1), time(1, 30), "America/New_York") == first
    assert due_date(utc(2026, 11, 1, 5, 29), "America/New_York", "01:30") is None
    assert due_date(first, "America/New_York", "01:30") == date(2026, 11, 1)


def test_a_day_is_23_or_25_hours_long_around_the_changes() -> None:
    spring = end_of_local_day(date(2026, 3, 29), "Europe/London") - send_instant(
        date(2026, 3, 29), time(0, 0), "Europe/London"
    )
    autumn = end_of_local_day(date(2026, 10, 25), "Europe/London") - send_instant(
        date(2026, 10, 25), time(0, 0), "Europe/London"
    )
    assert spring.total_seconds() == 23 * 3600
    assert autumn.total_seconds() == 25 * 3600


def test_lord_howe_half_hour_shift() -> None:
    # Lord Howe Island moves its clocks by 30 minutes: 02:00 → 02:30 on 4 October 2026.
    instant = send_instant(date(2026, 10, 4), time(2, 15), "Australia/Lord_Howe")
    assert instant == send_instant(date(2026, 10, 4), time(2, 30), "Australia/Lord_Howe")


def test_due_groups_split_by_local_date() -> None:
    now = utc(2026, 7, 1, 20, 0)  # 08:00 on 2 July in Auckland
    groups = [("UTC", "07:00"), ("UTC", "21:00"), ("Pacific/Auckland", "07:00")]
    assert due_groups(groups, now) == {
        date(2026, 7, 1): [("UTC", "07:00")],
        date(2026, 7, 2): [("Pacific/Auckland", "07:00")],
    }


def test_upcoming_sends_cover_the_coming_week_soonest_first() -> None:
    now = utc(2026, 7, 1, 20, 0)  # 08:00 on 2 July in Auckland
    upcoming = upcoming_sends([("UTC", "07:00"), ("Pacific/Auckland", "07:00")], now)
    # UTC: today's 07:00 has passed, so 2 … 8 July; Auckland: its today (2 July) has
    # passed too, so 3 … 9 July (19:00 UTC the day before).
    assert [(instant, day) for instant, day, _ in upcoming][:3] == [
        (utc(2026, 7, 2, 7), date(2026, 7, 2)),
        (utc(2026, 7, 2, 19), date(2026, 7, 3)),
        (utc(2026, 7, 3, 7), date(2026, 7, 3)),
    ]
    assert len(upcoming) == 14
    assert upcoming[-1] == (utc(2026, 7, 8, 19), date(2026, 7, 9), ("Pacific/Auckland", "07:00"))


zones = st.sampled_from(
    ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Santiago"]
)


@given(
    zone=zones,
    day=st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)),
    send_at=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
)
def test_the_send_instant_falls_on_its_local_day_at_or_after_the_send_time(
    zone: str, day: date, send_at: time
) -> None:
    from digest.send.due import zone as tz

    instant = send_instant(day, send_at, zone)
    local = instant.astimezone(tz(zone))
    assert local.date() == day
    assert local.time() >= send_at
    # never more than the largest DST shift (an hour) late
    assert (datetime.combine(day, local.time()) - datetime.combine(day, send_at)).seconds <= 3600
