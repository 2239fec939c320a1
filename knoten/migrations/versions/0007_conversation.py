"""Conversation: participants with their own sessions, chat messages, question votes, chat mode.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "participants",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("occurrence_id", sa.Integer, nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("consented_at", sa.DateTime, nullable=True),
        sa.Column("chat_muted", sa.Boolean, nullable=False),
        sa.Column("removed", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_participants_occurrence", "participants", ["occurrence_id"])
    op.create_table(
        "chat_messages",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("occurrence_id", sa.Integer, nullable=False),
        sa.Column("participant_id", sa.Integer, nullable=True),
        sa.Column("author", sa.String(40), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("question_state", sa.String(16), nullable=True),
        sa.Column("votes", sa.Integer, nullable=False),
        sa.Column("hidden", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_chat_messages_occurrence", "chat_messages", ["occurrence_id", "id"])
    op.create_table(
        "question_votes",
        sa.Column("message_id", sa.Integer, primary_key=True),
        sa.Column("participant_id", sa.Integer, primary_key=True),
    )
    op.create_table(
        "chat_settings",
        sa.Column("occurrence_id", sa.Integer, primary_key=True),
        sa.Column("mode", sa.String(16), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("chat_settings")
    op.drop_table("question_votes")
    op.drop_index("ix_chat_messages_occurrence", "chat_messages")
    op.drop_table("chat_messages")
    op.drop_index("ix_participants_occurrence", "participants")
    op.drop_table("participants")
