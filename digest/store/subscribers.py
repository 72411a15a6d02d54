"""Subscribers: validation of what they ask for, and reading and writing their rows."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Row, delete, select
from sqlalchemy.orm import Session

from digest import cadence
from digest.config import check_timezone
from digest.errors import NotFound, UsageError
from digest.records import SUBSCRIBER_STATUSES, WEEKDAYS, Subscriber
from digest.store.engine import rows_changed
from digest.store.schema import EventRow, SubscriberRow, new_link_secret

MAX_TOPICS = 20
MAX_TOPIC_LENGTH = 200
MAX_LIST_ITEMS = 50
# Control characters and lone surrogates: no database stores a NUL in text, and none of them
# can be typed in a form, a mail or a CSV cell and come back the same.
# (Unicode's categories Cc and Cs, exactly.)
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def normalise_email(text: str) -> str:
    """The canonical form of an address (IDN domain in ASCII, lower case); UsageError if bad."""
    text = text.strip()
    if len(text) > 320 or "\r" in text or "\n" in text:
        raise UsageError(f"{text[:60]!r} is not a valid email address")
    try:
        valid = validate_email(text, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        raise UsageError(f"{text[:80]!r} is not a valid email address: {exc}") from None
    address = valid.ascii_email or valid.normalized
    return address.lower()


def clean_terms(
    values: Iterable[str], what: str, *, limit: int = MAX_LIST_ITEMS
) -> tuple[str, ...]:
    """Trimmed, de-duplicated, one-line terms; UsageError past the count or length limits,
    or for a term holding a control character (NUL included) once runs of white space
    (line breaks included) are made one space."""
    seen: dict[str, str] = {}
    for value in values:
        term = " ".join(value.split())
        if not term:
            continue
        if len(term) > MAX_TOPIC_LENGTH:
            raise UsageError(f"{what} {term[:40]!r}… is longer than {MAX_TOPIC_LENGTH} characters")
        if _UNPRINTABLE.search(term):
            raise UsageError(f"{what} {term[:40]!r} holds a control character")
        seen.setdefault(term.casefold(), term)
    if len(seen) > limit:
        raise UsageError(f"at most {limit} {what}s are allowed, got {len(seen)}")
    return tuple(seen.values())


def weekday_code(weekday: int | None) -> str | None:
    """`mon` … `sun` for a stored weekday (None stays None)."""
    return None if weekday is None else WEEKDAYS[weekday]


@dataclass(frozen=True, slots=True)
class SubscriberInput:
    """What an admin, an import row or the web form asks to store; validate() checks it."""

    email: str
    topics: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    timezone: str | None = None
    send_at: str | None = None
    status: str | None = None
    # None: unchanged (a new subscriber gets daily). A weekly subscriber without a weekday
    # gets Monday; a daily one keeps no weekday.
    frequency: str | None = None
    weekday: str | None = None
    feed_only: bool | None = None

    def validate(self) -> SubscriberInput:
        """A normalised copy; UsageError naming the first problem."""
        # No topic is fine: a subscriber may follow only authors, or only papers they like.
        topics = clean_terms(self.topics, "topic", limit=MAX_TOPICS)
        authors = clean_terms(self.authors, "author")
        timezone = None
        if self.timezone is not None:
            try:
                timezone = check_timezone(self.timezone)
            except ValueError as exc:
                raise UsageError(str(exc)) from None
        if self.send_at is not None:
            try:
                send_at: str | None = cadence.send_time(self.send_at)
            except ValueError as exc:
                raise UsageError(str(exc)) from None
        else:
            send_at = None
        if self.status is not None and self.status not in SUBSCRIBER_STATUSES:
            raise UsageError(
                f"status {self.status!r} is not one of {', '.join(SUBSCRIBER_STATUSES)}"
            )
        frequency, weekday = self._schedule()
        return replace(
            self,
            frequency=frequency,
            weekday=weekday,
            email=normalise_email(self.email),
            topics=topics,
            categories=clean_terms(self.categories, "category"),
            authors=authors,
            exclude=clean_terms(self.exclude, "exclusion"),
            timezone=timezone,
            send_at=send_at,
        )

    def _schedule(self) -> tuple[str | None, str | None]:
        """The frequency and weekday (as `mon` … `sun`), checked."""
        try:
            frequency = cadence.frequency(self.frequency) if self.frequency is not None else None
            if self.weekday is None or not self.weekday.strip():
                return frequency, None
            weekday = cadence.weekday(self.weekday)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if frequency == "daily":
            raise UsageError(
                "a weekday applies to weekly digests only: give the frequency weekly too"
            )
        return frequency, weekday


def to_record(row: SubscriberRow | Row[Any]) -> Subscriber:
    """A subscriber record from its ORM row or a plain row of the subscribers columns."""
    return Subscriber(
        id=row.id,
        email=row.email,
        status=row.status,
        topics=tuple(row.topics),
        categories=tuple(row.categories),
        authors=tuple(row.authors),
        exclude=tuple(row.exclude),
        timezone=row.timezone,
        send_at=time.fromisoformat(row.send_at),
        created_at=row.created_at,
        confirmed_at=row.confirmed_at,
        token_version=row.token_version,
        frequency=row.frequency,
        weekday=row.weekday,
        feed_only=bool(row.feed_only),
        link_secret=row.link_secret,
    )


def record_event(
    session: Session,
    kind: str,
    *,
    email: str | None = None,
    subscriber_id: int | None = None,
    detail: str | None = None,
    now: datetime | None = None,
) -> None:
    session.add(
        EventRow(
            kind=kind,
            email=email,
            subscriber_id=subscriber_id,
            detail=detail,
            created_at=now or datetime.now(UTC),
        )
    )


# A subscription in one of these states has ended: signing up again starts a new one.
ENDED = ("unsubscribed", "bounced")


def renew_link_secret(row: SubscriberRow) -> None:
    """Give the subscriber a new link secret: every link and VERP address made so far
    (and every link of the old kind, by the version) stops working."""
    row.link_secret = new_link_secret()
    row.token_version += 1


def upsert_subscriber(
    session: Session,
    data: SubscriberInput,
    *,
    default_timezone: str,
    default_send_at: str,
    now: datetime | None = None,
) -> tuple[Subscriber, bool]:
    """Insert or update one validated subscriber; returns it and whether it is new."""
    now = now or datetime.now(UTC)
    row = session.scalar(select(SubscriberRow).where(SubscriberRow.email == data.email))
    created = row is None
    if row is None:
        row = SubscriberRow(
            email=data.email,
            status=data.status or "pending",
            timezone=data.timezone or default_timezone,
            send_at=data.send_at or default_send_at,
            created_at=now,
            token_version=0,
        )
        session.add(row)
    elif data.status is not None:
        if row.status in ENDED and data.status not in ENDED:
            renew_link_secret(row)
        row.status = data.status
    row.topics = list(data.topics)
    row.categories = list(data.categories)
    row.authors = list(data.authors)
    row.exclude = list(data.exclude)
    if data.timezone is not None:
        row.timezone = data.timezone
    if data.send_at is not None:
        row.send_at = data.send_at
    apply_schedule(row, data)
    if row.status == "active" and row.confirmed_at is None:
        row.confirmed_at = now
    row.updated_at = now
    session.flush()
    return to_record(row), created


def apply_schedule(row: SubscriberRow, data: SubscriberInput) -> None:
    """Set frequency, weekday and feed-only on a row from validated input (see
    `SubscriberInput`: what it leaves None stays as it is)."""
    frequency, weekday = schedule_values(
        data, current=(row.frequency or "daily", row.weekday, bool(row.feed_only))
    )
    row.frequency, row.weekday = frequency, weekday
    if data.feed_only is not None:
        row.feed_only = data.feed_only


def schedule_values(
    data: SubscriberInput, *, current: tuple[str, int | None, bool] = ("daily", None, False)
) -> tuple[str, int | None]:
    """The (frequency, weekday index) a row gets from validated input over its `current`
    (frequency, weekday, feed-only): a weekly digest needs a weekday (Monday unless one is
    given or kept), a daily one has none."""
    frequency = data.frequency or current[0]
    if frequency != "weekly":
        if data.weekday is not None:
            raise UsageError(
                "a weekday applies to weekly digests only: give the frequency weekly too"
            )
        return frequency, None
    if data.weekday is not None:
        return frequency, WEEKDAYS.index(data.weekday)
    return frequency, current[1] if current[1] is not None else 0


def get_subscriber(session: Session, email: str) -> Subscriber:
    row = session.scalar(select(SubscriberRow).where(SubscriberRow.email == normalise_email(email)))
    if row is None:
        raise NotFound(f"no subscriber with address {email!r}")
    return to_record(row)


def list_subscribers(session: Session, statuses: Sequence[str] = ()) -> list[Subscriber]:
    query = select(SubscriberRow).order_by(SubscriberRow.id)
    if statuses:
        query = query.where(SubscriberRow.status.in_(statuses))
    return [to_record(row) for row in session.scalars(query)]


def set_status(
    session: Session, email: str, status: str, now: datetime | None = None
) -> Subscriber:
    """Change a subscriber's status (pause, resume, unsubscribe, confirm …)."""
    if status not in SUBSCRIBER_STATUSES:
        raise UsageError(f"status {status!r} is not one of {', '.join(SUBSCRIBER_STATUSES)}")
    now = now or datetime.now(UTC)
    row = session.scalar(select(SubscriberRow).where(SubscriberRow.email == normalise_email(email)))
    if row is None:
        raise NotFound(f"no subscriber with address {email!r}")
    row.status = status
    row.updated_at = now
    if status == "active" and row.confirmed_at is None:
        row.confirmed_at = now
    if status == "unsubscribed":
        row.unsubscribed_at = now
    session.flush()
    return to_record(row)


def remove_subscriber(session: Session, email: str) -> None:
    """Delete a subscriber and, by cascade, their deliveries, items and feedback."""
    address = normalise_email(email)
    result = session.execute(delete(SubscriberRow).where(SubscriberRow.email == address))
    if not rows_changed(result):
        raise NotFound(f"no subscriber with address {email!r}")


def link_identity(session: Session, email: str) -> tuple[int, str]:
    """The subscriber's (id, link secret), as the store's link actions take them;
    NotFound if there is no such subscriber."""
    row = session.scalar(select(SubscriberRow).where(SubscriberRow.email == normalise_email(email)))
    if row is None:
        raise NotFound(f"no subscriber with address {email!r}")
    return row.id, row.link_secret


def subscriber_by_id(session: Session, subscriber_id: int) -> Subscriber | None:
    """The subscriber stored under `subscriber_id` (what a link names), if any."""
    row = session.get(SubscriberRow, subscriber_id)
    return to_record(row) if row is not None else None
