"""A small index for occurrences started early, read at every reconciliation.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Partial: only the handful of rows staff started early are in it.
    op.create_index(
        "ix_occurrences_started_early",
        "occurrences",
        ["state"],
        sqlite_where=sa.text("actual_start_utc IS NOT NULL"),
        postgresql_where=sa.text("actual_start_utc IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_occurrences_started_early", table_name="occurrences")
