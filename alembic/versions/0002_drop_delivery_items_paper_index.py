"""drop the index on delivery_items.paper_id

Nothing looks delivery items up by paper (papers are never deleted, so the cascade does
not need it either), and maintaining it wrote a scattered index page for nearly every
item of a delivery day.

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


def downgrade() -> None:
    with op.batch_alter_table("delivery_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_delivery_items_paper_id"), ["paper_id"], unique=False)
