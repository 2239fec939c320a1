"""Rooms, with the library's default seminar room.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    rooms = op.create_table(
        "rooms",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(120), nullable=False, unique=True),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    # The default room exists from the first start on, with the built-in test pattern as camera;
    # a data migration runs exactly once per database, so a deleted default room stays deleted.
    op.bulk_insert(rooms, [{"name": "Seminarraum", "source": "testsrc", "timezone": "Europe/Berlin"}])


def downgrade() -> None:
    op.drop_table("rooms")
