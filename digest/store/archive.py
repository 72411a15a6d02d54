"""Past digests as the ledger recorded them: the archive pages, the feed and the weekly
window read them here.

A digest was delivered when its ledger row ended `sent` or `unknown` (it may have gone
out) or `published` (kept for the feed and archive only); its papers are the row's
`items`, in the order the message showed them.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest.records import TRENDING_REASON, Digest, FeedItem, Pick, Subscriber
from digest.store.deliveries import decode_items
from digest.store.engine import among
from digest.store.papers import papers_by_ids
from digest.store.schema import DeliveryRow

DELIVERED = ("sent", "unknown", "published")
# A skipped digest (nothing matched) still ends the window of the next weekly digest.
SERVED = (*DELIVERED, "skipped")


def previous_digest_dates(
    session: Session, subscriber_ids: Collection[int], before: date
) -> dict[int, date]:
    """Each subscriber's latest digest date before `before` that was served (delivered or
    skipped for want of papers); subscribers with none are left out."""
    if not subscriber_ids:
        return {}
    rows = session.execute(
        select(DeliveryRow.subscriber_id, func.max(DeliveryRow.digest_date))
        .where(
            among(session, DeliveryRow.subscriber_id, subscriber_ids),
            DeliveryRow.digest_date < before,
            DeliveryRow.status.in_(SERVED),
        )
        .group_by(DeliveryRow.subscriber_id)
    )
    return {int(subscriber_id): day for subscriber_id, day in rows}


@dataclass(frozen=True, slots=True)
class PastDigest:
    """One delivered digest, as the preferences page lists it."""

    digest_date: date
    status: str
    item_count: int


def past_digests(session: Session, subscriber_id: int, *, limit: int = 60) -> list[PastDigest]:
    """A subscriber's delivered digests, newest first (at most `limit`)."""
    rows = session.execute(
        select(DeliveryRow.digest_date, DeliveryRow.status, DeliveryRow.item_count)
        .where(DeliveryRow.subscriber_id == subscriber_id, DeliveryRow.status.in_(DELIVERED))
        .order_by(DeliveryRow.digest_date.desc())
        .limit(limit)
    )
    return [PastDigest(day, status, count) for day, status, count in rows]


def archived_digest(session: Session, subscriber: Subscriber, day: date) -> Digest | None:
    """The digest `subscriber` was delivered for `day`, rebuilt from its ledger row: its
    papers as they are stored now, with the scores, reasons and topics it was sent with,
    in the order it showed them. None if no digest was delivered that day."""
    row = session.execute(
        select(DeliveryRow.items).where(
            DeliveryRow.subscriber_id == subscriber.id,
            DeliveryRow.digest_date == day,
            DeliveryRow.status.in_(DELIVERED),
        )
    ).first()
    if row is None:
        return None
    items = decode_items(row.items)
    papers = {p.db_id: p for p in papers_by_ids(session, [item.paper_id for item in items])}
    picks = tuple(
        Pick(papers[item.paper_id], item.score, item.reason, item.topic)
        for item in items
        if item.paper_id in papers and item.reason != TRENDING_REASON
    )
    trending = tuple(
        papers[item.paper_id]
        for item in items
        if item.paper_id in papers and item.reason == TRENDING_REASON
    )
    return Digest(subscriber, day, picks, trending, since=_weekly_since(session, subscriber, day))


def _weekly_since(session: Session, subscriber: Subscriber, day: date) -> date | None:
    """The first day a weekly digest covered: the previous digest's date, at most a week
    back. The ledger does not say whether a digest was weekly; one on a weekly
    subscriber's weekday is taken to be."""
    if not subscriber.weekly or day.weekday() != subscriber.weekday:
        return None
    previous = previous_digest_dates(session, [subscriber.id], day).get(subscriber.id)
    week_ago = day - timedelta(days=7)
    return max(previous or week_ago, week_ago)


def feed_items(session: Session, subscriber_id: int, *, since: date) -> list[FeedItem]:
    """Every paper delivered to the subscriber in digests dated `since` or later: the newest
    digest first, each digest's papers in the order it showed them."""
    rows = session.execute(
        select(
            DeliveryRow.digest_date, DeliveryRow.sent_at, DeliveryRow.updated_at, DeliveryRow.items
        )
        .where(
            DeliveryRow.subscriber_id == subscriber_id,
            DeliveryRow.status.in_(DELIVERED),
            DeliveryRow.digest_date >= since,
        )
        .order_by(DeliveryRow.digest_date.desc())
    ).all()
    listed = [(row, item) for row in rows for item in decode_items(row.items)]
    papers = {p.db_id: p for p in papers_by_ids(session, [item.paper_id for _, item in listed])}
    return [
        FeedItem(row.digest_date, row.sent_at or row.updated_at, papers[item.paper_id], item.reason)
        for row, item in listed
        if item.paper_id in papers
    ]
