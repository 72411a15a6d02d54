"""Reading the subscribe and preferences forms into a validated `SubscriberInput`.

Each problem is reported against its field, in words a visitor understands, so the page can
show the form again with the visitor's own input and the message next to the right box.
Topics, authors and exclusions are one per line; categories are separated by spaces or commas.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from starlette.datastructures import FormData

from digest import cadence
from digest.config import check_timezone
from digest.errors import UsageError
from digest.store.subscribers import (
    MAX_LIST_ITEMS,
    MAX_TOPICS,
    SubscriberInput,
    clean_terms,
    normalise_email,
)

MAX_FIELD_CHARS = 10_000
_CATEGORY = re.compile(r"^[A-Za-z][A-Za-z-]{0,19}(\.[A-Za-z][A-Za-z-]{0,19})?$")
_TIME_WITH_SECONDS = re.compile(r"^(\d{1,2}:\d{2}):\d{2}(\.\d+)?$")


@dataclass
class FormResult:
    """The visitor's raw values (to show the form again), errors by field, and the input."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    data: SubscriberInput | None = None


def _text(form: FormData, name: str) -> str:
    values = [v for v in form.getlist(name) if isinstance(v, str)]
    return "\n".join(values)


def _lines(text: str) -> list[str]:
    return [line for line in re.split(r"[\r\n]+", text) if line.strip()]


def _terms(
    result: FormResult, name: str, what: str, limit: int, values: list[str]
) -> tuple[str, ...]:
    if len(values) > limit:
        result.errors[name] = f"At most {limit} {what}s, please (you gave {len(values)})."
        return ()
    try:
        return clean_terms(values, what, limit=limit)
    except UsageError as exc:
        result.errors[name] = str(exc)[:1].upper() + str(exc)[1:] + "."
        return ()


def _categories(result: FormResult, text: str) -> tuple[str, ...]:
    values = [v for v in re.split(r"[\s,;]+", text) if v]
    bad = [v for v in values if not _CATEGORY.match(v)]
    if bad:
        result.errors["categories"] = (
            f"{bad[0][:40]!r} is not an arXiv category such as cs.CL or stat.ML."
        )
        return ()
    return _terms(result, "categories", "category", MAX_LIST_ITEMS, values)


def _timezone(result: FormResult, text: str) -> str | None:
    text = text.strip()
    if not text:
        return None
    try:
        return check_timezone(text)
    except ValueError:
        result.errors["timezone"] = (
            f"{text[:60]!r} is not a time zone; use a name such as Europe/Berlin."
        )
        return None


def _send_at(result: FormResult, text: str) -> str | None:
    text = text.strip()
    if not text:
        return None
    match = _TIME_WITH_SECONDS.match(text)
    if match:
        text = match[1]
    try:
        return cadence.send_time(text)
    except ValueError:
        result.errors["send_at"] = "Give the send time as HH:MM, for example 07:30."
        return None


def _email(result: FormResult, text: str) -> str:
    try:
        email = normalise_email(text)
    except UsageError:
        result.errors["email"] = "Please give a valid email address, like ada@example.org."
        return ""
    if not email.isascii():
        # The domain is already in ASCII (IDN); a non-ASCII mailbox name needs SMTPUTF8,
        # which many mail servers on the way still refuse.
        result.errors["email"] = (
            "Mailbox names with non-ASCII letters (before the @) cannot receive the digest "
            "yet; please use an ASCII address or alias."
        )
    return email


def _schedule(result: FormResult, frequency: str, weekday: str) -> tuple[str, str | None]:
    """How often: `daily` (the default) or `weekly` on a weekday (Monday by default)."""
    try:
        frequency = cadence.frequency(frequency.strip() or "daily")
    except ValueError:
        result.errors["frequency"] = "Choose daily or weekly digests."
        return "daily", None
    if frequency == "daily" or not weekday.strip():
        return frequency, None
    try:
        return frequency, cadence.weekday(weekday)
    except ValueError:
        result.errors["weekday"] = "Choose a day of the week, Monday to Sunday."
        return frequency, None


def read_profile_form(form: FormData, *, with_email: bool) -> FormResult:
    """Validate the profile fields (and the address, on the subscribe form). The
    preferences page (no address) also has the feed-only box: unticked means email."""
    names = (
        *("email", "topics", "categories", "authors", "exclude", "timezone", "send_at"),
        *("frequency", "weekday"),
    )
    values = {name: _text(form, name) for name in names}
    values["topics"] = "\n".join(filter(None, [values["topics"], _text(form, "topic")]))
    result = FormResult(values={k: v[:MAX_FIELD_CHARS] for k, v in values.items()})
    for name, value in values.items():
        if len(value) > MAX_FIELD_CHARS:
            result.errors[name] = "This is far too long."
    if result.errors:
        return result
    email = ""
    if with_email:
        email = _email(result, values["email"])
    topics = _terms(result, "topics", "topic", MAX_TOPICS, _lines(values["topics"]))
    frequency, weekday = _schedule(result, values["frequency"], values["weekday"])
    result.values["feed_only"] = "yes" if form.get("feed_only") == "yes" else ""
    data = SubscriberInput(
        email=email,
        topics=topics,
        categories=_categories(result, values["categories"]),
        authors=_terms(result, "authors", "author", MAX_LIST_ITEMS, _lines(values["authors"])),
        exclude=_terms(result, "exclude", "exclusion", MAX_LIST_ITEMS, _lines(values["exclude"])),
        timezone=_timezone(result, values["timezone"]),
        send_at=_send_at(result, values["send_at"]),
        frequency=frequency,
        weekday=weekday,
        feed_only=None if with_email else bool(result.values["feed_only"]),
    )
    if not result.errors:
        result.data = data
    return result
