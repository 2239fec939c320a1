"""SQLAlchemy Core tables owned by the streaming package: the partners (broadcast destinations).

The schema is created and evolved by the Alembic migrations of the composition root (revision
0003); these definitions are what :mod:`streaming.partners` queries against. The push URL,
stream key included, is stored as given (see ``docs/api.md``); the HLS pull token only as its
SHA-256 digest, because it is handed out once and never needs to be shown again.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    MetaData,
    String,
    Table,
    TypeDecorator,
    func,
)

from foundation.sqltypes import Id

metadata = MetaData()


class _Unprintable(str):
    """A ``str`` whose ``repr`` is ``'****'``: the driver stores the text, log lines do not show it.

    Parameters reach log output as reprs — aiosqlite logs every statement with its parameters at
    DEBUG, SQLAlchemy's echo and its error messages list them too — so this is the one place
    that covers all of those paths.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "'****'"


class SecretString(TypeDecorator[str]):
    """A string column holding a secret (a push URL with its stream key)."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else _Unprintable(value)

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        # Plain str again: in memory, Partner keeps the URL out of its own repr.
        return None if value is None else str(value)


#: Longest push URL we store; matches :data:`streaming.ffmpeg.urls.MAX_URL_LENGTH`.
URL_LENGTH = 2048

partners = Table(
    "partners",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(120), nullable=False, unique=True),
    Column("kind", String(8), nullable=False),
    # rtmp/srt kinds only; holds the stream key, so it never leaves the repository unmasked.
    Column("url", SecretString(URL_LENGTH), nullable=True),
    Column("profile", String(16), nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
    # hls kind only: hex SHA-256 of the pull token.
    Column("hls_token_sha256", String(64), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("kind IN ('rtmp', 'srt', 'hls')", name="ck_partners_kind"),
)
