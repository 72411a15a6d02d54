"""Bulk import and export of subscribers in the CSV format the CLI reads and writes.

Format (UTF-8, RFC 4180 quoting; export quotes every cell): header
`email,topics,categories,authors,exclude,timezone,send_at,status,frequency,weekday,feed_only`
(any subset with `email`; `weekday` as `mon` … `sun`, `feed_only` as `yes` or `no`), then
one subscriber a row. Several values
in one cell are separated by `;`; inside a value, `\\;` stands for a `;` and `\\\\` for
a backslash (a backslash before anything else is kept as it is). Cells are neutralised for
spreadsheets: one whose text starts with `=`, `+`, `-`, `@`, a tab or a carriage return (or
with `'` followed by one of those or by another `'`) is written with a `'` in front, which
import removes. So whatever is stored exports and imports back identically.

An import is read and validated as a whole first (a malformed file is refused with the
line where the problem starts) and then written in one transaction: all rows or none. Rows
are read and written as plain Core rows, a thousand at a time, not as ORM objects: a
100,000-line file stays well within memory.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO, cast

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
    "feed_only",
)
MULTI_FIELDS = ("topics", "categories", "authors", "exclude")
WRITE_CHUNK = 1000  # rows per INSERT or UPDATE statement
# The csv module's own cap on one cell; far above anything a subscriber's row can hold.
MAX_CELL_CHARS = csv.field_size_limit()
_SUBSCRIBERS = cast(Table, SubscriberRow.__table__)
# What a spreadsheet reads as the start of a formula (OWASP's CSV injection list).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_SEPARATOR = re.compile(r"\\(.)|;", re.DOTALL)


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


def _is_neutralised(cell: str) -> bool:
    return len(cell) > 1 and cell[0] == "'" and cell[1] in (*_FORMULA_STARTS, "'")


def neutralise_cell(text: str) -> str:
    """`text` as a cell no spreadsheet runs as a formula; `restore_cell` undoes it."""
    if text.startswith(_FORMULA_STARTS) or _is_neutralised(text):
        return "'" + text
    return text


def restore_cell(cell: str) -> str:
    return cell[1:] if _is_neutralised(cell) else cell


def join_values(values: Iterable[str]) -> str:
    """Several values as one cell: `;` between them, `\\` before a `;` or `\\` inside one."""
    return ";".join(v.replace("\\", "\\\\").replace(";", "\\;") for v in values)


def split_values(cell: str) -> tuple[str, ...]:
    """The values `join_values` (or a person) wrote in one cell, trimmed, empty ones left out."""
    if "\\" not in cell:
        return tuple(v.strip() for v in cell.split(";") if v.strip())
    values: list[str] = []
    current: list[str] = []
    position = 0
    for match in _SEPARATOR.finditer(cell):
        current.append(cell[position : match.start()])
        position = match.end()
        if match[1] is None:
            values.append("".join(current))
            current = []
        else:
            current.append(match[1] if match[1] in ";\\" else match[0])
    values.append("".join(current) + cell[position:])
    return tuple(v.strip() for v in values if v.strip())


def _read_records(text: str) -> Iterator[tuple[int, list[str]]]:
    """(first line, cells) of each non-blank record; UsageError naming the line where a
    malformed record starts."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    start = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise UsageError(
                f"line {start}: {_csv_problem(str(exc))}; nothing was imported"
            ) from None
        if cells:
            yield start, cells
        start = reader.line_num + 1


def _csv_problem(message: str) -> str:
    if "field larger than field limit" in message:
        return f"a cell is longer than {MAX_CELL_CHARS:,} characters"
    if "unexpected end of data" in message:
        return 'a quoted cell is never closed (a " is missing)'
    if "expected after" in message:
        return 'a quoted cell goes on after its closing " (write "" for a quote inside one)'
    return f"not valid CSV ({message})"


def _header(records: Iterator[tuple[int, list[str]]]) -> tuple[str, ...]:
    line, cells = next(records, (1, []))
    header = tuple(cell.strip() for cell in cells)
    if (
        "email" not in header
        or not set(header) <= set(CSV_FIELDS)
        or len(set(header)) < len(header)
    ):
        raise UsageError(
            f"line {line}: the header must be {','.join(CSV_FIELDS)} (email required, "
            f"each column once), got {','.join(header)[:200] or 'nothing'}"
        )
    return header


def _row_input(header: Sequence[str], cells: Sequence[str]) -> SubscriberInput:
    if len(cells) > len(header):
        raise UsageError("more cells than the header has columns")
    record = {key: restore_cell(cell) for key, cell in zip(header, cells, strict=False)}

    def single(key: str) -> str | None:
        return record.get(key, "").strip() or None

    return SubscriberInput(
        email=record.get("email", ""),
        topics=split_values(record.get("topics", "")),
        categories=split_values(record.get("categories", "")),
        authors=split_values(record.get("authors", "")),
        exclude=split_values(record.get("exclude", "")),
        timezone=single("timezone"),
        send_at=single("send_at"),
        status=single("status"),
        frequency=single("frequency"),
        weekday=single("weekday"),
        feed_only=_yes_or_no(single("feed_only")),
    ).validate()


def _yes_or_no(cell: str | None) -> bool | None:
    if cell is None:
        return None
    if cell.lower() not in ("yes", "no"):
        raise UsageError(f"feed_only {cell[:20]!r} is not yes or no")
    return cell.lower() == "yes"


def parse_csv(text: str, progress: Callable[[int], None] | None = None) -> list[SubscriberInput]:
    """Validate every row; raise ImportRejected listing each bad row by line number, or
    UsageError for a file that is not well-formed CSV. `progress` is called with the number
    of rows read so far, every few hundred rows."""
    records = _read_records(text)
    header = _header(records)
    rows: list[SubscriberInput] = []
    problems: list[RowProblem] = []
    first_line: dict[str, int] = {}
    for count, (line, cells) in enumerate(records, 1):
        if progress is not None and count % 500 == 0:
            progress(count)
        try:
            data = _row_input(header, cells)
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
        and (data.feed_only is None or bool(row.feed_only) == data.feed_only)
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
    *("frequency", "weekday", "feed_only", "confirmed_at", "updated_at"),
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
        "feed_only": bool(data.feed_only),
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
        "new_feed_only": row.feed_only if data.feed_only is None else data.feed_only,
        "new_confirmed_at": confirmed,
        "new_updated_at": now,
    }


def export_rows(subscribers: Iterable[Subscriber]) -> Iterator[dict[str, str]]:
    """Each subscriber as the cells of one CSV row, neutralised for spreadsheets."""
    for sub in subscribers:
        cells = {
            "email": sub.email,
            **{key: join_values(getattr(sub, key)) for key in MULTI_FIELDS},
            "timezone": sub.timezone,
            "send_at": sub.send_at.strftime("%H:%M"),
            "status": sub.status,
            "frequency": sub.frequency,
            "weekday": weekday_code(sub.weekday) or "",
            "feed_only": "yes" if sub.feed_only else "no",
        }
        yield {key: neutralise_cell(cells[key]) for key in CSV_FIELDS}


def write_csv(handle: TextIO, subscribers: Iterable[Subscriber]) -> None:
    """The header and one row per subscriber, every cell quoted (open `handle` with
    `newline=""`)."""
    writer = csv.DictWriter(
        handle, fieldnames=CSV_FIELDS, lineterminator="\n", quoting=csv.QUOTE_ALL
    )
    writer.writeheader()
    writer.writerows(export_rows(subscribers))


def all_subscribers(session: Session) -> list[Subscriber]:
    return [to_record(r) for r in session.scalars(select(SubscriberRow).order_by(SubscriberRow.id))]
