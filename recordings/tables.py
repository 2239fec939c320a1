"""SQLAlchemy Core table of the archive catalog, with its own ``metadata``.

Created by migration 0004. ``occurrence_id`` and ``seminar_id`` are plain indexed integers, not
foreign keys: a recording outlives edits and deletions of its schedule (the title is copied), and
only retention or an explicit DELETE removes it.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
)

from foundation.sqltypes import Id, UtcDateTime

metadata = MetaData()

STATUSES = ("recording", "finalizing", "needs_finalize", "available", "failed")

recordings = Table(
    "recordings",
    metadata,
    Column("id", Id, primary_key=True),
    Column("occurrence_id", Id, nullable=False),
    Column("seminar_id", Id, nullable=False),
    Column("title", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", String(300), nullable=True),  # why failed / closed early
    Column("recovered", Boolean, nullable=False, default=False),
    Column("keep", Boolean, nullable=False, default=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime, nullable=True),
    Column("duration_s", Float, nullable=True),
    Column("size_bytes", BigInteger, nullable=True),
    Column("width", Integer, nullable=True),
    Column("height", Integer, nullable=True),
    Column("video_codec", String(32), nullable=True),
    Column("audio_codec", String(32), nullable=True),
    Column("bitrate", Integer, nullable=True),
    Column("sha256", String(64), nullable=True),
    # Until when the host's share link is valid (None: never shared); the join page links it.
    Column("shared_until", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_recordings_occurrence", "occurrence_id"),
    Index("ix_recordings_seminar", "seminar_id"),
    Index("ix_recordings_started", "started_at"),
)
