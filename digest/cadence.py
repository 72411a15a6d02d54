"""How often and when a subscriber's digest goes out, read from what people write: the
frequency, the weekday and the send time (a time zone is checked by
`digest.config.check_timezone`).

One check for each, used by the web forms, the mail sign-up and the store's
`SubscriberInput`. Each raises ValueError with the message the command line and imports
show; the forms and the mail sign-up say the same in their own words.
"""

from __future__ import annotations

from digest.config import parse_send_time
from digest.records import FREQUENCIES, WEEKDAY_NAMES, WEEKDAYS


def frequency(text: str) -> str:
    """`daily` or `weekly`, written in any case; ValueError if neither."""
    word = text.strip().lower()
    if word not in FREQUENCIES:
        raise ValueError(f"frequency {text!r} is not one of {', '.join(FREQUENCIES)}")
    return word


def weekday(text: str) -> str:
    """The weekday (`mon` … `sun`) written `mon`, `Monday` (any case) or 0–6 from Monday;
    ValueError if none."""
    word = text.strip().lower()
    number = word.lstrip("0") or "0"
    if word.isdecimal() and len(number) == 1 and int(number) < 7:
        return WEEKDAYS[int(number)]
    for short, name in zip(WEEKDAYS, WEEKDAY_NAMES, strict=True):
        if word in (short, name.lower()):
            return short
    raise ValueError(f"{text.strip()[:20]!r} is not a weekday: use one of {', '.join(WEEKDAYS)}")


def send_time(text: str) -> str:
    """A local send time written `HH:MM` (24-hour clock), as `HH:MM`; ValueError if not."""
    return parse_send_time(text).strftime("%H:%M")
