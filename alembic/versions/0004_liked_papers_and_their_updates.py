"""liked papers from a library, and updates on liked papers

A like can now come from the subscriber's own library as well as from a 👍 in a digest:
`feedback.source` says which (`vote` or `library`). Each like also remembers what the paper
looked like when it was liked (its version, whether it had code, its Hugging Face upvotes),
so that a later new version, code link or jump in upvotes can be told as news; existing
likes take the paper as it is now. `update_notices` records which of those updates went
into which digest, so each is told once.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("source", sa.String(length=20), server_default="vote", nullable=False)
        )
        batch_op.add_column(sa.Column("liked_version", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("liked_with_code", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("liked_upvotes", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE feedback SET "
        "liked_version = (SELECT version FROM papers WHERE papers.id = feedback.paper_id), "
        "liked_upvotes = (SELECT upvotes FROM papers WHERE papers.id = feedback.paper_id), "
        "liked_with_code = EXISTS (SELECT 1 FROM papers WHERE papers.id = feedback.paper_id "
        "AND papers.code_url IS NOT NULL)"
    )
    op.create_table(
        "update_notices",
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("paper_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("value", sa.String(length=40), nullable=False),
        sa.Column("digest_date", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["paper_id"],
            ["papers.id"],
            name=op.f("fk_update_notices_paper_id_papers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_update_notices_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "subscriber_id", "paper_id", "kind", "value", name=op.f("pk_update_notices")
        ),
    )


def downgrade() -> None:
    op.drop_table("update_notices")
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_column("liked_upvotes")
        batch_op.drop_column("liked_with_code")
        batch_op.drop_column("liked_version")
        batch_op.drop_column("source")
