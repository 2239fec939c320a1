"""Alembic environment: runs on the connection handed over by ``knoten.db`` (or its own)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from knoten.conversation.tables import metadata as conversation_metadata
from recordings.tables import metadata as recordings_metadata
from schedules.tables import metadata as schedules_metadata
from streaming.tables import metadata as streaming_metadata

target_metadata = [
    schedules_metadata,
    streaming_metadata,
    recordings_metadata,
    conversation_metadata,
]


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    # Stand-alone use (``alembic`` CLI for authoring): a synchronous engine on the same database.
    url = context.config.get_main_option("sqlalchemy.url") or ""
    url = url.replace("+aiosqlite", "").replace("+asyncpg", "+psycopg")
    with create_engine(url).connect() as conn:
        _run(conn)
