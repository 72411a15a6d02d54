"""a paper's day from its listings; HTTP validators per URL

`papers.old_news` marks a paper first met as a replacement or looked up by id: it is never
a digest candidate. Until now a missing `announced_on` said so, which forced a paper that
only Hugging Face listed to take the day it was fetched as its announcement day; now
`announced_on` holds only a day a listing announced the paper on (arXiv's, a feed's), and
a paper's day is that, else the day Hugging Face featured it, else the day it was first
seen. Days already stored are kept.

`source_states.validators` maps each URL a source fetches (Hugging Face Daily Papers asks
for two days, page by page) to its `ETag` and `Last-Modified`; it replaces the one pair a
source had. The first fetch after the upgrade is unconditional.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE, also on SQLite: a batch copy of `papers` would drop the old table,
    # and with it, by cascade, every listing, vote and sent-paper row.
    op.add_column(
        "papers", sa.Column("old_news", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.execute(sa.text("UPDATE papers SET old_news = :yes WHERE announced_on IS NULL").bindparams(yes=True))
    op.add_column("source_states", sa.Column("validators", sa.JSON(), nullable=True))
    op.drop_column("source_states", "etag")
    op.drop_column("source_states", "last_modified")


def downgrade() -> None:
    op.add_column("source_states", sa.Column("last_modified", sa.Text(), nullable=True))
    op.add_column("source_states", sa.Column("etag", sa.Text(), nullable=True))
    op.drop_column("source_states", "validators")
    # Before this revision a news paper always had a day in `announced_on`.
    sqlite = op.get_bind().dialect.name == "sqlite"
    seen_day = "date(first_seen_at)" if sqlite else "CAST(first_seen_at AT TIME ZONE 'UTC' AS DATE)"
    op.execute(
        sa.text(
            f"UPDATE papers SET announced_on = COALESCE(featured_on, {seen_day}) "
            "WHERE announced_on IS NULL AND old_news = :no"
        ).bindparams(no=False)
    )
    op.execute(
        sa.text("UPDATE papers SET announced_on = NULL WHERE old_news = :yes").bindparams(yes=True)
    )
    op.drop_column("papers", "old_news")
