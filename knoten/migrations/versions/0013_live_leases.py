"""Live leases: which Knoten node runs each live date when several nodes share one database.

One row per date that a node runs: the node's id and address, and until when the lease holds.
The node renews it every couple of seconds; a node that died stops renewing, the row expires,
and another node takes it over with a conditional UPDATE (or the INSERT of a new row), so
exactly one node wins on SQLite and on PostgreSQL. A deleted date takes its lease with it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "live_leases",
        sa.Column(
            "occurrence_id",
            sa.Integer,
            sa.ForeignKey("occurrences.id", ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.Column("node_url", sa.String(300), nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_live_leases_node", "live_leases", ["node_id"])


def downgrade() -> None:
    op.drop_table("live_leases")
