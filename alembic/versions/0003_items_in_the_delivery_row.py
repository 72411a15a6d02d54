"""a delivery's items in its own row

The papers a message carries were rows of `delivery_items`, about thirteen per digest,
each with its primary-key entry and its foreign-key check against `deliveries`. They are
only ever written and read per delivery, so they now live in the delivery's row, as JSON
`[[paper id, score, reason], …]` in `deliveries.items`, written by the same UPDATE that
turns the row `sending`. The existing items are moved over, in order; downgrading moves
them back.

Revision ID: 0003
Revises: 0002
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHUNK = 1000  # deliveries moved per round


def upgrade() -> None:
    op.add_column("deliveries", sa.Column("items", sa.Text(), nullable=True))
    connection = op.get_bind()
    last = 0
    while True:
        ids = connection.execute(
            sa.text(
                "SELECT DISTINCT delivery_id FROM delivery_items WHERE delivery_id > :last "
                "ORDER BY delivery_id LIMIT :chunk"
            ),
            {"last": last, "chunk": CHUNK},
        ).scalars().all()
        if not ids:
            break
        rows = connection.execute(
            sa.text(
                "SELECT delivery_id, paper_id, score, reason FROM delivery_items "
                "WHERE delivery_id > :last AND delivery_id <= :upto "
                "ORDER BY delivery_id, position"
            ),
            {"last": last, "upto": ids[-1]},
        ).all()
        items: dict[int, list[list[object]]] = {}
        for delivery_id, paper_id, score, reason in rows:
            items.setdefault(delivery_id, []).append([paper_id, score, reason])
        connection.execute(
            sa.text("UPDATE deliveries SET items = :items WHERE id = :id"),
            [
                {"id": delivery_id, "items": json.dumps(listed, separators=(",", ":"))}
                for delivery_id, listed in items.items()
            ],
        )
        last = ids[-1]
    op.drop_table("delivery_items")


def downgrade() -> None:
    op.create_table(
        "delivery_items",
        sa.Column("delivery_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("paper_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_delivery_items_delivery_id_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("delivery_id", "position", name=op.f("pk_delivery_items")),
    )
    connection = op.get_bind()
    last = 0
    while True:
        rows = connection.execute(
            sa.text(
                "SELECT id, items FROM deliveries WHERE id > :last AND items IS NOT NULL "
                "ORDER BY id LIMIT :chunk"
            ),
            {"last": last, "chunk": CHUNK},
        ).all()
        if not rows:
            break
        values = [
            {
                "delivery_id": delivery_id,
                "position": position,
                "paper_id": paper_id,
                "score": score,
                "reason": reason,
            }
            for delivery_id, stored in rows
            for position, (paper_id, score, reason) in enumerate(json.loads(stored), start=1)
        ]
        if values:
            connection.execute(
                sa.text(
                    "INSERT INTO delivery_items (delivery_id, position, paper_id, score, reason) "
                    "VALUES (:delivery_id, :position, :paper_id, :score, :reason)"
                ),
                values,
            )
        last = rows[-1][0]
    # ALTER TABLE … DROP COLUMN, also on SQLite (3.35 and later): a batch copy of the table
    # would drop the old one, and with it, by cascade, the item rows just restored.
    op.drop_column("deliveries", "items")
