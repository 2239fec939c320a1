"""Accounts, providers, database sessions, personal API tokens, seminar ownership.

Existing installs: the default provider "Bibliothek" is created and owns every existing seminar;
no account exists yet, so the first staff account is created on the one-time set-up page. The
admin token (file or configuration) keeps working for the API.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    providers = op.create_table(
        "providers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(120), nullable=False, unique=True),
        sa.Column("contact", sa.Text, nullable=False),
        sa.Column("is_default", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("display_name", sa.String(120), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("provider_id", sa.Integer, sa.ForeignKey("providers.id", ondelete="RESTRICT"), nullable=True),
        sa.Column("partner_id", sa.Integer, sa.ForeignKey("partners.id", ondelete="SET NULL"), nullable=True),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("password_changed_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "web_sessions",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("last_seen", sa.DateTime, nullable=False),
    )
    op.create_index("ix_web_sessions_account", "web_sessions", ["account_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.Column("last_used_at", sa.DateTime, nullable=True),
    )
    op.create_index("ix_api_tokens_account", "api_tokens", ["account_id"])
    op.create_table(
        "seminar_owners",
        sa.Column("seminar_id", sa.Integer, sa.ForeignKey("seminars.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("provider_id", sa.Integer, sa.ForeignKey("providers.id", ondelete="RESTRICT"), nullable=False),
    )
    op.create_index("ix_seminar_owners_provider", "seminar_owners", ["provider_id"])
    now = datetime.now(UTC).replace(tzinfo=None)
    op.bulk_insert(
        providers,
        [{"name": "Bibliothek", "contact": "", "is_default": True, "created_at": now}],
    )
    # Every existing seminar belongs to the library's own provider.
    op.execute(
        "INSERT INTO seminar_owners (seminar_id, provider_id) SELECT s.id, p.id"
        " FROM seminars s, providers p WHERE p.is_default"
    )


def downgrade() -> None:
    op.drop_table("seminar_owners")
    op.drop_table("api_tokens")
    op.drop_table("web_sessions")
    op.drop_table("accounts")
    op.drop_table("providers")
