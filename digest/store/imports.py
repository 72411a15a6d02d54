"""Bulk import and export of subscribers in the CSV format the CLI reads and writes.

Format: header `email,topics,categories,authors,exclude,timezone,send_at,status,frequency,
weekday` (any subset with `email`; `weekday` as `mon` … `sun`), several
values in one cell separated by `;`. An import is validated as a whole first and then
written in one transaction: all rows or none. Rows are read and written as plain Core rows,
a thousand at a time, not as ORM objects: a 100,000-line file stays well within memory.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from digest.errors import DigestError, UsageError
from digest.records import Subscriber
from digest.store.schema import SubscriberRow
from digest.store.subscribers import (
    SubscriberInput,
    schedule_values,
    to_record,
    weekday_code,
)

CSV_FIELDS = (
    "email",
    "topics",
    "categories",
    "authors",
    "exclude",
    "timezone",
    "send_at",
    "status",
    "frequency",
    "weekday",
)
MULTI_FIELDS = ("topics", "categories", "authors", "exclude")
WRITE_CHUNK = 1000  # rows per INSERT or UPDATE statement
_SUBSCRIBERS = cast(Table, SubscriberRow.__table__)


@dataclass(frozen=True, slots=True)
class RowProblem:
    line: int
    reason: str


class ImportRejected(UsageError):
    """Some rows are invalid; nothing was imported. `problems` lists them by line."""

    def __init__(self, problems: Sequence[RowProblem]) -> None:
        first = problems[0]
        more = f" (and {len(problems) - 1} more bad rows)" if len(problems) > 1 else ""
        super().__init__(f"line {first.line}: {first.reason}{more}; nothing was imported")
        self.problems = list(problems)


@dataclass
class ImportPlan:
    """What an import would do: the validated rows, split into new, changed and unchanged."""

    new: list[SubscriberInput] = field(default_factory=list)
    changed: list[SubscriberInput] = field(default_factory=list)
    unchanged: list[SubscriberInput] = field(default_factory=list)


def _split(cell: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (cell or "").split(";") if part.strip())


def parse_csv(text: str, progress: Callable[[int], None] | None = None) -> list[SubscriberInput]:
    """Validate every row; raise ImportRejected listing each bad row by line number.
    `progress` is called with the number of rows read so far, every few hundred rows."""
    reader = csv.DictReader(io.StringIO(text))
    header = tuple(reader.fieldnames or ())
    if "email" not in header or not set(header) <= set(CSV_FIELDS):
        raise UsageError(
            f"line 1: the header must be {','.join(CSV_FIELDS)} (email required), "
            f"got {','.join(header) or 'nothing'}"
        )
    rows: list[SubscriberInput] = []
    problems: list[RowProblem] = []
    first_line: dict[str, int] = {}
    for count, record in enumerate(reader, 1):
        if progress is not None and count % 500 == 0:
            progress(count)
        line = reader.line_num
        try:
            if None in record:
                raise UsageError("more cells than the header has columns")
            data = SubscriberInput(
                email=record.get("email") or "",
                topics=_split(record.get("topics")),
                categories=_split(record.get("categories")),
                authors=_split(record.get("authors")),
                exclude=_split(record.get("exclude")),
                timezone=(record.get("timezone") or "").strip() or None,
                send_at=(record.get("send_at") or "").strip() or None,
                status=(record.get("status") or "").strip() or None,
                frequency=(record.get("frequency") or "").strip() or None,
                weekday=(record.get("weekday") or "").strip() or None,
            ).validate()
        except DigestError as exc:
            problems.append(RowProblem(line, str(exc)))
            continue
        if data.email in first_line:
            problems.append(
                RowProblem(line, f"{data.email} already appears on line {first_line[data.email]}")
            )
            continue
        first_line[data.email] = line
        rows.append(data)
    if problems:
        raise ImportRejected(problems)
    return rows


def _same(row: Row[Any], data: SubscriberInput) -> bool:
    return (
        tuple(row.topics) == data.topics
        and tuple(row.categories) == data.categories
        and tuple(row.authors) == data.authors
        and tuple(row.exclude) == data.exclude
        and (data.timezone is None or row.timezone == data.timezone)
        and (data.send_at is None or row.send_at == data.send_at)
        and (data.status is None or row.status == data.status)
        and schedule_values(data, current=(row.frequency, row.weekday, row.feed_only))
        == (row.frequency, row.weekday)
    )


def _existing(session: Session, emails: Iterable[str]) -> dict[str, Row[Any]]:
    wanted = list(emails)
    found: dict[str, Row[Any]] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        for row in session.execute(select(_SUBSCRIBERS).where(_SUBSCRIBERS.c.email.in_(chunk))):
            found[row.email] = row
    return found


def plan_import(session: Session, rows: Sequence[SubscriberInput]) -> ImportPlan:
    existing = _existing(session, (r.email for r in rows))
    plan = ImportPlan()
    for data in rows:
        row = existing.get(data.email)
        if row is None:
            plan.new.append(data)
        elif _same(row, data):
            plan.unchanged.append(data)
        else:
            plan.changed.append(data)
    return plan


def apply_import(
    session: Session,
    plan: ImportPlan,
    *,
    default_timezone: str,
    default_send_at: str,
    now: datetime | None = None,
) -> None:
    """Write a plan: new rows are active unless the file says otherwise."""
    now = now or datetime.now(UTC)
    for start in range(0, len(plan.new), WRITE_CHUNK):
        session.execute(
            insert(_SUBSCRIBERS),
            [
                _new_row(data, default_timezone, default_send_at, now)
                for data in plan.new[start : start + WRITE_CHUNK]
            ],
        )
    statement = (
        update(_SUBSCRIBERS)
        .where(_SUBSCRIBERS.c.id == bindparam("row_id"))
        .values({name: bindparam(f"new_{name}") for name in _CHANGED})
    )
    for start in range(0, len(plan.changed), WRITE_CHUNK):
        chunk = plan.changed[start : start + WRITE_CHUNK]
        existing = _existing(session, (d.email for d in chunk))
        session.execute(statement, [_changed_row(existing[d.email], d, now) for d in chunk])


# The columns an import may change in an existing subscriber's row (see `_changed_row`).
_CHANGED = (
    *("topics", "categories", "authors", "exclude", "timezone", "send_at", "status"),
    *("frequency", "weekday", "confirmed_at", "updated_at"),
)


def _new_row(
    data: SubscriberInput, default_timezone: str, default_send_at: str, now: datetime
) -> dict[str, Any]:
    status = data.status or "active"
    frequency, weekday = schedule_values(data)
    return {
        "email": data.email,
        "status": status,
        "topics": list(data.topics),
        "categories": list(data.categories),
        "authors": list(data.authors),
        "exclude": list(data.exclude),
        "timezone": data.timezone or default_timezone,
        "send_at": data.send_at or default_send_at,
        "created_at": now,
        "updated_at": now,
        "confirmed_at": now if status == "active" else None,
        "token_version": 0,
        "frequency": frequency,
        "weekday": weekday,
        "feed_only": False,
    }


def _changed_row(row: Row[Any], data: SubscriberInput, now: datetime) -> dict[str, Any]:
    """The UPDATE parameters of an existing subscriber's row: its id, and the new values
    (the file's, where it gives them) under `new_` names (a bound parameter may not take
    the name of a column it sets)."""
    confirmed = row.confirmed_at
    if data.status == "active" and confirmed is None:
        confirmed = now
    frequency, weekday = schedule_values(data, current=(row.frequency, row.weekday, row.feed_only))
    return {
        "row_id": row.id,
        "new_topics": list(data.topics),
        "new_categories": list(data.categories),
        "new_authors": list(data.authors),
        "new_exclude": list(data.exclude),
        "new_timezone": data.timezone or row.timezone,
        "new_send_at": data.send_at or row.send_at,
        "new_status": data.status or row.status,
        "new_frequency": frequency,
        "new_weekday": weekday,
        "new_confirmed_at": confirmed,
        "new_updated_at": now,
    }


def export_rows(subscribers: Iterable[Subscriber]) -> Iterable[dict[str, str]]:
    for sub in subscribers:
        yield {
            "email": sub.email,
            "topics": ";".join(sub.topics),
            "categories": ";".join(sub.categories),
            "authors": ";".join(sub.authors),
            "exclude": ";".join(sub.exclude),
            "timezone": sub.timezone,
            "send_at": sub.send_at.strftime("%H:%M"),
            "status": sub.status,
            "frequency": sub.frequency,
            "weekday": weekday_code(sub.weekday) or "",
        }


def all_subscribers(session: Session) -> list[Subscriber]:
    return [to_record(r) for r in session.scalars(select(SubscriberRow).order_by(SubscriberRow.id))]
