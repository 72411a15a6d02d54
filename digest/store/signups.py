"""What the subscriber pages do to the store: sign-up, confirm, unsubscribe, preferences,
pause and resume, export and erase.

Every function that acts on a link takes the id and the link secret of the subscriber the
link was checked against (see `digest.tokens`) and returns None (nothing done) when that
subscriber is gone or has a new secret by now, so a stale link can never act on anyone.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from digest.records import Subscriber
from digest.store.schema import EventRow, SubscriberRow
from digest.store.subscribers import (
    SubscriberInput,
    apply_schedule,
    record_event,
    to_record,
    upsert_subscriber,
)
from digest.store.suppressions import is_suppressed

CONFIRMATIONS_PER_DAY = 3
CONFIRMATION_SENT = "confirmation_sent"

SignupAction = Literal["send", "active", "throttled", "suppressed"]


@dataclass(frozen=True, slots=True)
class Signup:
    """The outcome of a sign-up request: whether to mail a confirmation, and to whom.

    `action` is "send" (mail `subscriber` a confirmation), "active" (already subscribed:
    nothing to do), "throttled" (the daily confirmation cap is reached) or "suppressed"
    (the address bounced or complained; never mail it).
    """

    action: SignupAction
    subscriber: Subscriber | None = None
    created: bool = False


def confirmations_sent(session: Session, email: str, *, since: datetime) -> int:
    """How many confirmation emails went to `email` since `since`."""
    query = select(func.count()).where(
        EventRow.email == email,
        EventRow.kind == CONFIRMATION_SENT,
        EventRow.created_at >= since,
    )
    return int(session.scalar(query) or 0)


def begin_signup(
    session: Session,
    data: SubscriberInput,
    *,
    default_timezone: str,
    default_send_at: str,
    ip: str | None = None,
    now: datetime | None = None,
) -> Signup:
    """Store a validated sign-up as pending and count the confirmation it will send.

    An active or paused subscriber is left exactly as it is (a stranger must not be able
    to change someone's topics); the caller shows the same page whatever the outcome.
    """
    now = now or datetime.now(UTC)
    detail = f"ip={ip}" if ip else None
    row = session.scalar(select(SubscriberRow).where(SubscriberRow.email == data.email))
    if row is not None and row.status in ("active", "paused"):
        record_event(session, "signup_existing", email=data.email, detail=detail, now=now)
        return Signup("active")
    if is_suppressed(session, data.email):
        record_event(session, "signup_suppressed", email=data.email, detail=detail, now=now)
        return Signup("suppressed")
    if confirmations_sent(session, data.email, since=now - timedelta(days=1)) >= (
        CONFIRMATIONS_PER_DAY
    ):
        record_event(session, "signup_throttled", email=data.email, detail=detail, now=now)
        return Signup("throttled")
    subscriber, created = upsert_subscriber(
        session,
        replace(data, status="pending"),
        default_timezone=default_timezone,
        default_send_at=default_send_at,
        now=now,
    )
    record_event(
        session,
        CONFIRMATION_SENT,
        email=data.email,
        subscriber_id=subscriber.id,
        detail=detail,
        now=now,
    )
    return Signup("send", subscriber, created)


def undo_signup(session: Session, signup: Signup, *, sent_at: datetime) -> None:
    """Take back a sign-up whose confirmation could not be sent, so nothing is left half-way."""
    if signup.subscriber is None:
        return
    sub = signup.subscriber
    session.execute(
        delete(EventRow).where(
            EventRow.subscriber_id == sub.id,
            EventRow.kind == CONFIRMATION_SENT,
            EventRow.created_at == sent_at,
        )
    )
    if signup.created:
        session.execute(
            delete(SubscriberRow).where(
                SubscriberRow.id == sub.id, SubscriberRow.status == "pending"
            )
        )


def _row(session: Session, subscriber_id: int, link_secret: str) -> SubscriberRow | None:
    row = session.get(SubscriberRow, subscriber_id)
    if row is None or row.link_secret != link_secret:
        return None
    return row


def link_still_current(session: Session, subscriber_id: int, link_secret: str) -> bool:
    """Whether the subscriber a link was checked against is still there, unchanged."""
    return _row(session, subscriber_id, link_secret) is not None


ConfirmOutcome = Literal["confirmed", "already", "closed"]


def confirm_subscriber(
    session: Session, subscriber_id: int, link_secret: str, *, now: datetime | None = None
) -> tuple[ConfirmOutcome, Subscriber] | None:
    """Turn a pending subscriber active. "already" when it was active or paused; "closed"
    when the address has since unsubscribed or bounced (an old link must not revive it)."""
    row = _row(session, subscriber_id, link_secret)
    if row is None:
        return None
    now = now or datetime.now(UTC)
    if row.status in ("active", "paused"):
        return "already", to_record(row)
    if row.status != "pending":
        return "closed", to_record(row)
    row.status = "active"
    row.confirmed_at = now
    row.updated_at = now
    record_event(session, "confirmed", email=row.email, subscriber_id=row.id, now=now)
    session.flush()
    return "confirmed", to_record(row)


def unsubscribe(
    session: Session,
    subscriber_id: int,
    link_secret: str,
    *,
    via: str = "web",
    now: datetime | None = None,
) -> tuple[bool, Subscriber] | None:
    """Unsubscribe the subscriber a link names, if its secret is current; returns
    whether this call changed anything (False on a replay), or None for no such subscriber.
    `via` says how (web, mailto) in the subscriber's history."""
    row = _row(session, subscriber_id, link_secret)
    if row is None:
        return None
    if row.status in ("unsubscribed", "bounced"):
        return False, to_record(row)
    now = now or datetime.now(UTC)
    row.status = "unsubscribed"
    row.unsubscribed_at = now
    row.updated_at = now
    record_event(
        session, "unsubscribed", email=row.email, subscriber_id=row.id, detail=via, now=now
    )
    session.flush()
    return True, to_record(row)


def update_preferences(
    session: Session,
    subscriber_id: int,
    link_secret: str,
    data: SubscriberInput,
    *,
    now: datetime | None = None,
) -> Subscriber | None:
    """Replace a subscriber's topics, lists, time zone, send time and how often and where
    the digests go (never the address)."""
    row = _row(session, subscriber_id, link_secret)
    if row is None:
        return None
    now = now or datetime.now(UTC)
    row.topics = list(data.topics)
    row.categories = list(data.categories)
    row.authors = list(data.authors)
    row.exclude = list(data.exclude)
    if data.timezone is not None:
        row.timezone = data.timezone
    if data.send_at is not None:
        row.send_at = data.send_at
    apply_schedule(row, data)
    row.updated_at = now
    session.flush()
    return to_record(row)


def set_paused(
    session: Session,
    subscriber_id: int,
    link_secret: str,
    paused: bool,
    *,
    now: datetime | None = None,
) -> Subscriber | None:
    """Pause or resume. Resuming also brings back an unsubscribed address that had once
    confirmed (the link proves the owner asks); a bounced or never-confirmed one stays."""
    row = _row(session, subscriber_id, link_secret)
    if row is None:
        return None
    now = now or datetime.now(UTC)
    if paused and row.status == "active":
        row.status = "paused"
    elif not paused and (
        row.status == "paused" or (row.status == "unsubscribed" and row.confirmed_at is not None)
    ):
        row.status = "active"
        row.unsubscribed_at = None
    else:
        return to_record(row)
    row.updated_at = now
    kind = "paused" if paused else "resumed"
    record_event(session, kind, email=row.email, subscriber_id=row.id, now=now)
    session.flush()
    return to_record(row)


def erase_subscriber(session: Session, subscriber_id: int, link_secret: str) -> bool:
    """Delete the subscriber, their deliveries, votes and events; False if already gone."""
    row = _row(session, subscriber_id, link_secret)
    if row is None:
        return False
    session.execute(
        delete(EventRow).where(or_(EventRow.subscriber_id == row.id, EventRow.email == row.email))
    )
    session.delete(row)
    session.flush()
    record_event(session, "erased")
    return True
