"""Suppressions: addresses never mailed again (hard bounces, complaints, the operator's list).

Suppressing an address also marks its subscriber `bounced` (or `unsubscribed` for a
mailto unsubscribe), so the delivery ledger stops creating rows for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from digest.store.engine import rows_changed
from digest.store.schema import SubscriberRow, SuppressionRow
from digest.store.subscribers import normalise_email, record_event


def suppress_addresses(
    session: Session,
    entries: Sequence[tuple[str, str]],
    *,
    source: str,
    now: datetime | None = None,
) -> int:
    """Suppress each (email, reason); marks matching subscribers `bounced`. Returns how many
    addresses were newly suppressed (already suppressed ones keep their first reason)."""
    if not entries:
        return 0
    now = now or datetime.now(UTC)
    emails = {normalise_email(email): reason for email, reason in entries}
    existing = set(
        session.scalars(select(SuppressionRow.email).where(SuppressionRow.email.in_(emails)))
    )
    fresh = {email: reason for email, reason in emails.items() if email not in existing}
    session.add_all(
        SuppressionRow(email=email, reason=reason[:2000], source=source, created_at=now)
        for email, reason in fresh.items()
    )
    session.execute(
        update(SubscriberRow)
        .where(SubscriberRow.email.in_(emails), SubscriberRow.status.in_(("active", "pending")))
        .values(status="bounced", updated_at=now)
    )
    for email, reason in fresh.items():
        record_event(
            session, "suppressed", email=email, detail=f"{source}: {reason}"[:2000], now=now
        )
    session.flush()
    return len(fresh)


def suppress(session: Session, email: str, reason: str, *, source: str = "operator") -> bool:
    """Suppress one address; False if it already was."""
    return suppress_addresses(session, [(email, reason)], source=source) == 1


def unsuppress(session: Session, email: str) -> bool:
    """Lift a suppression (the subscriber stays `bounced` until resumed); False if none."""
    result = session.execute(
        delete(SuppressionRow).where(SuppressionRow.email == normalise_email(email))
    )
    return bool(rows_changed(result))


def is_suppressed(session: Session, email: str) -> bool:
    return session.get(SuppressionRow, normalise_email(email)) is not None


def list_suppressions(session: Session) -> list[tuple[str, str, str, datetime]]:
    """(email, reason, source, created_at), newest first."""
    rows = session.scalars(select(SuppressionRow).order_by(SuppressionRow.created_at.desc()))
    return [(r.email, r.reason, r.source, r.created_at) for r in rows]


def email_of(session: Session, subscriber_id: int, *, link_secret: str) -> str | None:
    """The address of a subscriber if its link secret is still `link_secret`, else None."""
    row = session.get(SubscriberRow, subscriber_id)
    return row.email if row is not None and row.link_secret == link_secret else None
