"""Engines and sessions: SQLite (WAL, foreign keys, busy timeout) or PostgreSQL (psycopg 3).

`open_engine(url)` is the only way the project connects; callers pass the engine on.
Every engine translates the driver's "cannot use the database now" errors (read-only,
locked past `lock_timeout`, unreachable, full, damaged) into `DatabaseUnavailable`
(see `unavailable.py`); the unit of work that met one is rolled back.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Engine,
    any_,
    bindparam,
    create_engine,
    event,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, CursorResult, ExceptionContext, Result, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import QueryableAttribute, Session

from digest.errors import ConfigError, DatabaseUnavailable
from digest.store.unavailable import unavailable_error

# Seconds a statement waits for another connection's lock before the database is reported
# locked: SQLite's busy timeout, PostgreSQL's lock_timeout. `[database] lock_timeout`.
DEFAULT_LOCK_TIMEOUT = 30.0
# Seconds to wait for PostgreSQL to accept a connection before reporting it unreachable.
PG_CONNECT_TIMEOUT = 10
_CREATE_DIRECTORY = "create it, writable by the user running digest, then try again"


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain `postgresql://` URLs."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, decide when transactions begin (needed for BEGIN
    # IMMEDIATE below and for savepoints).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # A delivery day rewrites the same ledger pages over and over: keep them in this
    # process (a 64 MB page cache) instead of re-reading them from the OS page by page.
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # Take the write lock at BEGIN so two writers queue on busy_timeout instead of
    # failing with "database is locked" when a read upgrades to a write.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _translate_error(url: URL, lock_timeout: float, context: ExceptionContext) -> None:
    # A failed pre-ping is the pool's to handle: it reconnects quietly.
    if context.is_pre_ping:
        return
    error = unavailable_error(url, context.original_exception, lock_timeout=lock_timeout)
    if error is not None:
        raise error


def open_engine(url: str, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT, **kwargs: Any) -> Engine:
    """An engine for `url`; creates the SQLite file's directory if needed.

    A write waits up to `lock_timeout` seconds for another connection's lock; past that,
    and for every other "the database cannot be used now" error, the engine raises
    DatabaseUnavailable.
    """
    url = normalise_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"database.url {url!r} is not a database URL") from None
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(parsed, lock_timeout, **kwargs)
    else:
        engine = _postgres_engine(parsed, lock_timeout, **kwargs)
    event.listen(engine, "handle_error", partial(_translate_error, parsed, lock_timeout))
    return engine


def _sqlite_engine(parsed: URL, lock_timeout: float, **kwargs: Any) -> Engine:
    if parsed.database and parsed.database != ":memory:":
        try:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseUnavailable(
                f"cannot create the directory of the SQLite database {parsed.database} "
                f"({exc.strerror}): {_CREATE_DIRECTORY}",
                problem="cannot open",
                fix=_CREATE_DIRECTORY,
            ) from None
    # The driver's `timeout` is SQLite's busy timeout (it calls sqlite3_busy_timeout).
    engine = create_engine(parsed, connect_args={"timeout": lock_timeout}, **kwargs)
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _postgres_engine(parsed: URL, lock_timeout: float, **kwargs: Any) -> Engine:
    kwargs.setdefault("pool_pre_ping", True)
    # No server-side prepared statements: psycopg prepares a statement after its fifth
    # run, and on the ledger's statements PostgreSQL then spent about 40% more CPU per
    # digest than when planning each one afresh (bench/deliver.py).
    connect_args: dict[str, Any] = {"prepare_threshold": None}
    # Options given in the URL win over these defaults.
    if "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT
    if "options" not in parsed.query:
        connect_args["options"] = f"-c lock_timeout={int(lock_timeout * 1000)}"
    kwargs["connect_args"] = connect_args | kwargs.get("connect_args", {})
    return create_engine(parsed, **kwargs)


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work: commits on success, rolls back on any error."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


def dialect_insert(session: Session) -> type[sqlite.Insert] | type[postgresql.Insert]:
    """The INSERT construct with ON CONFLICT support for the session's database."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.Insert
    return sqlite.Insert


def among(
    session: Session,
    column: ColumnElement[Any] | QueryableAttribute[Any],
    values: Iterable[Any],
) -> ColumnElement[bool]:
    """`column IN (values)`; on PostgreSQL `column = ANY(array)`: one parameter however many
    values, so the statement's text stays the same from call to call (the driver parses a
    long IN list again on every call, and the server plans it again). The array goes as an
    array, not as the text of an array literal: the planner must see its values to look the
    rows up by index (as text, the server spent twice the CPU on the ledger)."""
    values = list(values)
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


def rows_changed(result: Result[Any]) -> int:
    """How many rows an UPDATE, DELETE or INSERT changed (its cursor's count)."""
    assert isinstance(result, CursorResult)  # what executing a data-changing statement returns
    return int(result.rowcount or 0)
