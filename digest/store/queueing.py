"""Queueing the day's deliveries: who is due, and one `queued` ledger row each.

`queue_due` creates `queued` rows for due subscribers with one INSERT … SELECT per local date;
the unique (subscriber, date) key makes it idempotent across workers and restarts. Who is
due is decided in `digest.send.due` from the (time zone, send time) groups read here; a
weekly subscriber is due only on their weekday, so their other days get no row at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime

from sqlalchemy import ColumnElement, literal, or_, select, text, tuple_
from sqlalchemy.orm import Session

from digest.records import Subscriber
from digest.store.engine import dialect_insert
from digest.store.schema import DeliveryRow, SubscriberRow, SuppressionRow
from digest.store.subscribers import to_record

SendGroup = tuple[str, str]  # (IANA time zone, "HH:MM")


def send_groups(session: Session, *, subscriber_id: int | None = None) -> list[SendGroup]:
    """The distinct (time zone, send time) pairs of active subscribers."""
    query = (
        select(SubscriberRow.timezone, SubscriberRow.send_at)
        .where(SubscriberRow.status == "active")
        .distinct()
    )
    if subscriber_id is not None:
        query = query.where(SubscriberRow.id == subscriber_id)
    return [(tz, at) for tz, at in session.execute(query)]


def _due_conditions(
    day: date, groups: Sequence[SendGroup], subscriber_id: int | None
) -> list[ColumnElement[bool]]:
    served = select(DeliveryRow.id).where(
        DeliveryRow.subscriber_id == SubscriberRow.id, DeliveryRow.digest_date == day
    )
    suppressed = select(SuppressionRow.email).where(SuppressionRow.email == SubscriberRow.email)
    conditions = [
        SubscriberRow.status == "active",
        tuple_(SubscriberRow.timezone, SubscriberRow.send_at).in_(groups),
        ~served.exists(),
        ~suppressed.exists(),
        or_(SubscriberRow.frequency != "weekly", SubscriberRow.weekday == day.weekday()),
    ]
    if subscriber_id is not None:
        conditions.append(SubscriberRow.id == subscriber_id)
    return conditions


def queue_due(
    session: Session,
    due: Mapping[date, Sequence[SendGroup]],
    *,
    now: datetime,
    subscriber_id: int | None = None,
) -> int:
    """Create `queued` rows for active, unsuppressed subscribers of the due groups that have
    no row for that local date yet. Returns how many rows were created."""
    created = 0
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        # Right after a bulk import the planner has no statistics and picks a nested loop
        # that rescans the rows this very INSERT adds: quadratic, measured at 150 s to
        # queue a day of 100,000 subscribers (bench/daily_run.py). A hash anti-join reads
        # the day's rows once.
        session.execute(text("SET LOCAL enable_nestloop = off"))
    for day, groups in due.items():
        rows = select(
            SubscriberRow.id,
            literal(day),
            literal("queued"),
            literal(0),
            literal(0),
            literal(now, DeliveryRow.created_at.type),
            literal(now, DeliveryRow.updated_at.type),
        ).where(*_due_conditions(day, groups, subscriber_id))
        statement = (
            dialect_insert(session)(DeliveryRow)
            .from_select(
                [
                    "subscriber_id",
                    "digest_date",
                    "status",
                    "attempts",
                    "item_count",
                    "created_at",
                    "updated_at",
                ],
                rows,
            )
            .on_conflict_do_nothing()
            .returning(DeliveryRow.id)
        )
        created += len(session.scalars(statement).all())
    if postgres:
        session.execute(text("SET LOCAL enable_nestloop TO DEFAULT"))
    return created


def groups_due_on(session: Session, day: date, groups: Sequence[SendGroup]) -> set[SendGroup]:
    """Those of `groups` with a subscriber `queue_due` would queue for local `day` (active,
    unsuppressed, no row for that date yet, and if weekly, `day` is their weekday)."""
    if not groups:
        return set()
    query = select(SubscriberRow.timezone, SubscriberRow.send_at).distinct()
    rows = session.execute(query.where(*_due_conditions(day, groups, None)))
    return {(timezone, send_at) for timezone, send_at in rows}


def due_without_row(
    session: Session,
    due: Mapping[date, Sequence[SendGroup]],
    *,
    subscriber_id: int | None = None,
) -> list[tuple[Subscriber, date]]:
    """Who `queue_due` would queue, without writing anything (for dry runs)."""
    result: list[tuple[Subscriber, date]] = []
    for day, groups in due.items():
        rows = session.scalars(
            select(SubscriberRow)
            .where(*_due_conditions(day, groups, subscriber_id))
            .order_by(SubscriberRow.id)
        )
        result.extend((to_record(row), day) for row in rows)
    return result
