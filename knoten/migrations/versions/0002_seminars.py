"""Seminars and their occurrences.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "seminars",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("room_id", sa.Integer, sa.ForeignKey("rooms.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("host", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("start_local", sa.DateTime, nullable=False),
        sa.Column("end_local", sa.DateTime, nullable=False),
        sa.Column("rrule", sa.Text, nullable=True),
        sa.Column("exdates", sa.JSON, nullable=False),
        sa.Column("record", sa.Boolean, nullable=False),
        sa.Column("lead_in_minutes", sa.Integer, nullable=False),
        sa.Column("lead_out_minutes", sa.Integer, nullable=False),
        sa.Column("partner_ids", sa.JSON, nullable=False),
        sa.Column("materialized_until", sa.DateTime, nullable=True),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "occurrences",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("seminar_id", sa.Integer, sa.ForeignKey("seminars.id", ondelete="CASCADE"), nullable=False),
        sa.Column("room_id", sa.Integer, sa.ForeignKey("rooms.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("recurrence_id", sa.String(40), nullable=False),
        sa.Column("start_utc", sa.DateTime, nullable=False),
        sa.Column("end_utc", sa.DateTime, nullable=False),
        sa.Column("lead_in_minutes", sa.Integer, nullable=False),
        sa.Column("lead_out_minutes", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("moved", sa.Boolean, nullable=False),
        sa.Column("actual_start_utc", sa.DateTime, nullable=True),
        sa.Column("actual_end_utc", sa.DateTime, nullable=True),
        sa.Column("state_reason", sa.String(200), nullable=True),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("seminar_id", "recurrence_id", name="uq_occurrence_recurrence"),
    )
    op.create_index("ix_occurrences_room_start", "occurrences", ["room_id", "start_utc"])
    op.create_index("ix_occurrences_state_start", "occurrences", ["state", "start_utc"])


def downgrade() -> None:
    op.drop_table("occurrences")
    op.drop_table("seminars")
