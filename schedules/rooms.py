"""The room repository: rooms persisted with SQLAlchemy Core on the async engine.

A room's ``source`` (its camera) and ``stream_key`` (the secret an encoder pushes with) are
opaque values here: the media plane validates sources and makes keys, and the composition root
hands this repository the function that makes them.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from schedules.errors import RoomNotFound, ScheduleError
from schedules.tables import occurrences, rooms, seminars


class RoomNameTaken(ScheduleError):
    """Another room already has this name."""

    code = "room_name_taken"

    def __init__(self, name: str) -> None:
        super().__init__(f"a room named {name!r} exists already")
        self.field = "name"
        self.message = f"a room named {name!r} exists already"


class RoomInUse(ScheduleError):
    """Seminars are booked in the room, or past dates of a moved seminar took place there."""

    code = "room_in_use"

    def __init__(self, room_id: int, *, history: bool = False) -> None:
        if history:
            message = (
                f"room {room_id} is where past dates took place; they keep their room, "
                "so the room cannot be deleted (rename it instead)"
            )
        else:
            message = f"room {room_id} still has seminars; delete or move them first"
        super().__init__(message)
        self.field = None


@dataclass(frozen=True)
class Room:
    id: int
    name: str
    source: str
    timezone: str
    # The push ingest's secret (SRT passphrase): kept out of repr so it never reaches a log.
    stream_key: str | None = field(default=None, repr=False)


def _room(row) -> Room:  # type: ignore[no-untyped-def]
    return Room(
        id=row.id,
        name=row.name,
        source=row.source,
        timezone=row.timezone,
        stream_key=row.stream_key,
    )


def _random_key() -> str:
    return secrets.token_urlsafe(24)


class RoomRepository:
    def __init__(
        self, engine: Callable[[], AsyncEngine], new_stream_key: Callable[[], str] = _random_key
    ) -> None:
        # A provider, because the engine exists only once the database component has started.
        self._engine_provider = engine
        self._new_stream_key = new_stream_key

    @property
    def _engine(self) -> AsyncEngine:
        return self._engine_provider()

    async def list(self) -> list[Room]:
        async with self._engine.connect() as conn:
            result = await conn.execute(select(rooms).order_by(rooms.c.id))
            return [_room(row) for row in result]

    async def get(self, room_id: int) -> Room:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(rooms).where(rooms.c.id == room_id))).first()
        if row is None:
            raise RoomNotFound(room_id)
        return _room(row)

    async def create(self, name: str, source: str, timezone: str) -> Room:
        now = datetime.now(UTC)
        try:
            async with self._engine.begin() as conn:
                result = await conn.execute(
                    insert(rooms).values(
                        name=name,
                        source=source,
                        timezone=timezone,
                        stream_key=self._new_stream_key(),
                        created_at=now,
                        updated_at=now,
                    )
                )
                room_id = result.inserted_primary_key[0]
        except IntegrityError:
            raise RoomNameTaken(name) from None
        return Room(id=room_id, name=name, source=source, timezone=timezone)

    async def stream_key(self, room_id: int) -> str:
        """The room's push key, created on first use (rooms from before keys existed)."""
        room = await self.get(room_id)
        if room.stream_key:
            return room.stream_key
        key = self._new_stream_key()
        async with self._engine.begin() as conn:
            await conn.execute(update(rooms).where(rooms.c.id == room_id).values(stream_key=key))
        return key

    async def update(self, room_id: int, **changes: str) -> Room:
        if changes:
            try:
                async with self._engine.begin() as conn:
                    result = await conn.execute(
                        update(rooms)
                        .where(rooms.c.id == room_id)
                        .values(**changes, updated_at=datetime.now(UTC))
                    )
                    if result.rowcount == 0:
                        raise RoomNotFound(room_id)
            except IntegrityError:
                raise RoomNameTaken(changes.get("name", "")) from None
        return await self.get(room_id)

    async def delete(self, room_id: int) -> None:
        async with self._engine.begin() as conn:
            booked = await conn.execute(
                select(seminars.c.id).where(seminars.c.room_id == room_id).limit(1)
            )
            if booked.first() is not None:
                raise RoomInUse(room_id)
            # A seminar moved to another room leaves its past dates here (history is not
            # rewritten), and the foreign key would refuse the delete.
            held = await conn.execute(
                select(occurrences.c.id).where(occurrences.c.room_id == room_id).limit(1)
            )
            if held.first() is not None:
                raise RoomInUse(room_id, history=True)
            result = await conn.execute(delete(rooms).where(rooms.c.id == room_id))
        if result.rowcount == 0:
            raise RoomNotFound(room_id)
