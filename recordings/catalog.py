"""The archive catalog: the repository of recording rows (SQLAlchemy Core on the async engine).

Owns every read and write of the ``recordings`` table. Status moves recording → finalizing →
available | failed, or → needs_finalize (segments kept, waiting for disk space) → finalizing;
deletions are conditional updates so that a concurrent PATCH (keep) or a
recording still being written can never be deleted by a stale decision.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from recordings.errors import RecordingBusy, RecordingNotFound
from recordings.tables import recordings

BUSY_STATUSES = frozenset({"recording", "finalizing"})


@dataclass(frozen=True, slots=True)
class Recording:
    id: int
    occurrence_id: int
    seminar_id: int
    title: str
    status: str
    reason: str | None
    recovered: bool
    keep: bool
    started_at: datetime
    ended_at: datetime | None
    duration_s: float | None
    size_bytes: int | None
    width: int | None
    height: int | None
    video_codec: str | None
    audio_codec: str | None
    bitrate: int | None
    sha256: str | None
    shared_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class MediaFacts:
    """What finalization learned about the verified file."""

    duration_s: float
    size_bytes: int
    width: int | None
    height: int | None
    video_codec: str | None
    audio_codec: str | None
    bitrate: int | None
    sha256: str


@dataclass(frozen=True, slots=True)
class RecordingFilter:
    seminar_id: int | None = None
    occurrence_id: int | None = None
    started_from: datetime | None = None
    started_to: datetime | None = None
    q: str | None = None


def _recording(row: Any) -> Recording:
    return Recording(**{name: getattr(row, name) for name in Recording.__slots__})


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class Catalog:
    def __init__(self, engine: Callable[[], AsyncEngine]) -> None:
        # A provider: the engine exists only once the database component has started.
        self._engine_provider = engine

    @property
    def _engine(self) -> AsyncEngine:
        return self._engine_provider()

    async def create(
        self, occurrence_id: int, seminar_id: int, title: str, started_at: datetime
    ) -> Recording:
        now = datetime.now(UTC)
        async with self._engine.begin() as conn:
            result = await conn.execute(
                insert(recordings).values(
                    occurrence_id=occurrence_id,
                    seminar_id=seminar_id,
                    title=title[:200],
                    status="recording",
                    recovered=False,
                    keep=False,
                    started_at=started_at,
                    created_at=now,
                    updated_at=now,
                )
            )
            recording_id = result.inserted_primary_key[0]
        return await self.get(recording_id)

    async def get(self, recording_id: int) -> Recording:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(select(recordings).where(recordings.c.id == recording_id))
            ).first()
        if row is None:
            raise RecordingNotFound(recording_id)
        return _recording(row)

    async def list(self, where: RecordingFilter = RecordingFilter()) -> list[Recording]:
        query = select(recordings).order_by(recordings.c.started_at, recordings.c.id)
        c = recordings.c
        if where.seminar_id is not None:
            query = query.where(c.seminar_id == where.seminar_id)
        if where.occurrence_id is not None:
            query = query.where(c.occurrence_id == where.occurrence_id)
        if where.started_from is not None:
            query = query.where(c.started_at >= where.started_from)
        if where.started_to is not None:
            query = query.where(c.started_at < where.started_to)
        if where.q:
            query = query.where(c.title.ilike(f"%{_like_escape(where.q)}%", escape="\\"))
        async with self._engine.connect() as conn:
            return [_recording(row) for row in await conn.execute(query)]

    async def unfinished(self) -> list[Recording]:
        """Rows whose recorder or finalizer did not finish (crash, power loss, shutdown)."""
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(recordings)
                .where(recordings.c.status.in_(sorted(BUSY_STATUSES)))
                .order_by(recordings.c.id)
            )
            return [_recording(row) for row in rows]

    async def with_status(self, status: str) -> list[Recording]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(recordings).where(recordings.c.status == status).order_by(recordings.c.id)
            )
            return [_recording(row) for row in rows]

    async def latest(self, occurrence_id: int) -> Recording | None:
        """The occurrence's newest recording, whatever its status: the one a restart or a
        resumed date continues instead of opening a second entry."""
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(recordings)
                    .where(recordings.c.occurrence_id == occurrence_id)
                    .order_by(recordings.c.id.desc())
                    .limit(1)
                )
            ).first()
        return None if row is None else _recording(row)

    async def set_status(
        self, recording_id: int, status: str, reason: str | None = None, **values: Any
    ) -> None:
        if reason is not None:  # otherwise keep the earlier reason (e.g. a disk-guard closure)
            values["reason"] = reason[:300]
        async with self._engine.begin() as conn:
            await conn.execute(
                update(recordings)
                .where(recordings.c.id == recording_id)
                .values(status=status, updated_at=datetime.now(UTC), **values)
            )

    async def publish(self, recording_id: int, facts: MediaFacts, *, recovered: bool) -> None:
        """Mark the recording available with the facts of its verified file."""
        await self.set_status(
            recording_id,
            "available",
            None,
            recovered=recovered,
            duration_s=facts.duration_s,
            size_bytes=facts.size_bytes,
            width=facts.width,
            height=facts.height,
            video_codec=facts.video_codec,
            audio_codec=facts.audio_codec,
            bitrate=facts.bitrate,
            sha256=facts.sha256,
        )

    async def update(
        self, recording_id: int, *, title: str | None = None, keep: bool | None = None
    ) -> Recording:
        values: dict[str, Any] = {}
        if title is not None:
            values["title"] = title
        if keep is not None:
            values["keep"] = keep
        if values:
            async with self._engine.begin() as conn:
                result = await conn.execute(
                    update(recordings)
                    .where(recordings.c.id == recording_id)
                    .values(**values, updated_at=datetime.now(UTC))
                )
            if result.rowcount == 0:
                raise RecordingNotFound(recording_id)
        return await self.get(recording_id)

    async def mark_shared(self, recording_id: int, until: datetime) -> None:
        """Remember a share link valid until ``until`` (the latest one wins, never shortened)."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(recordings)
                .where(recordings.c.id == recording_id)
                .where((recordings.c.shared_until.is_(None)) | (recordings.c.shared_until < until))
                .values(shared_until=until, updated_at=datetime.now(UTC))
            )
            if result.rowcount == 0:
                await self.get(recording_id)  # RecordingNotFound, or it was shared longer

    async def delete(self, recording_id: int, *, unless_kept: bool = False) -> Recording:
        """Remove the row unless it is being written (RecordingBusy); returns what was removed.

        ``unless_kept`` (retention) also spares rows flagged keep, checked in the same statement.
        """
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(select(recordings).where(recordings.c.id == recording_id))
            ).first()
            if row is None:
                raise RecordingNotFound(recording_id)
            if row.status in BUSY_STATUSES:
                raise RecordingBusy(recording_id, row.status)
            condition = recordings.c.status.not_in(sorted(BUSY_STATUSES))
            if unless_kept:
                condition = condition & recordings.c.keep.is_(False)
            result = await conn.execute(
                delete(recordings).where(recordings.c.id == recording_id, condition)
            )
            if result.rowcount == 0:
                raise RecordingBusy(recording_id, "kept")
        return _recording(row)
