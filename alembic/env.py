"""Alembic environment: runs migrations on the engine the caller put in `config.attributes`.

`digest db upgrade` is the way to run these; plain `alembic` also works when
`DIGEST_DATABASE__URL` (or the default SQLite file) points at the database.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine

from alembic import context
from digest.store.schema import Base

config = context.config


def _engine() -> Engine:
    engine = config.attributes.get("engine")
    if engine is not None:
        return engine  # type: ignore[no-any-return]
    from digest.config import load_settings
    from digest.store.engine import open_engine

    settings = load_settings()
    return open_engine(settings.database_url, lock_timeout=settings.database.lock_timeout)


def _set_sqlite_foreign_keys(connection: Connection, on: bool) -> None:
    # Outside any transaction (SQLite ignores the pragma inside one), on the driver's
    # connection: SQLAlchemy would begin a transaction first.
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def run_migrations_online() -> None:
    engine = _engine()
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        # A batch migration on SQLite copies a table, drops the old one and renames the
        # copy: with foreign keys on, the drop would delete every row referring to it.
        if sqlite:
            _set_sqlite_foreign_keys(connection, False)
        try:
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                render_as_batch=sqlite,
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
                if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first():
                    raise RuntimeError("a migration left rows whose foreign keys point nowhere")
            connection.commit()
        finally:
            if sqlite:
                connection.rollback()
                _set_sqlite_foreign_keys(connection, True)


run_migrations_online()
