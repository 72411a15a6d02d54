"""sentence vectors of papers and topics

Each paper keeps its sentence vector (`papers.embedding`, float32 bytes) and the id of the
model that made it (`papers.embedding_model`), so that a change of the configured model
re-embeds instead of comparing vectors of two models. `topic_vectors` holds one vector per
topic text and model, shared by every subscriber with that topic. Existing papers and topics
have none after the upgrade: `digest db embed` computes them (the delivery ranks a paper
without one by its words, and embeds a missing topic when it needs it).

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE, also on SQLite: a batch copy of `papers` would drop the old table,
    # and with it, by cascade, every listing, vote and sent-paper row (see 0007).
    op.add_column("papers", sa.Column("embedding", sa.LargeBinary(), nullable=True))
    op.add_column("papers", sa.Column("embedding_model", sa.String(200), nullable=True))
    op.create_table(
        "topic_vectors",
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("model_id", sa.String(200), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("topic", "model_id", name=op.f("pk_topic_vectors")),
    )


def downgrade() -> None:
    op.drop_table("topic_vectors")
    op.drop_column("papers", "embedding_model")
    op.drop_column("papers", "embedding")
