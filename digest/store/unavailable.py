"""Which driver errors mean "the database cannot be used right now", and what to say about them.

`unavailable_error(url, error, lock_timeout=…)` turns a sqlite3 or psycopg error into a
`DatabaseUnavailable` (read-only, locked, unreachable, full, damaged, disk error) whose
message names the problem, the place and the fix, or returns None for every other error
(constraint violations, bad SQL, a missing table …), which stays the driver's own.

The engine calls it from SQLAlchemy's `handle_error` event (see `engine.py`), so every
statement and every connection attempt in the project raises the one named error. Only
public driver attributes are read: sqlite3's `sqlite_errorcode` and psycopg's `sqlstate`.
"""

from __future__ import annotations

import sqlite3

import psycopg
from sqlalchemy.engine import URL

from digest.errors import DatabaseUnavailable

# SQLite primary result codes (https://www.sqlite.org/rescode.html).
_SQLITE_PROBLEMS = {
    3: "read-only",  # SQLITE_PERM
    5: "locked",  # SQLITE_BUSY
    6: "locked",  # SQLITE_LOCKED
    8: "read-only",  # SQLITE_READONLY
    10: "disk error",  # SQLITE_IOERR
    11: "damaged",  # SQLITE_CORRUPT
    13: "full",  # SQLITE_FULL
    14: "cannot open",  # SQLITE_CANTOPEN
    26: "damaged",  # SQLITE_NOTADB
}

# PostgreSQL SQLSTATEs, exact codes first, then their two-character classes.
_PG_PROBLEMS = {
    "25006": "read-only",  # read_only_sql_transaction (default_transaction_read_only, standby)
    "55P03": "locked",  # lock_not_available (lock_timeout)
    "53100": "full",  # disk_full
    "57P01": "unreachable",  # admin_shutdown
    "57P02": "unreachable",  # crash_shutdown
    "57P03": "unreachable",  # cannot_connect_now (starting up, in recovery)
    "3D000": "unreachable",  # the database named in the URL does not exist
    "XX001": "damaged",  # data_corrupted
    "XX002": "damaged",  # index_corrupted
    "08": "unreachable",  # connection exceptions
    "28": "unreachable",  # invalid authorization
    "53": "overloaded",  # insufficient resources: out of memory, too many connections
    "58": "disk error",  # system error: I/O
}

_FIXES = {
    "read-only": "give the user running digest write access to the database file and its "
    "directory (SQLite writes -wal and -shm files beside it), then try again",
    "locked": "another process holds the write lock; wait for it to finish or stop it, "
    "then try again",
    "disk error": "check the disk and the file's permissions, then try again",
    "damaged": "restore the database from a backup",
    "full": "free some disk space, then try again",
    "cannot open": "check that the directory exists and that the user running digest may "
    "read and write it, then try again",
    "unreachable": "start the server or correct database.url, then try again",
    "overloaded": "the server is short of memory or connections; raise its limits or run "
    "fewer workers, then try again",
}

_PG_READ_ONLY_FIX = (
    "the server accepts no writes (default_transaction_read_only, or a standby): point "
    "database.url at the primary or turn read-only mode off, then try again"
)


def unavailable_error(
    url: URL, error: BaseException, *, lock_timeout: float
) -> DatabaseUnavailable | None:
    """The DatabaseUnavailable that `error` (a driver exception) means, or None."""
    if isinstance(error, sqlite3.Error):
        code = getattr(error, "sqlite_errorcode", None)
        problem = _SQLITE_PROBLEMS.get(code & 0xFF) if isinstance(code, int) else None
        where = f"the SQLite database {url.database}"
    elif isinstance(error, psycopg.Error):
        problem = _postgres_problem(error)
        where = f"PostgreSQL at {url.host or 'localhost'}:{url.port or 5432}/{url.database}"
    else:
        return None
    if problem is None:
        return None
    fix = _fix(problem, error)
    return DatabaseUnavailable(
        f"{where} is {_describe(problem, lock_timeout)} ({_first_line(error)}): {fix}",
        problem=problem,
        fix=fix,
    )


def _postgres_problem(error: psycopg.Error) -> str | None:
    state = error.sqlstate
    if state is None:
        # No SQLSTATE: the connection itself failed (refused, reset, timed out).
        return "unreachable" if isinstance(error, psycopg.OperationalError) else None
    return _PG_PROBLEMS.get(state) or _PG_PROBLEMS.get(state[:2])


def _describe(problem: str, lock_timeout: float) -> str:
    if problem == "locked":
        return f"locked by another process (waited {lock_timeout:g} s)"
    if problem == "cannot open":
        return "not openable"
    return {"disk error": "failing with disk errors", "unreachable": "not reachable"}.get(
        problem, problem
    )


def _fix(problem: str, error: BaseException) -> str:
    if problem == "read-only" and isinstance(error, psycopg.Error):
        return _PG_READ_ONLY_FIX
    return _FIXES[problem]


def _first_line(error: BaseException) -> str:
    """The driver's own reason, one line; psycopg's never holds the password."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return (lines[0] if lines else type(error).__name__)[:200]
