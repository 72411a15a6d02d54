"""What the running service reads and tidies in the database.

Reads for the scheduler, `/healthz` and the systemd status line (does the database
take a write, when did each source last succeed, how many subscribers are active), and the
daily housekeeping: forget sign-ups whose confirmation link has expired, and drop the fetch
state of sources that are no longer configured.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from uuid import uuid4

from sqlalchemy import Engine, delete, func, insert, select
from sqlalchemy.exc import SQLAlchemyError

from digest.errors import DatabaseUnavailable
from digest.store.engine import rows_changed, transaction
from digest.store.papers import SourceState, list_source_states
from digest.store.schema import DeliveryRow, SourceStateRow, SubscriberRow


def database_problem(engine: Engine) -> DatabaseUnavailable | None:
    """None when the database takes a write, else why not (read-only, locked, down …).

    Reading is not enough: a read-only file or server answers every SELECT. So this writes
    a row and rolls it back, waiting for the write lock as long as any writer would.
    """
    probe = f"health probe {uuid4().hex}"
    try:
        with engine.connect() as conn, conn.begin() as work:
            conn.execute(insert(SourceStateRow).values(name=probe))
            work.rollback()
    except DatabaseUnavailable as exc:
        return exc
    except SQLAlchemyError as exc:  # e.g. no schema yet
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        first = (reason[0] if reason else type(exc).__name__)[:200]
        fix = "see the service's log; `digest check` tells what the database needs"
        return DatabaseUnavailable(
            f"the database refused a write ({first}): {fix}", problem="error", fix=fix
        )
    return None


def fetch_states(engine: Engine) -> dict[str, SourceState]:
    """The recorded fetch state of every source, by name."""
    with transaction(engine) as session:
        return {state.name: state for state in list_source_states(session)}


def active_subscriber_count(engine: Engine) -> int:
    with transaction(engine) as session:
        count = session.scalar(
            select(func.count()).select_from(SubscriberRow).where(SubscriberRow.status == "active")
        )
    return int(count or 0)


def queued_delivery_count(engine: Engine) -> int:
    """Deliveries waiting for a worker (queued or due for a retry)."""
    with transaction(engine) as session:
        count = session.scalar(
            select(func.count())
            .select_from(DeliveryRow)
            .where(DeliveryRow.status.in_(("queued", "retry")))
        )
    return int(count or 0)


def expire_unconfirmed(engine: Engine, *, requested_before: datetime) -> int:
    """Delete pending sign-ups last touched before `requested_before`; returns how many.

    Their confirmation links have expired, so keeping the address would only keep
    personal data nobody agreed to give.
    """
    with transaction(engine) as session:
        result = session.execute(
            delete(SubscriberRow).where(
                SubscriberRow.status == "pending",
                SubscriberRow.confirmed_at.is_(None),
                SubscriberRow.updated_at < requested_before,
            )
        )
    return rows_changed(result)


def prune_fetch_states(engine: Engine, *, keep: Collection[str]) -> int:
    """Delete the fetch state of sources not in `keep`; returns how many."""
    with transaction(engine) as session:
        query = delete(SourceStateRow)
        if keep:
            query = query.where(SourceStateRow.name.not_in(list(keep)))
        result = session.execute(query)
    return rows_changed(result)
