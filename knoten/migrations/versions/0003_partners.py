"""Partners: broadcast destinations (rtmp/srt push, hls pull).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "partners",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(120), nullable=False, unique=True),
        sa.Column("kind", sa.String(8), nullable=False),
        # Push URL with the stream key, stored as given (documented in docs/api.md).
        sa.Column("url", sa.String(2048), nullable=True),
        sa.Column("profile", sa.String(16), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        # Only the SHA-256 of the HLS pull token: it is shown once and never again.
        sa.Column("hls_token_sha256", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("kind IN ('rtmp', 'srt', 'hls')", name="ck_partners_kind"),
    )


def downgrade() -> None:
    op.drop_table("partners")
