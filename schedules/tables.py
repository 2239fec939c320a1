"""SQLAlchemy Core tables owned by the schedules package: rooms, seminars, occurrences.

The schema itself is created and evolved by the Alembic migrations of the composition root;
these definitions are what the repositories query against. Instants are stored as UTC and come
back timezone-aware (SQLite keeps no offset, so :class:`UtcDateTime` restores it). The type lives in
:mod:`foundation.sqltypes`; it stays importable from here for tables that import it this way.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)

from foundation.sqltypes import Id, UtcDateTime

metadata = MetaData()


rooms = Table(
    "rooms",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(120), nullable=False, unique=True),
    Column("source", String(500), nullable=False),
    Column("timezone", String(64), nullable=False),
    # Secret key of the room's push ingest (SRT passphrase); never listed, shown on request.
    Column("stream_key", String(64), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

seminars = Table(
    "seminars",
    metadata,
    Column("id", Id, primary_key=True),
    Column("room_id", Id, ForeignKey("rooms.id", ondelete="RESTRICT"), nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("host", String(200), nullable=False, default=""),
    Column("timezone", String(64), nullable=False),
    # Wall-clock times in the seminar's zone: recurrence is expanded in local time (DST-correct).
    Column("start_local", DateTime, nullable=False),
    Column("end_local", DateTime, nullable=False),
    Column("rrule", Text, nullable=True),
    Column("exdates", JSON, nullable=False, default=list),
    Column("record", Boolean, nullable=False, default=True),
    Column("lead_in_minutes", Integer, nullable=False, default=5),
    Column("lead_out_minutes", Integer, nullable=False, default=0),
    Column("partner_ids", JSON, nullable=False, default=list),
    # Up to where an unbounded series has been turned into occurrence rows.
    Column("materialized_until", UtcDateTime, nullable=True),
    Column("sequence", Integer, nullable=False, default=0),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

occurrences = Table(
    "occurrences",
    metadata,
    Column("id", Id, primary_key=True),
    Column("seminar_id", Id, ForeignKey("seminars.id", ondelete="CASCADE"), nullable=False),
    Column("room_id", Id, ForeignKey("rooms.id", ondelete="RESTRICT"), nullable=False),
    Column("recurrence_id", String(40), nullable=False),
    Column("start_utc", UtcDateTime, nullable=False),
    Column("end_utc", UtcDateTime, nullable=False),
    Column("lead_in_minutes", Integer, nullable=False),
    Column("lead_out_minutes", Integer, nullable=False),
    Column("state", String(16), nullable=False, default="scheduled"),
    Column("moved", Boolean, nullable=False, default=False),
    Column("actual_start_utc", UtcDateTime, nullable=True),
    Column("actual_end_utc", UtcDateTime, nullable=True),
    Column("state_reason", String(200), nullable=True),
    Column("sequence", Integer, nullable=False, default=0),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("seminar_id", "recurrence_id", name="uq_occurrence_recurrence"),
    Index("ix_occurrences_room_start", "room_id", "start_utc"),
    Index("ix_occurrences_state_start", "state", "start_utc"),
    Index(
        "ix_occurrences_started_early",
        "state",
        sqlite_where=text("actual_start_utc IS NOT NULL"),
        postgresql_where=text("actual_start_utc IS NOT NULL"),
    ),
)
