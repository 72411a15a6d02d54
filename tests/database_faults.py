"""Real database faults for the CLI, web and health tests: a read-only SQLite file (chmod) or
directory, a second connection holding SQLite's write lock (`BEGIN IMMEDIATE`), a PostgreSQL
database in `default_transaction_read_only`, one whose tables another session has locked,
and a PostgreSQL address where nothing listens.

Root ignores file modes, so a process that must meet a read-only SQLite file while the
tests run as root is started by `unprivileged()` without CAP_DAC_OVERRIDE (util-linux's
`setpriv`): it stays root but obeys the file's mode, as any service user would.
"""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, insert, select, text
from sqlalchemy.engine import make_url

from digest.store.engine import normalise_url, open_engine, transaction
from digest.store.schema import Base, SuppressionRow

HELD_AT = datetime(2026, 1, 1, tzinfo=UTC)

SQLITE_FAULTS = ("sqlite-read-only", "sqlite-read-only-dir", "sqlite-locked")
POSTGRES_FAULTS = ("postgres-read-only", "postgres-locked", "postgres-unreachable")
# What `DatabaseUnavailable.problem` each fault is reported as.
PROBLEMS = {
    "sqlite-read-only": {"read-only"},
    "sqlite-read-only-dir": {"read-only", "cannot open"},
    "sqlite-locked": {"locked"},
    "postgres-read-only": {"read-only"},
    "postgres-locked": {"locked"},
    "postgres-unreachable": {"unreachable"},
}
# Words each fault's one-line message must hold (the problem and the fix).
MESSAGE_WORDS = {
    "read-only": ("read-only", "write access"),
    "cannot open": ("not openable", "directory"),
    "locked": ("locked", "another process"),
    "unreachable": ("not reachable", "database.url"),
}
PG_READ_ONLY_WORDS = ("read-only", "default_transaction_read_only")
# What must never reach a user: driver, SQL and Python internals.
INTERNALS = (
    "Traceback",
    "sqlite3.",
    "psycopg",
    "OperationalError",
    "InternalError",
    "sqlalche.me",
    "[SQL:",
    "[parameters:",
    "INSERT INTO",
    "UPDATE ",
    'File "',
)


def unprivileged() -> list[str]:
    """The command prefix that makes this root process obey file modes (none for others)."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    assert database, url
    return Path(database)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Fault:
    """A fault in force: the URL the victim must use and the problems it may be reported as."""

    kind: str
    url: str
    problems: set[str]
    unprivileged: bool = False

    def names_problem_and_fix(self, line: str) -> bool:
        """Does `line` hold the words of one of this fault's problems and its fix?"""
        if self.kind == "postgres-read-only":
            return all(word in line for word in PG_READ_ONLY_WORDS)
        return any(all(word in line for word in MESSAGE_WORDS[p]) for p in self.problems)


@contextmanager
def database_fault(kind: str, url: str) -> Iterator[Fault]:
    """Put `kind` in force on the database at `url` (migrated, no engine left open), and
    lift it afterwards; the holder of a lock commits its own write when it lets go."""
    faults = {
        "sqlite-read-only": _sqlite_read_only,
        "sqlite-read-only-dir": _sqlite_read_only_dir,
        "sqlite-locked": _sqlite_locked,
        "postgres-read-only": _postgres_read_only,
        "postgres-locked": _postgres_locked,
        "postgres-unreachable": _postgres_unreachable,
    }
    with faults[kind](url) as fault:
        yield fault


def _sqlite_files(path: Path) -> list[Path]:
    return [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()]


@contextmanager
def _sqlite_read_only(url: str) -> Iterator[Fault]:
    files = _sqlite_files(sqlite_path(url))
    for file in files:
        file.chmod(0o444)
    try:
        yield Fault("sqlite-read-only", url, PROBLEMS["sqlite-read-only"], unprivileged=True)
    finally:
        for file in files:
            file.chmod(0o644)


@contextmanager
def _sqlite_read_only_dir(url: str) -> Iterator[Fault]:
    directory = sqlite_path(url).parent
    mode = stat.S_IMODE(directory.stat().st_mode)
    with _sqlite_read_only(url):
        directory.chmod(0o555)
        try:
            yield Fault(
                "sqlite-read-only-dir", url, PROBLEMS["sqlite-read-only-dir"], unprivileged=True
            )
        finally:
            directory.chmod(mode)


HOLDER_EMAIL = "lock-holder@example.org"


@contextmanager
def _held(url: str, kind: str) -> Iterator[Fault]:
    """A second connection takes the write lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: every
    table in EXCLUSIVE mode, which lets others read but not write) and writes a row of its
    own, committed when the fault is lifted."""
    engine = open_engine(url)
    try:
        with engine.connect() as holder, holder.begin():
            if holder.dialect.name == "postgresql":
                tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
                holder.execute(text(f"LOCK TABLE {tables} IN EXCLUSIVE MODE"))
            holder.execute(
                insert(SuppressionRow).values(
                    email=HOLDER_EMAIL, reason="held", source="operator", created_at=HELD_AT
                )
            )
            yield Fault(kind, url, PROBLEMS[kind])
    finally:
        engine.dispose()


@contextmanager
def _sqlite_locked(url: str) -> Iterator[Fault]:
    with _held(url, "sqlite-locked") as fault:
        yield fault


@contextmanager
def _postgres_locked(url: str) -> Iterator[Fault]:
    with _held(url, "postgres-locked") as fault:
        yield fault


def _pg_admin_url(url: str) -> tuple[str, str]:
    parsed = make_url(url)
    assert parsed.database
    admin = parsed.set(drivername="postgresql", database="postgres")
    return admin.render_as_string(hide_password=False), parsed.database


@contextmanager
def _postgres_read_only(url: str) -> Iterator[Fault]:
    admin_url, name = _pg_admin_url(url)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
        try:
            yield Fault("postgres-read-only", url, PROBLEMS["postgres-read-only"])
        finally:
            admin.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')


@contextmanager
def _postgres_unreachable(url: str) -> Iterator[Fault]:
    parsed = make_url(normalise_url(url)).set(host="127.0.0.1", port=free_port())
    dead = parsed.render_as_string(hide_password=False)
    yield Fault("postgres-unreachable", dead, PROBLEMS["postgres-unreachable"])


def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted: to show that a failed command changed nothing."""
    engine = open_engine(url)
    try:
        return _rows(engine)
    finally:
        engine.dispose()


def _rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with transaction(engine) as session:
        return {
            table.name: sorted((tuple(row) for row in session.execute(select(table))), key=repr)
            for table in Base.metadata.sorted_tables
        }


def without_holder(rows: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    """`rows` less the lock holder's own committed write."""
    return {name: [row for row in table if HOLDER_EMAIL not in row] for name, table in rows.items()}
