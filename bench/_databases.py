"""Throwaway databases for the benchmarks: a SQLite file, or a fresh PostgreSQL database
created on the server at DIGEST_TEST_PG_URL (trust auth at 127.0.0.1:5432 by default) and
dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

PG_ADMIN = os.environ.get(
    "DIGEST_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def postgres_reachable() -> bool:
    admin = create_engine(PG_ADMIN)
    try:
        with admin.connect():
            return True
    except OperationalError:
        return False
    finally:
        admin.dispose()


@contextmanager
def fresh_database(kind: str, tmp: Path) -> Iterator[str]:
    """The URL of an empty database of `kind` ("sqlite" in `tmp`, or "postgresql")."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'bench.sqlite3'}"
        return
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"digest_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
