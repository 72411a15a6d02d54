"""The delivery ledger: one row per (subscriber, local digest date), and its state changes.

    queued ──claim (lease)──► sending ──► sent | retry | failed | unknown
       └──────────────────────────────► skipped (nothing relevant that day)

- Rows are created by `store.queueing.queue_due`.
- `claim_deliveries` leases a batch atomically: `FOR UPDATE SKIP LOCKED` on PostgreSQL, a
  conditional UPDATE inside SQLite's `BEGIN IMMEDIATE` write lock. The rows stay `queued`.
- `mark_sending` turns a sub-batch `sending` right before its SMTP transactions and writes
  the papers each message carries (the row's `items`); `record_outcomes` then stores the
  result, with `sent_papers`, in one transaction. `unmark_sending` undoes the mark for a
  sub-batch that was never sent (the worker was asked to stop).
- `recover_interrupted` turns `sending` rows of a dead worker (or an expired lease) into
  `unknown`: the message may have gone out, so it is never resent blindly, and its papers
  count as sent. Leases of a dead worker's `queued` rows are released.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple, cast

from sqlalchemy import (
    ARRAY,
    BigInteger,
    ColumnElement,
    Table,
    Text,
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
from sqlalchemy import (
    cast as sql_cast,
)
from sqlalchemy.orm import Session

from digest.records import Subscriber
from digest.store.engine import among, array_literal
from digest.store.schema import DeliveryRow, SentPaperRow, SubscriberRow
from digest.store.subscribers import to_record
from digest.store.suppressions import suppress_addresses

CLAIMABLE = ("queued", "retry")
# The ledger as a Core table: the statements of a delivery run are built on it, without
# the ORM's per-statement bookkeeping (they never load or change ORM objects).
_LEDGER = cast(Table, DeliveryRow.__table__)
INSERT_CHUNK = 5000


@dataclass(frozen=True, slots=True)
class Claim:
    """A leased ledger row and the subscriber it is for."""

    delivery_id: int
    subscriber: Subscriber
    digest_date: date
    attempts: int
    token_version: int = 0


class Item(NamedTuple):
    """One paper a message carries, with its score and why it was picked. A tuple: a day
    makes over a million of them, in the helpers and again in the delivering process."""

    paper_id: int
    score: float
    reason: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one claimed row. `status`: sent, retry, failed, unknown or skipped."""

    delivery_id: int
    subscriber_id: int
    digest_date: date
    status: str
    email: str = ""
    message_id: str | None = None
    error: str | None = None
    items: tuple[Item, ...] = ()
    next_attempt_at: datetime | None = None
    suppress: bool = False


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One ledger row as the CLI and tests see it."""

    email: str
    digest_date: date
    status: str
    attempts: int
    item_count: int
    message_id: str | None
    last_error: str | None


def lease_owners(session: Session) -> list[str]:
    """Workers holding leases or `sending` rows, for the dead-worker check at start-up."""
    query = (
        select(DeliveryRow.lease_owner)
        .where(
            DeliveryRow.lease_owner.is_not(None), DeliveryRow.status.in_((*CLAIMABLE, "sending"))
        )
        .distinct()
    )
    return [owner for owner in session.scalars(query) if owner]


def recover_interrupted(session: Session, *, now: datetime, dead_owners: Collection[str]) -> int:
    """`sending` rows of dead workers or with expired leases → `unknown` (their papers count as
    sent); dead workers' leases on queued rows are released. Returns the rows made unknown."""
    stale = or_(DeliveryRow.lease_owner.in_(dead_owners), DeliveryRow.lease_expires_at < now)
    rows = session.execute(
        select(
            DeliveryRow.id, DeliveryRow.subscriber_id, DeliveryRow.digest_date, DeliveryRow.items
        ).where(DeliveryRow.status == "sending", stale)
    ).all()
    ids = [row.id for row in rows]
    if ids:
        _insert_sent_papers(
            session,
            [
                (row.subscriber_id, item.paper_id, row.digest_date)
                for row in rows
                for item in decode_items(row.items)
            ],
        )
        session.execute(
            update(DeliveryRow)
            .where(among(session, DeliveryRow.id, ids), _status_of_named_rows() == "sending")
            .values(
                status="unknown",
                last_error="interrupted while the message was with the SMTP server; it may "
                "have been delivered, so it is not resent",
                lease_owner=None,
                lease_expires_at=None,
                updated_at=now,
            )
        )
    if dead_owners:
        session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.status.in_(CLAIMABLE), DeliveryRow.lease_owner.in_(dead_owners))
            .values(lease_owner=None, lease_expires_at=None)
        )
    return len(ids)


def encode_items(items: Sequence[Item]) -> str | None:
    """A delivery's items as stored in its row: JSON [[paper id, score, reason], …]."""
    if not items:
        return None
    return json.dumps(items, separators=(",", ":"))  # each `Item` tuple a JSON array


def decode_items(stored: str | None) -> list[Item]:
    """The items `encode_items` stored (none for NULL)."""
    if not stored:
        return []
    return [Item(int(p), float(score), str(reason)) for p, score, reason in json.loads(stored)]


def _insert_sent_papers(session: Session, rows: Sequence[tuple[int, int, date]]) -> None:
    """Mark (subscriber id, paper id, date) sent; a pair already marked stays as it is. On
    PostgreSQL one statement over three arrays, on SQLite a driver-level executemany."""
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        subscribers, papers, days = zip(*rows, strict=True)
        session.execute(
            text(
                "INSERT INTO sent_papers (subscriber_id, paper_id, sent_on) "
                "SELECT * FROM unnest(CAST(:subscribers AS integer[]), "
                "CAST(:papers AS integer[]), CAST(:days AS date[])) "
                "ON CONFLICT DO NOTHING"
            ),
            {
                "subscribers": array_literal(subscribers),
                "papers": array_literal(papers),
                "days": array_literal(days),
            },
        )
        return
    statement = (
        "INSERT INTO sent_papers (subscriber_id, paper_id, sent_on) VALUES (?, ?, ?) "
        "ON CONFLICT DO NOTHING"
    )
    values = [(subscriber, paper, day.isoformat()) for subscriber, paper, day in rows]
    connection = session.connection()
    for start in range(0, len(values), INSERT_CHUNK):
        connection.exec_driver_sql(statement, values[start : start + INSERT_CHUNK])


def _status_of_named_rows() -> ColumnElement[str]:
    """`deliveries.status` for a statement that names its rows by id, wrapped so that no
    index can answer it. Given a few dozen ids and a condition on `status`, both SQLite and
    PostgreSQL would otherwise walk every queued row of the status index instead of looking
    the ids up, so that each batch cost as much as the whole day's queue."""
    return _LEDGER.c.status.concat("")


def _claimable(now: datetime, *, named: bool = False) -> ColumnElement[bool]:
    """Rows that may be claimed now. `named`: as a condition on rows a statement already
    names by id (see `_status_of_named_rows`); otherwise one the status index answers."""
    status = _status_of_named_rows() if named else _LEDGER.c.status
    ledger = _LEDGER.c
    return and_(
        status.in_(CLAIMABLE),
        or_(ledger.next_attempt_at.is_(None), ledger.next_attempt_at <= now),
        or_(ledger.lease_owner.is_(None), ledger.lease_expires_at < now),
    )


def refresh_statistics(session: Session) -> None:
    """Let PostgreSQL's planner see the ledger as it is now, after queueing a day: with
    statistics from before, it takes the table for nearly empty and scans all of it to
    find a batch's rows by id."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE deliveries, subscribers"))


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
    ledger = _LEDGER.c
    pick = select(ledger.id).where(_claimable(now)).limit(limit)
    if subscriber_id is not None:
        pick = pick.where(ledger.subscriber_id == subscriber_id)
    if digest_date is not None:
        pick = pick.where(ledger.digest_date == digest_date)
    # No ORDER BY: sorting every claimable row for each batch made a day of 100,000 rows
    # quadratic; the scan stops after `limit` rows, in about queue order.
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    # Pick first, then update with the conditions repeated: on PostgreSQL the picked rows
    # are locked (others skip them); on SQLite the write lock is already ours.
    picked = list(session.scalars(pick))
    if not picked:
        return []
    claimed = list(
        session.scalars(
            update(_LEDGER)
            .where(among(session, ledger.id, picked), _claimable(now, named=True))
            .values(lease_owner=worker_id, lease_expires_at=lease_until)
            .returning(ledger.id)
        )
    )
    if not claimed:
        return []
    # Plain rows, not ORM objects: a claimed batch is read once and never changed here.
    subscribers = cast(Table, SubscriberRow.__table__)
    rows = session.execute(
        select(ledger.id.label("delivery_id"), ledger.digest_date, ledger.attempts, subscribers)
        .join_from(_LEDGER, subscribers, subscribers.c.id == ledger.subscriber_id)
        .where(among(session, ledger.id, claimed))
        .order_by(ledger.id)
    ).all()
    return [
        Claim(row.delivery_id, to_record(row), row.digest_date, row.attempts, row.token_version)
        for row in rows
    ]


def mark_sending(
    session: Session,
    planned: Mapping[int, Sequence[Item]],
    *,
    worker_id: str,
    now: datetime,
    lease_until: datetime,
) -> set[int]:
    """Turn rows this worker still holds `sending` and write their items; returns the ids
    actually marked (a row whose lease was lost is not, and must not be sent)."""
    if not planned:
        return set()
    table = _LEDGER
    mark = update(table).where(
        table.c.lease_owner == worker_id, _status_of_named_rows().in_(CLAIMABLE)
    )
    values: dict[str, object] = {
        "status": "sending",
        "attempts": table.c.attempts + 1,
        "lease_expires_at": lease_until,
        "updated_at": now,
    }
    encoded = {delivery_id: encode_items(items) for delivery_id, items in planned.items()}
    if session.get_bind().dialect.name == "postgresql":
        # One statement: the rows and their items joined in as two arrays.
        new = (
            func.unnest(
                sql_cast(
                    bindparam("marked_ids", array_literal(encoded), type_=Text),
                    ARRAY(BigInteger),
                ),
                bindparam("marked_items", list(encoded.values()), type_=ARRAY(Text)),
            )
            .table_valued("id", "stored")
            .render_derived()
        )
        statement = mark.where(table.c.id == new.c.id).values({**values, "items": new.c.stored})
        return set(session.scalars(statement.returning(table.c.id)))
    # SQLite: mark, then write the items of the rows marked (same transaction).
    statement = mark.where(among(session, table.c.id, encoded)).values(values)
    marked = set(session.scalars(statement.returning(table.c.id)))
    if marked:
        session.connection().exec_driver_sql(
            "UPDATE deliveries SET items = ? WHERE id = ?",
            [(encoded[delivery_id], delivery_id) for delivery_id in marked],
        )
    return marked


def unmark_sending(session: Session, delivery_ids: Iterable[int], *, worker_id: str) -> None:
    """Undo `mark_sending` for rows this worker marked but then did not send (it was asked
    to stop): back to `queued` (or `retry`, if an earlier attempt failed), lease released,
    the attempt and the items it had planned removed."""
    ids = list(delivery_ids)
    if not ids:
        return
    ledger = _LEDGER.c
    session.execute(
        update(_LEDGER)
        .where(
            among(session, ledger.id, ids),
            ledger.lease_owner == worker_id,
            _status_of_named_rows() == "sending",
        )
        .values(
            status=case((ledger.attempts > 1, "retry"), else_="queued"),
            attempts=ledger.attempts - 1,
            lease_owner=None,
            lease_expires_at=None,
            items=None,
        )
    )


def release(session: Session, delivery_ids: Iterable[int], *, worker_id: str) -> None:
    """Give back leases on rows this worker claimed but did not attempt."""
    ids = list(delivery_ids)
    if ids:
        session.execute(
            update(_LEDGER)
            .where(
                among(session, _LEDGER.c.id, ids),
                _LEDGER.c.lease_owner == worker_id,
                _status_of_named_rows().in_(CLAIMABLE),
            )
            .values(lease_owner=None, lease_expires_at=None)
        )


def record_outcomes(session: Session, outcomes: Sequence[Outcome], *, now: datetime) -> None:
    """Store what happened to a batch, in the caller's (single) transaction."""
    if not outcomes:
        return
    # The items were written when the rows turned `sending` (mark_sending); those of
    # messages that did not go out are dropped with the outcome (see `_row_values`).
    _update_rows(session, [_row_values(outcome, now) for outcome in outcomes])
    delivered = [o for o in outcomes if o.status in ("sent", "unknown")]
    _insert_sent_papers(
        session,
        [(o.subscriber_id, item.paper_id, o.digest_date) for o in delivered for item in o.items],
    )
    bounced = [(o.email, o.error or "refused") for o in outcomes if o.suppress and o.email]
    suppress_addresses(session, bounced, source="smtp", now=now)


# PostgreSQL array types of the columns an outcome sets (see `_update_rows`).
_ARRAY_TYPES = {
    "id": "bigint",
    "status": "text",
    "last_error": "text",
    "lease_owner": "text",
    "lease_expires_at": "timestamptz",
    "next_attempt_at": "timestamptz",
    "updated_at": "timestamptz",
    "item_count": "integer",
    "message_id": "text",
    "sent_at": "timestamptz",
    "items": "text",
}


def _update_rows(session: Session, rows: Sequence[dict[str, object]]) -> None:
    """UPDATE deliveries by id, one statement per set of columns: on PostgreSQL one UPDATE
    joined to the new values as arrays (one round trip, no per-row statements), on SQLite a
    Core executemany (the ORM's bulk update does the same with much more bookkeeping)."""
    groups: dict[tuple[str, ...], list[dict[str, object]]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    postgresql = session.get_bind().dialect.name == "postgresql"
    table = _LEDGER
    for columns, group in groups.items():
        changed = [c for c in columns if c != "id"]
        if postgresql:
            # Values the whole group shares (most: the status, the time) go as one
            # parameter; only those that differ from row to row as arrays.
            shared = [c for c in changed if all(r[c] == group[0][c] for r in group)]
            varying = ["id", *(c for c in changed if c not in shared)]
            arrays = ", ".join(f"CAST(:{c} AS {_ARRAY_TYPES[c]}[])" for c in varying)
            assignments = [f"{c} = CAST(:{c} AS {_ARRAY_TYPES[c]})" for c in shared]
            assignments += [f"{c} = v.{c}" for c in varying if c != "id"]
            values = {c: group[0][c] for c in shared}
            values |= {
                c: array_literal(cast(int, r[c]) for r in group)
                if _ARRAY_TYPES[c] in ("bigint", "integer")
                else [r[c] for r in group]
                for c in varying
            }
            session.execute(
                text(
                    f"UPDATE deliveries SET {', '.join(assignments)} "
                    f"FROM unnest({arrays}) AS v({', '.join(varying)}) "
                    "WHERE deliveries.id = v.id"
                ),
                values,
            )
            continue
        statement = (
            update(table)
            .where(table.c.id == bindparam("row_id", type_=table.c.id.type))
            .values({c: bindparam(f"new_{c}", type_=table.c[c].type) for c in changed})
        )
        params = [{"row_id": r["id"]} | {f"new_{c}": r[c] for c in changed} for r in group]
        session.execute(statement, params)


def _row_values(outcome: Outcome, now: datetime) -> dict[str, object]:
    values: dict[str, object] = {
        "id": outcome.delivery_id,
        "status": outcome.status,
        "last_error": outcome.error[:2000] if outcome.error else None,
        "lease_owner": None,
        "lease_expires_at": None,
        "next_attempt_at": outcome.next_attempt_at,
        "updated_at": now,
    }
    if outcome.status in ("sent", "unknown", "skipped"):
        values["item_count"] = len(outcome.items)
    else:
        values["items"] = None  # not sent: its papers may go out another time
    if outcome.message_id is not None:
        values["message_id"] = outcome.message_id
    if outcome.status == "sent":
        values["sent_at"] = now
    return values


def sent_paper_ids(
    session: Session, subscriber_ids: Collection[int], paper_ids: Collection[int]
) -> dict[int, set[int]]:
    """For each subscriber, which of `paper_ids` they have already been sent."""
    result: dict[int, set[int]] = {sid: set() for sid in subscriber_ids}
    if not subscriber_ids or not paper_ids:
        return result
    rows = session.execute(
        select(SentPaperRow.subscriber_id, SentPaperRow.paper_id).where(
            among(session, SentPaperRow.subscriber_id, subscriber_ids),
            among(session, SentPaperRow.paper_id, paper_ids),
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
    query = select(func.count()).where(_claimable(now))
    if subscriber_id is not None:
        query = query.where(DeliveryRow.subscriber_id == subscriber_id)
    if digest_date is not None:
        query = query.where(DeliveryRow.digest_date == digest_date)
    return int(session.scalar(query) or 0)


def ledger_entries(session: Session, *, digest_date: date | None = None) -> list[LedgerEntry]:
    """Ledger rows with their subscriber's address, oldest first."""
    query = (
        select(DeliveryRow, SubscriberRow.email)
        .join(SubscriberRow, SubscriberRow.id == DeliveryRow.subscriber_id)
        .order_by(DeliveryRow.id)
    )
    if digest_date is not None:
        query = query.where(DeliveryRow.digest_date == digest_date)
    return [
        LedgerEntry(
            email,
            row.digest_date,
            row.status,
            row.attempts,
            row.item_count,
            row.message_id,
            row.last_error,
        )
        for row, email in session.execute(query)
    ]


def reopen_delivery(
    session: Session, subscriber_id: int, digest_date: date, *, now: datetime
) -> str | None:
    """Put a subscriber's ledger row for `digest_date` back in the queue so it is sent again
    (an operator's explicit resend): its items and their sent-papers marks are dropped so the
    same papers may go out again. Returns the row's previous status, None if it had none."""
    row = session.scalar(
        select(DeliveryRow).where(
            DeliveryRow.subscriber_id == subscriber_id, DeliveryRow.digest_date == digest_date
        )
    )
    if row is None:
        return None
    previous = row.status
    papers = [item.paper_id for item in decode_items(row.items)]
    if papers:
        session.execute(
            delete(SentPaperRow).where(
                SentPaperRow.subscriber_id == subscriber_id,
                among(session, SentPaperRow.paper_id, papers),
            )
        )
    row.status, row.attempts, row.item_count, row.items = "queued", 0, 0, None
    row.message_id = row.last_error = row.lease_owner = None
    row.lease_expires_at = row.next_attempt_at = row.sent_at = None
    row.updated_at = now
    session.flush()
    return previous
