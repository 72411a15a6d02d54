"""`digest stats`: the next digest due honours weekly subscribers' weekdays and the days
already served, as `digest send` queues them."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import CliResult

# No daylight saving: a local wall time plus whole days is that many days later.
ZONE = ZoneInfo("Asia/Kolkata")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@pytest.fixture
def cfg(config_file: Path, run_cli: Callable[..., CliResult]) -> tuple[str, str]:
    args = ("--config", str(config_file))
    assert run_cli(*args, "db", "upgrade").code == 0
    return args


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _add(
    run_cli: Callable[..., CliResult],
    cfg: tuple[str, str],
    email: str,
    at: datetime,
    weekly_on: date | None = None,
) -> None:
    """Add an active subscriber sending at `at`'s local time, daily or weekly on the
    weekday of `weekly_on`."""
    args = ["subscribers", "add", email, "--topic", "agents", "--confirmed"]
    args += ["--timezone", "Asia/Kolkata", "--send-at", at.strftime("%H:%M")]
    if weekly_on is not None:
        args += ["--frequency", "weekly", "--weekday", WEEKDAYS[weekly_on.weekday()]]
    result = run_cli(*cfg, *args)
    assert result.code == 0, result


def _next_due(run_cli: Callable[..., CliResult], cfg: tuple[str, str]) -> str:
    result = run_cli(*cfg, "stats")
    assert result.code == 0, result
    found = re.search(r"next digest due\W+(\S+ \S+ UTC|never)", result.out)
    assert found, result.out
    return found[1]


def _shown(local: datetime) -> str:
    return local.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def test_weekly_subscribers_are_due_on_their_weekday_only(
    run_cli: Callable[..., CliResult], cfg: tuple[str, str]
) -> None:
    now = datetime.now(ZONE)
    # In two hours, but on the weekday three days on: due then, not in two hours.
    soon = _minute(now + timedelta(hours=2))
    _add(run_cli, cfg, "in-three-days@example.org", soon, weekly_on=soon.date() + timedelta(3))
    # An hour ago on that day's weekday: the next one is a week later.
    past = _minute(now - timedelta(hours=1))
    _add(run_cli, cfg, "next-week@example.org", past, weekly_on=past.date())

    assert _next_due(run_cli, cfg) == _shown(soon + timedelta(days=3))
    assert run_cli(*cfg, "subscribers", "pause", "in-three-days@example.org").code == 0
    assert _next_due(run_cli, cfg) == _shown(past + timedelta(days=7))
    assert run_cli(*cfg, "subscribers", "pause", "next-week@example.org").code == 0
    assert _next_due(run_cli, cfg) == "never"


def test_daily_and_weekly_subscribers_and_a_day_already_served(
    run_cli: Callable[..., CliResult], cfg: tuple[str, str]
) -> None:
    now = datetime.now(ZONE)
    soon = _minute(now + timedelta(hours=2))
    _add(run_cli, cfg, "weekly@example.org", soon, weekly_on=soon.date() + timedelta(1))
    later = _minute(now + timedelta(hours=5))
    _add(run_cli, cfg, "daily@example.org", later)
    # The weekly subscriber's time comes first, but not on their weekday.
    assert _next_due(run_cli, cfg) == _shown(later)

    # Served for today (nothing new: recorded as skipped), the daily subscriber is next
    # due tomorrow; the weekly one is not due today.
    sent = run_cli(*cfg, "send", "--all", "--only", "daily@example.org")
    assert sent.code == 0, sent
    tomorrow = datetime.combine(now.date() + timedelta(days=1), later.time(), ZONE)
    assert _next_due(run_cli, cfg) == _shown(min(tomorrow, soon + timedelta(days=1)))
