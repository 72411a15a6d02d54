"""The delivery ledger: one row per (subscriber, local digest date), and its state changes.

    queued ──claim (lease)──► sending ──► sent | retry | failed | unknown
       └──────────────────────────────► skipped (nothing relevant that day)
       └──────────────────────────────► published (feed only: items kept, nothing mailed)

- Rows are created by `store.queueing.queue_due`.
- `claim_deliveries` leases a batch atomically: one UPDATE of the rows a sub-select picks
  (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so workers skip each other's rows; SQLite has no
  such clause and needs none, as its writers take turns). The rows stay `queued`.
- Leases are short (`LEASE_SECONDS`); a living worker renews all of its own with
  `renew_leases` (a heartbeat), so a dead worker's rows return to the queue soon after it
  stops renewing them, whichever host it ran on.
- `mark_sending` turns a row `sending` right before its own SMTP transaction and writes
  the papers the message carries (the row's `items`); `record_outcomes` then stores the
  result, with `sent_papers`, in one transaction. `unmark_sending` undoes the mark for a
  row that was never sent (the worker was asked to stop).
- `recover_interrupted` turns the `sending` rows of a dead worker (or with an expired lease)
  into `unknown`: the message may have gone out, so it is never resent blindly, and its
  papers count as sent. A dead worker's leases on queued rows are released.

This module holds the ledger's tables, the claims and leases and the `sending` marks;
`digest.store.delivery_outcomes` what becomes of a row (`record_outcomes`,
`recover_interrupted`, an operator's resend); `digest.store.delivery_reads` the queries
(pending rows, papers already sent, the rows as the CLI lists them).

The three modules write each statement once for both databases. The SQL differs in one
place: the claim's sub-select ends in `FOR UPDATE SKIP LOCKED` on PostgreSQL, a clause
SQLite's compiler leaves out (the `sent_papers` insert takes its database's INSERT
construct, the same ON CONFLICT DO NOTHING on both). Queueing (`digest.store.queueing`)
also differs: on PostgreSQL it turns off nested loops for its INSERT … SELECT.
The indexes serve the statements (migration 0008): the queue index holds only claimable
rows, so a claim never walks the day's finished ones, and the lease index holds only
leased rows, so a heartbeat or a lookup by owner is cheap.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import cast

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    case,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from digest.records import Claim, Item
from digest.store.engine import rows_changed
from digest.store.schema import DeliveryRow, SentPaperRow, SubscriberRow
from digest.store.subscribers import to_record

CLAIMABLE = ("queued", "retry")
LEASE_SECONDS = 30  # a lease's length; its holder renews it every third of that
# The ledger and its neighbours as Core tables: nothing here loads or changes ORM objects.
LEDGER = cast(Table, DeliveryRow.__table__)
SUBSCRIBERS = cast(Table, SubscriberRow.__table__)
SENT_PAPERS = cast(Table, SentPaperRow.__table__)
_ROW = LEDGER.c

# `status IN ('queued', 'retry')` with the values written out, as in the queue index's own
# condition: SQLite uses a partial index only for a query that repeats its condition.
IN_QUEUE = _ROW.status.in_(bindparam("claimable", CLAIMABLE, expanding=True, literal_execute=True))


def encode_items(items: Sequence[Item]) -> str | None:
    """A delivery's items as stored in its row: JSON [[paper id, score, reason, topic], …]."""
    if not items:
        return None
    return json.dumps(items, separators=(",", ":"))  # each `Item` tuple a JSON array


def decode_items(stored: str | None) -> list[Item]:
    """The items `encode_items` stored (none for NULL)."""
    if not stored:
        return []
    return [
        Item(int(p), float(score), str(reason), str(rest[0]) if rest and rest[0] else None)
        for p, score, reason, *rest in json.loads(stored)
    ]


def claimable(now: datetime) -> ColumnElement[bool]:
    """Rows that may be claimed now: queued or due for a retry, and nobody's live lease."""
    return and_(
        IN_QUEUE,
        or_(_ROW.next_attempt_at.is_(None), _ROW.next_attempt_at <= now),
        or_(_ROW.lease_owner.is_(None), _ROW.lease_expires_at < now),
    )


def claim_deliveries(
    session: Session,
    *,
    worker_id: str,
    now: datetime,
    lease_until: datetime,
    limit: int,
    subscriber_id: int | None = None,
    digest_date: date | None = None,
) -> list[Claim]:
    """Lease up to `limit` claimable rows that are due for an attempt (see module docstring)."""
    # No ORDER BY: sorting every claimable row for each batch would make a day quadratic;
    # the queue index hands out rows in about queue order anyway.
    pick = select(_ROW.id).where(claimable(now)).limit(limit)
    if subscriber_id is not None:
        pick = pick.where(_ROW.subscriber_id == subscriber_id)
    if digest_date is not None:
        pick = pick.where(_ROW.digest_date == digest_date)
    claimed = list(
        session.scalars(
            update(LEDGER)
            .where(_ROW.id.in_(pick.with_for_update(skip_locked=True).scalar_subquery()))
            .values(lease_owner=worker_id, lease_expires_at=lease_until)
            .returning(_ROW.id)
        )
    )
    if not claimed:
        return []
    rows = session.execute(
        select(_ROW.id.label("delivery_id"), _ROW.digest_date, _ROW.attempts, SUBSCRIBERS)
        .join_from(LEDGER, SUBSCRIBERS, SUBSCRIBERS.c.id == _ROW.subscriber_id)
        .where(_ROW.id.in_(claimed))
        .order_by(_ROW.id)
    ).all()
    return [Claim(row.delivery_id, to_record(row), row.digest_date, row.attempts) for row in rows]


def renew_leases(session: Session, *, worker_id: str, lease_until: datetime) -> int:
    """The heartbeat: extend every lease `worker_id` holds; returns how many it holds."""
    result = session.execute(
        update(LEDGER).where(_ROW.lease_owner == worker_id).values(lease_expires_at=lease_until)
    )
    return rows_changed(result)


def release(session: Session, delivery_ids: Iterable[int], *, worker_id: str) -> None:
    """Give back leases on rows this worker claimed but did not attempt."""
    ids = list(delivery_ids)
    if ids:
        session.execute(
            update(LEDGER)
            .where(_ROW.id.in_(ids), _ROW.lease_owner == worker_id, IN_QUEUE)
            .values(lease_owner=None, lease_expires_at=None)
        )


def mark_sending(
    session: Session, planned: Mapping[int, Sequence[Item]], *, worker_id: str, now: datetime
) -> set[int]:
    """Turn rows this worker still holds `sending` and write their items; returns the ids
    actually marked (a row whose lease was lost is not, and must not be sent)."""
    if not planned:
        return set()
    marked = set(
        session.scalars(
            update(LEDGER)
            .where(_ROW.id.in_(list(planned)), _ROW.lease_owner == worker_id, IN_QUEUE)
            .values(status="sending", attempts=_ROW.attempts + 1, updated_at=now)
            .returning(_ROW.id)
        )
    )
    with_items = [
        {"row_id": delivery_id, "new_items": encode_items(planned[delivery_id])}
        for delivery_id in marked
        if planned[delivery_id]
    ]
    if with_items:
        session.execute(
            update(LEDGER)
            .where(_ROW.id == bindparam("row_id"))
            .values(items=bindparam("new_items", type_=_ROW["items"].type)),
            with_items,
        )
    return marked


def unmark_sending(session: Session, delivery_ids: Iterable[int], *, worker_id: str) -> None:
    """Undo `mark_sending` for rows this worker marked but then did not send (it was asked
    to stop): back to `queued` (or `retry`, if an earlier attempt failed), lease released,
    the attempt and the items it had planned removed."""
    ids = list(delivery_ids)
    if ids:
        session.execute(
            update(LEDGER)
            .where(_ROW.id.in_(ids), _ROW.lease_owner == worker_id, _ROW.status == "sending")
            .values(
                status=case((_ROW.attempts > 1, "retry"), else_="queued"),
                attempts=_ROW.attempts - 1,
                lease_owner=None,
                lease_expires_at=None,
                items=None,
            )
        )


def lease_owners(session: Session) -> list[str]:
    """Workers holding leases (on queued or `sending` rows), for the dead-worker check."""
    query = select(_ROW.lease_owner).where(_ROW.lease_owner.is_not(None)).distinct()
    return [owner for owner in session.scalars(query) if owner]
