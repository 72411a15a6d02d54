"""The checks of how often and when a digest goes out, which forms, mail and the store share."""

from __future__ import annotations

import pytest

from digest import cadence


def test_frequencies_in_any_case() -> None:
    assert cadence.frequency(" Weekly ") == "weekly"
    assert cadence.frequency("DAILY") == "daily"
    with pytest.raises(ValueError, match=r"frequency 'hourly' is not one of daily, weekly"):
        cadence.frequency("hourly")


@pytest.mark.parametrize(
    ("written", "code"),
    [("mon", "mon"), ("Friday", "fri"), (" SUNDAY ", "sun"), ("0", "mon"), ("06", "sun")],
)
def test_weekdays_by_name_abbreviation_or_number(written: str, code: str) -> None:
    assert cadence.weekday(written) == code


@pytest.mark.parametrize("written", ["someday", "7", "²", "1" * 5000, ""])
def test_anything_else_is_no_weekday(written: str) -> None:
    with pytest.raises(ValueError, match="is not a weekday: use one of mon, tue"):
        cadence.weekday(written)


def test_send_times_are_hours_and_minutes() -> None:
    assert cadence.send_time(" 7:05 ") == "07:05"
    with pytest.raises(ValueError, match="HH:MM"):
        cadence.send_time("25:61")
