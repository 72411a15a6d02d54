"""What becomes of ledger rows: the outcome of an attempt, the rows a crash left in doubt,
and an operator's resend (see `digest.store.deliveries` for the states).

- `record_outcomes` stores the results of attempts, with the papers each message carried
  (`sent_papers`: a subscriber never gets a paper twice), and suppresses refused addresses.
- `recover_interrupted` turns the `sending` rows of a dead worker (or with an expired lease)
  into `unknown`: the message may have gone out, so it is never resent blindly, and its
  papers count as sent. A dead worker's leases on queued rows are released.
- `reopen_delivery` puts a row back in the queue for an explicit resend.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime
from typing import NamedTuple

from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.orm import Session

from digest.records import Outcome
from digest.store.deliveries import IN_QUEUE, LEDGER, SENT_PAPERS, decode_items, encode_items
from digest.store.engine import dialect_insert, rows_changed
from digest.store.suppressions import suppress_addresses

_ROW = LEDGER.c


class Recovered(NamedTuple):
    """What `recover_interrupted` did: rows made `unknown`, queued rows' leases released."""

    unknown: int
    released: int


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
        released = rows_changed(result)
    return Recovered(len(rows), released)


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
