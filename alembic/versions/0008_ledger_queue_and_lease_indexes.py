"""partial indexes for the delivery queue and its leases

The ledger's `(status, next_attempt_at)` index gives way to two partial indexes: the queue
(`next_attempt_at` of claimable rows only), which claims and progress counts walk without
passing the day's finished rows, and the leases (`lease_owner` of leased rows only), which
serve a worker's heartbeat and the look-ups of a dead worker's rows. Neither can answer a
statement that names its rows by id, so those go by primary key on both databases.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUEUE = "status IN ('queued', 'retry')"
LEASED = "lease_owner IS NOT NULL"


def upgrade() -> None:
    op.drop_index("ix_deliveries_status_next_attempt_at", table_name="deliveries")
    op.create_index(
        "ix_deliveries_queue",
        "deliveries",
        ["next_attempt_at"],
        sqlite_where=sa.text(QUEUE),
        postgresql_where=sa.text(QUEUE),
    )
    op.create_index(
        "ix_deliveries_lease_owner",
        "deliveries",
        ["lease_owner"],
        sqlite_where=sa.text(LEASED),
        postgresql_where=sa.text(LEASED),
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_lease_owner", table_name="deliveries")
    op.drop_index("ix_deliveries_queue", table_name="deliveries")
    op.create_index(
        "ix_deliveries_status_next_attempt_at", "deliveries", ["status", "next_attempt_at"]
    )
