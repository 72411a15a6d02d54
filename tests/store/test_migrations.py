"""Migrations reach head and go back to base on both back ends, and match the models."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from digest.errors import SchemaError
from digest.store import migrations
from digest.store.schema import Base


def test_upgrade_then_downgrade_round_trip(empty_engine: Engine) -> None:
    migrations.upgrade(empty_engine)
    tables = set(inspect(empty_engine).get_table_names())
    assert {
        "papers",
        "subscribers",
        "deliveries",
        "delivery_items",
        "suppressions",
        "feedback",
        "paper_listings",
        "sent_papers",
    } <= tables
    migrations.downgrade(empty_engine)
    assert set(inspect(empty_engine).get_table_names()) <= {"alembic_version"}
    migrations.upgrade(empty_engine)
    assert migrations.current_revision(empty_engine) == migrations.head_revision(empty_engine)


def test_models_match_migrations(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_unmigrated_database_is_refused_with_a_hint(empty_engine: Engine) -> None:
    with pytest.raises(SchemaError, match="digest db upgrade"):
        migrations.require_current(empty_engine)
