"""Everything the service holds about one subscriber, as plain JSON-ready data ("download
my data"): the profile, every digest delivered with its papers, votes and address events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from digest.records import WEEKDAYS
from digest.store.deliveries import decode_items
from digest.store.engine import among
from digest.store.schema import (
    DeliveryRow,
    EventRow,
    FeedbackRow,
    PaperRow,
    SubscriberRow,
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _profile(row: SubscriberRow) -> dict[str, Any]:
    return {
        "email": row.email,
        "status": row.status,
        "topics": list(row.topics),
        "categories": list(row.categories),
        "authors": list(row.authors),
        "exclude": list(row.exclude),
        "timezone": row.timezone,
        "send_at": row.send_at,
        "frequency": row.frequency,
        "weekday": WEEKDAYS[row.weekday] if row.weekday is not None else None,
        "feed_only": bool(row.feed_only),
        "created_at": _iso(row.created_at),
        "confirmed_at": _iso(row.confirmed_at),
        "unsubscribed_at": _iso(row.unsubscribed_at),
    }


def _deliveries(session: Session, subscriber_id: int) -> list[dict[str, Any]]:
    deliveries = session.scalars(
        select(DeliveryRow)
        .where(DeliveryRow.subscriber_id == subscriber_id)
        .order_by(DeliveryRow.digest_date)
    ).all()
    items = {d.id: decode_items(d.items) for d in deliveries}
    wanted = {item.paper_id for listed in items.values() for item in listed}
    known = {
        row.id: (row.key, row.title)
        for row in session.execute(
            select(PaperRow.id, PaperRow.key, PaperRow.title).where(
                among(session, PaperRow.id, wanted)
            )
        )
    }
    papers = {
        delivery_id: [
            {"id": known[i.paper_id][0], "title": known[i.paper_id][1], "reason": i.reason}
            for i in listed
            if i.paper_id in known
        ]
        for delivery_id, listed in items.items()
    }
    return [
        {
            "date": d.digest_date.isoformat(),
            "status": d.status,
            "sent_at": _iso(d.sent_at),
            "papers": papers.get(d.id, []),
        }
        for d in deliveries
    ]


def _votes(session: Session, subscriber_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(FeedbackRow.vote, FeedbackRow.created_at, PaperRow.key, PaperRow.title)
        .join(PaperRow, PaperRow.id == FeedbackRow.paper_id)
        .where(FeedbackRow.subscriber_id == subscriber_id)
        .order_by(FeedbackRow.created_at)
    ).all()
    return [
        {"paper": key, "title": title, "vote": vote, "at": _iso(at)}
        for vote, at, key, title in rows
    ]


def _events(session: Session, row: SubscriberRow) -> list[dict[str, Any]]:
    events = session.scalars(
        select(EventRow)
        .where(or_(EventRow.subscriber_id == row.id, EventRow.email == row.email))
        .order_by(EventRow.created_at, EventRow.id)
    ).all()
    return [{"kind": e.kind, "at": _iso(e.created_at), "detail": e.detail} for e in events]


def export_subscriber_data(session: Session, subscriber_id: int) -> dict[str, Any] | None:
    """All data held about the subscriber, or None if there is no such subscriber."""
    row = session.get(SubscriberRow, subscriber_id)
    if row is None:
        return None
    return {
        "subscriber": _profile(row),
        "deliveries": _deliveries(session, subscriber_id),
        "feedback": _votes(session, subscriber_id),
        "events": _events(session, row),
    }
