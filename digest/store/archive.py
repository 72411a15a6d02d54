"""Past digests as the ledger recorded them: the archive pages, the feed and the weekly
window read them here.

A digest was delivered when its ledger row ended `sent` or `unknown` (it may have gone
out) or `published` (kept for the feed and archive only); its papers are the row's
`items`, in the order the message showed them.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest.store.engine import among
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
