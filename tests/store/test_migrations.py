"""Migrations reach head and go back to base on both back ends, and match the models."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, inspect, text

from digest.errors import SchemaError
from digest.records import Item
from digest.store import migrations
from digest.store.deliveries import decode_items
from digest.store.schema import Base


def test_upgrade_then_downgrade_round_trip(empty_engine: Engine) -> None:
    migrations.upgrade(empty_engine)
    tables = set(inspect(empty_engine).get_table_names())
    assert {
        "papers",
        "subscribers",
        "deliveries",
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


def test_delivery_items_move_into_the_delivery_row_and_back(empty_engine: Engine) -> None:
    """Revision 0003 moves each delivery's item rows, in order, into `deliveries.items`;
    going back to 0002 makes them rows again."""
    migrations.upgrade(empty_engine, "0002")
    now = "2026-06-02 08:00:00+00:00"
    with empty_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO subscribers (id, email, status, topics, categories, authors, "
                "exclude, timezone, send_at, token_version, created_at, updated_at) VALUES "
                "(1, 'a@example.org', 'active', '[]', '[]', '[]', '[]', 'UTC', '08:00', 0, "
                ":now, :now)"
            ),
            {"now": now},
        )
        for delivery_id, day in ((1, "2026-06-01"), (2, "2026-06-02"), (3, "2026-06-03")):
            conn.execute(
                text(
                    "INSERT INTO deliveries (id, subscriber_id, digest_date, status, attempts, "
                    "item_count, created_at, updated_at) VALUES (:id, 1, :day, 'sent', 1, 0, "
                    ":now, :now)"
                ),
                {"id": delivery_id, "day": day, "now": now},
            )
        conn.execute(
            text(
                "INSERT INTO delivery_items (delivery_id, position, paper_id, score, reason) "
                "VALUES (:d, :p, :paper, :score, :reason)"
            ),
            [
                {"d": 1, "p": 2, "paper": 11, "score": 0.5, "reason": "second"},
                {"d": 1, "p": 1, "paper": 10, "score": 0.75, "reason": 'first, "quoted"'},
                {"d": 3, "p": 1, "paper": 12, "score": 0.0, "reason": "Trending"},
            ],
        )
    migrations.upgrade(empty_engine)
    assert "delivery_items" not in inspect(empty_engine).get_table_names()
    with empty_engine.connect() as conn:
        stored: dict[int, str | None] = dict(
            conn.execute(text("SELECT id, items FROM deliveries")).all()
        )
    assert {k: decode_items(v) for k, v in stored.items()} == {
        1: [Item(10, 0.75, 'first, "quoted"'), Item(11, 0.5, "second")],
        2: [],
        3: [Item(12, 0.0, "Trending")],
    }
    migrations.downgrade(empty_engine, "0002")
    with empty_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT delivery_id, position, paper_id, score, reason FROM delivery_items "
                "ORDER BY delivery_id, position"
            )
        ).all()
    assert [tuple(row) for row in rows] == [
        (1, 1, 10, 0.75, 'first, "quoted"'),
        (1, 2, 11, 0.5, "second"),
        (3, 1, 12, 0.0, "Trending"),
    ]


def test_existing_subscribers_stay_daily_and_keep_their_deliveries(empty_engine: Engine) -> None:
    """Revision 0005 adds the digest frequency: every subscriber so far is daily and emailed,
    and no delivery row is lost on the way (SQLite included)."""
    migrations.upgrade(empty_engine, "0004")
    now = "2026-06-02 08:00:00+00:00"
    with empty_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO subscribers (id, email, status, topics, categories, authors, "
                "exclude, timezone, send_at, token_version, created_at, updated_at) VALUES "
                "(1, 'a@example.org', 'active', '[]', '[]', '[]', '[]', 'UTC', '08:00', 0, "
                ":now, :now)"
            ),
            {"now": now},
        )
        conn.execute(
            text(
                "INSERT INTO deliveries (id, subscriber_id, digest_date, status, attempts, "
                "item_count, created_at, updated_at) VALUES (1, 1, '2026-06-01', 'sent', 1, 0, "
                ":now, :now)"
            ),
            {"now": now},
        )
    migrations.upgrade(empty_engine)
    with empty_engine.connect() as conn:
        row = conn.execute(text("SELECT frequency, weekday, feed_only FROM subscribers")).one()
        assert tuple(row) == ("daily", None, False)
        assert conn.execute(text("SELECT count(*) FROM deliveries")).scalar() == 1
    migrations.downgrade(empty_engine, "0004")
    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM deliveries")).scalar() == 1


def _add_subscriber(conn: Connection, email: str, secret: str | None = None) -> int:
    columns, values = ("", "") if secret is None else (", link_secret", ", :secret")
    return int(
        conn.execute(
            text(
                "INSERT INTO subscribers (email, status, topics, categories, authors, exclude, "
                f"timezone, send_at, token_version, created_at, updated_at{columns}) VALUES "
                "(:email, 'active', '[]', '[]', '[]', '[]', 'UTC', '08:00', 0, :now, :now"
                f"{values}) RETURNING id"
            ),
            {"email": email, "now": "2026-06-02 08:00:00+00:00", "secret": secret},
        ).scalar_one()
    )


def test_subscribers_get_link_secrets_and_ids_that_never_come_back(empty_engine: Engine) -> None:
    """Revision 0006 gives every subscriber a link secret, keeps their deliveries (SQLite
    rebuilds the table), and from then on an erased subscriber's id is never handed out
    again (PostgreSQL also goes on from where its old sequence stood)."""
    migrations.upgrade(empty_engine, "0005")
    with empty_engine.begin() as conn:
        first, second, third = (_add_subscriber(conn, f"{n}@example.org") for n in "abc")
        conn.execute(
            text(
                "INSERT INTO deliveries (subscriber_id, digest_date, status, attempts, "
                "item_count, created_at, updated_at) VALUES (:id, '2026-06-01', 'sent', 1, 0, "
                "'2026-06-02 08:00:00+00:00', '2026-06-02 08:00:00+00:00')"
            ),
            {"id": second},
        )
        conn.execute(text("DELETE FROM subscribers WHERE id = :id"), {"id": third})
    migrations.upgrade(empty_engine)
    with empty_engine.begin() as conn:
        secrets: dict[int, str] = dict(
            conn.execute(text("SELECT id, link_secret FROM subscribers")).all()
        )
        assert set(secrets) == {first, second}
        assert len(set(secrets.values())) == 2
        assert all(len(secret) >= 22 for secret in secrets.values())
        delivered = conn.execute(text("SELECT subscriber_id FROM deliveries")).scalars().all()
        assert delivered == [second]
        fourth = _add_subscriber(conn, "d@example.org", "d-secret")
        # SQLite cannot know of ids erased before the migration; PostgreSQL's sequence did.
        assert fourth > (third if empty_engine.dialect.name == "postgresql" else second)
        conn.execute(text("DELETE FROM subscribers WHERE id = :id"), {"id": fourth})
        assert _add_subscriber(conn, "e@example.org", "e-secret") > fourth
    migrations.downgrade(empty_engine, "0005")
    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT subscriber_id FROM deliveries")).scalars().all() == [
            second
        ]
    migrations.upgrade(empty_engine)
