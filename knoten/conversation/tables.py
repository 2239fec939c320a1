"""SQLAlchemy Core tables of the conversation, with their own ``metadata`` (migration 0007).

``occurrence_id`` is a plain indexed integer, like the archive's: messages belong to a date and
outlive edits of its seminar until retention removes them.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, MetaData, String, Table, Text

from foundation.sqltypes import Id, UtcDateTime

metadata = MetaData()

participants = Table(
    "participants",
    metadata,
    Column("id", Id, primary_key=True),
    Column("occurrence_id", Id, nullable=False),
    # sha256 of the participant's own secret (kept in their browser); the secret is never stored.
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("name", String(40), nullable=False),
    Column("consented_at", UtcDateTime, nullable=True),
    Column("chat_muted", Boolean, nullable=False, default=False),
    Column("removed", Boolean, nullable=False, default=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_participants_occurrence", "occurrence_id"),
)

chat_messages = Table(
    "chat_messages",
    metadata,
    Column("id", Id, primary_key=True),
    Column("occurrence_id", Id, nullable=False),
    Column("participant_id", Id, nullable=True),  # None: the host
    Column("author", String(40), nullable=False),
    Column("role", String(16), nullable=False),  # participant | host
    Column("text", Text, nullable=False),
    Column("question_state", String(16), nullable=True),  # None: not a question
    Column("votes", Integer, nullable=False, default=0),
    Column("hidden", Boolean, nullable=False, default=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_chat_messages_occurrence", "occurrence_id", "id"),
)

question_votes = Table(
    "question_votes",
    metadata,
    Column("message_id", Id, primary_key=True),
    Column("participant_id", Id, primary_key=True),
)

chat_settings = Table(
    "chat_settings",
    metadata,
    Column("occurrence_id", Id, primary_key=True),
    Column("mode", String(16), nullable=False),
)
