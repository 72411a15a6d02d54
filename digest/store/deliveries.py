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

Every statement here is the same on both databases; the indexes serve them (migration 0008):
the queue index holds only claimable rows, so a claim never walks the day's finished ones,
and the lease index holds only leased rows, so a heartbeat or a lookup by owner is cheap.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from digest.records import Claim, DeliveryStatus, Item, Outcome
from digest.store.engine import dialect_insert
from digest.store.schema import DeliveryRow, SentPaperRow, SubscriberRow
from digest.store.subscribers import to_record
from digest.store.suppressions import suppress_addresses

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


class Recovered(NamedTuple):
    """What `recover_interrupted` did: rows made `unknown`, queued rows' leases released."""

    unknown: int
    released: int


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


def _claimable(now: datetime) -> ColumnElement[bool]:
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
    pick = select(_ROW.id).where(_claimable(now)).limit(limit)
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
    return [
        Claim(row.delivery_id, to_record(row), row.digest_date, row.attempts, row.token_version)
        for row in rows
    ]


def renew_leases(session: Session, *, worker_id: str, lease_until: datetime) -> int:
    """The heartbeat: extend every lease `worker_id` holds; returns how many it holds."""
    result = session.execute(
        update(LEDGER).where(_ROW.lease_owner == worker_id).values(lease_expires_at=lease_until)
    )
    return int(cast(Any, result).rowcount or 0)


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


def record_outcomes(
    session: Session, outcomes: Sequence[Outcome], *, worker_id: str, now: datetime
) -> None:
    """Store what happened to rows this worker holds, in the caller's transaction. A row
    that is no longer this worker's (a sibling's recovery took it) keeps what it has."""
    if not outcomes:
        return
    groups: dict[tuple[str, ...], list[dict[str, object]]] = {}
    for outcome in outcomes:
        values = _row_values(outcome, now)
        row = {"row_id": outcome.delivery_id} | {f"new_{c}": v for c, v in values.items()}
        groups.setdefault(tuple(values), []).append(row)
    for columns, rows in groups.items():
        session.execute(
            update(LEDGER)
            .where(_ROW.id == bindparam("row_id"), _ROW.lease_owner == worker_id)
            .values({c: bindparam(f"new_{c}", type_=_ROW[c].type) for c in columns}),
            rows,
        )
    delivered = [o for o in outcomes if o.status in ("sent", "unknown", "published")]
    _insert_sent_papers(
        session,
        [(o.subscriber_id, item.paper_id, o.digest_date) for o in delivered for item in o.items],
    )
    bounced = [(o.email, o.error or "refused") for o in outcomes if o.suppress and o.email]
    suppress_addresses(session, bounced, source="smtp", now=now)


def _row_values(outcome: Outcome, now: datetime) -> dict[str, object]:
    """The columns an outcome sets. The items were written when the row turned `sending`:
    kept for a message that went out (or may have), dropped for one that did not, so its
    papers may go out another time."""
    delivered = outcome.status in ("sent", "unknown", "skipped", "published")
    values: dict[str, object] = {
        "status": outcome.status,
        "last_error": outcome.error[:2000] if outcome.error else None,
        "lease_owner": None,
        "lease_expires_at": None,
        "next_attempt_at": outcome.next_attempt_at,
        "updated_at": now,
        "message_id": outcome.message_id,
        "sent_at": now if outcome.status in ("sent", "published") else None,
        "item_count": len(outcome.items) if delivered else 0,
    }
    if outcome.status == "published":  # never marked `sending`: its items go in now
        values["items"] = encode_items(outcome.items)
    elif not delivered:
        values["items"] = None
    return values


def _insert_sent_papers(session: Session, rows: Sequence[tuple[int, int, date]]) -> None:
    """Mark (subscriber id, paper id, date) sent; a pair already marked stays as it is."""
    if rows:
        session.execute(
            dialect_insert(session)(SENT_PAPERS).on_conflict_do_nothing(),
            [{"subscriber_id": s, "paper_id": p, "sent_on": day} for s, p, day in rows],
        )


def lease_owners(session: Session) -> list[str]:
    """Workers holding leases (on queued or `sending` rows), for the dead-worker check."""
    query = select(_ROW.lease_owner).where(_ROW.lease_owner.is_not(None)).distinct()
    return [owner for owner in session.scalars(query) if owner]


def recover_interrupted(
    session: Session, *, now: datetime, dead_owners: Collection[str] = ()
) -> Recovered:
    """`sending` rows of dead workers or with expired leases → `unknown` (their papers count
    as sent); dead workers' leases on queued rows are released."""
    stale = or_(_ROW.lease_owner.in_(list(dead_owners)), _ROW.lease_expires_at < now)
    rows = session.execute(
        select(_ROW.id, _ROW.subscriber_id, _ROW.digest_date, _ROW["items"]).where(
            _ROW.lease_owner.is_not(None), _ROW.status == "sending", stale
        )
    ).all()
    if rows:
        _insert_sent_papers(
            session,
            [
                (row.subscriber_id, item.paper_id, row.digest_date)
                for row in rows
                for item in decode_items(row.items)
            ],
        )
        session.execute(
            update(LEDGER)
            .where(_ROW.id.in_([row.id for row in rows]), _ROW.status == "sending")
            .values(
                status="unknown",
                last_error="interrupted while the message was with the SMTP server; it may "
                "have been delivered, so it is not resent",
                lease_owner=None,
                lease_expires_at=None,
                updated_at=now,
            )
        )
    released = 0
    if dead_owners:
        result = session.execute(
            update(LEDGER)
            .where(_ROW.lease_owner.in_(list(dead_owners)), IN_QUEUE)
            .values(lease_owner=None, lease_expires_at=None)
        )
        released = int(cast(Any, result).rowcount or 0)
    return Recovered(len(rows), released)


def refresh_statistics(session: Session) -> None:
    """Let PostgreSQL's planner see the ledger as it is now, after queueing a day: with
    statistics from before, it takes the table for nearly empty and scans all of it to
    find a batch's rows by id. (SQLite plans from the indexes alone; statistics taken
    while every row is `queued` would only mislead it.)"""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE deliveries, subscribers"))


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
    query = select(func.count()).select_from(LEDGER).where(_claimable(now))
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


def reopen_delivery(
    session: Session, subscriber_id: int, digest_date: date, *, now: datetime
) -> str | None:
    """Put a subscriber's ledger row for `digest_date` back in the queue so it is sent again
    (an operator's explicit resend): its items and their sent-papers marks are dropped so the
    same papers may go out again. Returns the row's previous status, None if it had none."""
    row = session.execute(
        select(_ROW.id, _ROW.status, _ROW["items"]).where(
            _ROW.subscriber_id == subscriber_id, _ROW.digest_date == digest_date
        )
    ).first()
    if row is None:
        return None
    papers = [item.paper_id for item in decode_items(row.items)]
    if papers:
        session.execute(
            delete(SENT_PAPERS).where(
                SENT_PAPERS.c.subscriber_id == subscriber_id, SENT_PAPERS.c.paper_id.in_(papers)
            )
        )
    session.execute(
        update(LEDGER)
        .where(_ROW.id == row.id)
        .values(
            status="queued",
            attempts=0,
            item_count=0,
            items=None,
            message_id=None,
            last_error=None,
            lease_owner=None,
            lease_expires_at=None,
            next_attempt_at=None,
            sent_at=None,
            updated_at=now,
        )
    )
    return str(row.status)
