"""Alembic environment: runs migrations on the engine the caller put in `config.attributes`.

`digest db upgrade` is the way to run these; plain `alembic` also works when
`DIGEST_DATABASE__URL` (or the default SQLite file) points at the database.
"""

from __future__ import annotations

from sqlalchemy import Engine

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


def run_migrations_online() -> None:
    engine = _engine()
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
