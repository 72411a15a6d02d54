"""The SQLite connection settings every engine applies."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from digest.store.engine import open_engine


def test_a_sqlite_connection_waits_lock_timeout_for_a_lock(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}", lock_timeout=2.5)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA busy_timeout")).scalar_one() == 2500
            assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
    finally:
        engine.dispose()
