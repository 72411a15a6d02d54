"""Figures for `digest stats`: counts over subscribers, deliveries, papers and events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest.records import DELIVERY_STATUSES, SUBSCRIBER_STATUSES
from digest.store.schema import (
    DeliveryRow,
    EventRow,
    PaperListingRow,
    SourceStateRow,
    SubscriberRow,
    SuppressionRow,
)


@dataclass(frozen=True, slots=True)
class SourceStatus:
    name: str
    last_success_at: datetime | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class Figures:
    subscribers: dict[str, int]
    deliveries: dict[date, dict[str, int]]
    papers: dict[tuple[str, date], int]
    suppressions: dict[str, int]
    unsubscribes: int
    sources: list[SourceStatus]


def _subscribers(session: Session) -> dict[str, int]:
    counts = dict.fromkeys(SUBSCRIBER_STATUSES, 0)
    for status, n in session.execute(
        select(SubscriberRow.status, func.count()).group_by(SubscriberRow.status)
    ):
        counts[status] = int(n)
    return counts


def _deliveries(session: Session, since: date) -> dict[date, dict[str, int]]:
    found: dict[date, dict[str, int]] = {}
    query = (
        select(DeliveryRow.digest_date, DeliveryRow.status, func.count())
        .where(DeliveryRow.digest_date >= since)
        .group_by(DeliveryRow.digest_date, DeliveryRow.status)
    )
    for day, status, n in session.execute(query):
        found.setdefault(day, dict.fromkeys(DELIVERY_STATUSES, 0))[status] = int(n)
    return dict(sorted(found.items(), reverse=True))


def _papers(session: Session, since: datetime) -> dict[tuple[str, date], int]:
    rows = session.execute(
        select(PaperListingRow.source, PaperListingRow.first_listed_at).where(
            PaperListingRow.first_listed_at >= since
        )
    )
    counts: dict[tuple[str, date], int] = {}
    for source, listed_at in rows:
        key = (source, listed_at.astimezone(UTC).date())
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: (item[0][1], item[0][0]), reverse=True))


def gather_figures(session: Session, *, now: datetime | None = None, days: int = 7) -> Figures:
    """Everything `digest stats` prints, for the last `days` days."""
    now = now or datetime.now(UTC)
    since = now - timedelta(days=days)
    suppressions = {
        str(source): int(n)
        for source, n in session.execute(
            select(SuppressionRow.source, func.count()).group_by(SuppressionRow.source)
        )
    }
    unsubscribes = session.scalar(
        select(func.count()).where(EventRow.kind == "unsubscribed", EventRow.created_at >= since)
    )
    sources = [
        SourceStatus(r.name, r.last_success_at, r.last_error)
        for r in session.scalars(select(SourceStateRow).order_by(SourceStateRow.name))
    ]
    return Figures(
        subscribers=_subscribers(session),
        deliveries=_deliveries(session, (now - timedelta(days=days)).date()),
        papers=_papers(session, since),
        suppressions=suppressions,
        unsubscribes=int(unsubscribes or 0),
        sources=sources,
    )
