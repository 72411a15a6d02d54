"""When a digest is due: local send times on local dates, daylight saving included.

Each subscriber has an IANA time zone and a local send time. The digest for local date D
is due once the send time has passed on D, and only D (today, where they live) is ever
due: a digest missed yesterday is not sent late, hours before today's.

Daylight saving:
- a send time that does not exist that day (clocks jump from 02:00 to 03:00 and the send
  time is 02:30) falls due when the jump happens, i.e. at the first moment after the gap;
- a send time that happens twice (clocks fall back from 02:00 to 01:00 and the send time is
  01:30) falls due the first time; the ledger makes sure it is not sent again the second.

Subscribers share a handful of (time zone, send time) pairs, so the work here is done once
per pair, not once per subscriber.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

SendGroup = tuple[str, str]  # (IANA time zone, "HH:MM")


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_date(now: datetime, timezone: str) -> date:
    """The calendar date at `now` in `timezone`."""
    return now.astimezone(zone(timezone)).date()


def send_instant(day: date, send_at: time, timezone: str) -> datetime:
    """The UTC instant of local `send_at` on local `day` (see the module docstring)."""
    tz = zone(timezone)
    wall = datetime.combine(day, send_at)
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        return first  # it exists (and if it happens twice, this is the first time)
    # A gap: the wall time never shows. Find the jump between the two readings of it.
    second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    low, high = min(first, second), max(first, second)
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).replace(tzinfo=None) < wall:
            low = middle
        else:
            high = middle
    return high.replace(microsecond=0)


def due_date(
    now: datetime,
    timezone: str,
    send_at: str,
    *,
    ignore_send_time: bool = False,
    on: date | None = None,
) -> date | None:
    """The local date whose digest is due at `now` for this pair, or None if none is yet.

    `on` asks about a given local date instead of today; `ignore_send_time` makes it due
    whatever the hour (`digest send --all`).
    """
    day = on if on is not None else local_date(now, timezone)
    if ignore_send_time:
        return day
    return day if now >= send_instant(day, time.fromisoformat(send_at), timezone) else None


def due_groups(
    groups: Iterable[SendGroup],
    now: datetime,
    *,
    ignore_send_time: bool = False,
    on: date | None = None,
) -> dict[date, list[SendGroup]]:
    """The send groups that are due at `now`, by the local date they are due for."""
    result: dict[date, list[SendGroup]] = defaultdict(list)
    for timezone, send_at in groups:
        day = due_date(now, timezone, send_at, ignore_send_time=ignore_send_time, on=on)
        if day is not None:
            result[day].append((timezone, send_at))
    return dict(result)


def upcoming_sends(
    groups: Iterable[SendGroup], now: datetime, *, days: int = 8
) -> list[tuple[datetime, date, SendGroup]]:
    """Each group's send instants after `now` on its next `days` local dates, today
    included (eight reach every weekday again, whatever the hour), soonest first, each with
    the local date whose digest falls due then."""
    upcoming = []
    for timezone, send_at in groups:
        today, at = local_date(now, timezone), time.fromisoformat(send_at)
        for day in (today + timedelta(days=n) for n in range(days)):
            instant = send_instant(day, at, timezone)
            if instant > now:
                upcoming.append((instant, day, (timezone, send_at)))
    return sorted(upcoming)


def end_of_local_day(day: date, timezone: str) -> datetime:
    """The UTC instant local `day` ends: retries of its digest stop there."""
    return send_instant(day + timedelta(days=1), time(0, 0), timezone)
