"""Reading the delivery ledger: what a worker could claim now, which papers subscribers
were already sent, the rows as the CLI shows them.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest.records import DeliveryStatus
from digest.store.deliveries import LEDGER, SENT_PAPERS, SUBSCRIBERS, claimable

_ROW = LEDGER.c


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One ledger row as the CLI and tests see it."""

    email: str
    digest_date: date
    status: DeliveryStatus
    attempts: int
    item_count: int
    message_id: str | None
    last_error: str | None


def sent_paper_ids(
    session: Session, subscriber_ids: Collection[int], paper_ids: Collection[int]
) -> dict[int, set[int]]:
    """For each subscriber, which of `paper_ids` they have already been sent."""
    result: dict[int, set[int]] = {sid: set() for sid in subscriber_ids}
    if not subscriber_ids or not paper_ids:
        return result
    sent = SENT_PAPERS.c
    rows = session.execute(
        select(sent.subscriber_id, sent.paper_id).where(
            sent.subscriber_id.in_(list(subscriber_ids)), sent.paper_id.in_(list(paper_ids))
        )
    )
    for subscriber_id, paper_id in rows:
        result[subscriber_id].add(paper_id)
    return result


def pending_count(
    session: Session,
    *,
    now: datetime,
    subscriber_id: int | None = None,
    digest_date: date | None = None,
) -> int:
    """Rows a worker could claim now (for progress bars)."""
    query = select(func.count()).select_from(LEDGER).where(claimable(now))
    if subscriber_id is not None:
        query = query.where(_ROW.subscriber_id == subscriber_id)
    if digest_date is not None:
        query = query.where(_ROW.digest_date == digest_date)
    return int(session.scalar(query) or 0)


def ledger_entries(session: Session, *, digest_date: date | None = None) -> list[LedgerEntry]:
    """Ledger rows with their subscriber's address, oldest first."""
    query = (
        select(
            SUBSCRIBERS.c.email,
            _ROW.digest_date,
            _ROW.status,
            _ROW.attempts,
            _ROW.item_count,
            _ROW.message_id,
            _ROW.last_error,
        )
        .join_from(LEDGER, SUBSCRIBERS, SUBSCRIBERS.c.id == _ROW.subscriber_id)
        .order_by(_ROW.id)
    )
    if digest_date is not None:
        query = query.where(_ROW.digest_date == digest_date)
    return [LedgerEntry(*row) for row in session.execute(query)]
