"""how often and where a subscriber's digests go; Hugging Face's one-line summary

`subscribers.frequency` is `daily` (every row so far) or `weekly`; `subscribers.weekday`
(0 Monday … 6 Sunday) is the day a weekly digest goes out. `subscribers.feed_only` keeps
the digests in the subscriber's feed and archive without emailing them.
`papers.ai_summary` is the one-line summary Hugging Face Daily Papers gives some papers.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE, also on SQLite: a batch copy of `subscribers` would drop the old
    # table, and with it, by cascade, every subscriber's deliveries and feedback.
    op.add_column(
        "subscribers", sa.Column("frequency", sa.String(10), nullable=False, server_default="daily")
    )
    op.add_column("subscribers", sa.Column("weekday", sa.Integer(), nullable=True))
    op.add_column(
        "subscribers",
        sa.Column("feed_only", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("papers", sa.Column("ai_summary", sa.Text(), nullable=True))


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN, also on SQLite (3.35 and later), for the same reason.
    op.drop_column("papers", "ai_summary")
    for column in ("feed_only", "weekday", "frequency"):
        op.drop_column("subscribers", column)
