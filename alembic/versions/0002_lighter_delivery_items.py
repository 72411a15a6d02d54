"""lighter delivery items and sent papers

A delivery day writes about thirteen `delivery_items` and thirteen `sent_papers` rows per
digest. Two things made each of those writes expensive and bought nothing:

- the index on `delivery_items.paper_id`: nothing looks items up by paper, and keeping it
  wrote a scattered index page for nearly every item;
- the foreign keys from both tables to `papers`: papers are never deleted, and every
  checked row locked its paper row (on PostgreSQL a write per lock, and shared locks of
  concurrent workers on the same popular papers). Both tables keep their other foreign
  keys (delivery, subscriber), which is what deleting a subscriber's data relies on.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("delivery_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_items_paper_id"))
        batch_op.drop_constraint("fk_delivery_items_paper_id_papers", type_="foreignkey")
    with op.batch_alter_table("sent_papers", schema=None) as batch_op:
        batch_op.drop_constraint("fk_sent_papers_paper_id_papers", type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("sent_papers", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_sent_papers_paper_id_papers", "papers", ["paper_id"], ["id"], ondelete="CASCADE"
        )
    with op.batch_alter_table("delivery_items", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_delivery_items_paper_id_papers", "papers", ["paper_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.create_index(batch_op.f("ix_delivery_items_paper_id"), ["paper_id"], unique=False)
