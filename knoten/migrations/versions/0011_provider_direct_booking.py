"""Providers: "darf direkt buchen" (its hosts' bookings need no confirmation by the library).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (SQLite allows it with a constant default): a batch copy of the table
    # would drop "providers", which accounts and seminar owners reference (foreign keys on).
    op.add_column(
        "providers",
        sa.Column("direct_booking", sa.Boolean, nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("providers", "direct_booking")
