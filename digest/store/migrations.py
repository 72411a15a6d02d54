"""Schema migrations with Alembic: upgrade, downgrade, and the "is the schema current?" check."""

from __future__ import annotations

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from alembic import command
from digest.errors import SchemaError
from digest.resources import bundled_dir


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(bundled_dir("alembic")))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    command.downgrade(alembic_config(engine), revision)


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except OperationalError as exc:
        raise SchemaError(
            f"cannot open the database {engine.url.render_as_string(hide_password=True)}: "
            f"{exc.orig}"
        ) from None


def require_current(engine: Engine) -> None:
    """Raise SchemaError unless the database is migrated to the code's head revision."""
    try:
        current = current_revision(engine)
    except SQLAlchemyError as exc:
        raise SchemaError(f"cannot read the database schema version: {exc}") from None
    head = head_revision(engine)
    if current != head:
        state = "empty" if current is None else f"at revision {current}"
        raise SchemaError(
            f"the database schema is {state}, the code needs {head}: run `digest db upgrade`"
        )
