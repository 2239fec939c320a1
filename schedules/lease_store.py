"""Live leases in the database: take, renew, release and read them (table ``live_leases``).

The SQL states the rules of :mod:`schedules.leases` as conditions, so the database decides who
wins when two nodes try at once. Taking is a conditional UPDATE of an existing row (free, expired
or our own) and otherwise the INSERT of a new one; on both SQLite and PostgreSQL exactly one of
two concurrent attempts changes the row or inserts it, and the other changes nothing or hits the
primary key. The schema comes from migration 0013.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime, timedelta

from sqlalchemy import Column, MetaData, String, Table, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from foundation.sqltypes import Id, UtcDateTime
from schedules.leases import Lease

metadata = MetaData()

live_leases = Table(
    "live_leases",
    metadata,
    Column("occurrence_id", Id, primary_key=True, autoincrement=False),
    Column("node_id", String(64), nullable=False),
    Column("node_url", String(300), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
)


class LeaseStore:
    def __init__(self, engine: Callable[[], AsyncEngine]) -> None:
        self._engine_of = engine

    @property
    def _engine(self) -> AsyncEngine:
        return self._engine_of()

    async def take(
        self, occurrence_id: int, node_id: str, node_url: str, now: datetime, ttl: timedelta
    ) -> bool:
        """Take (or keep) the lease of ``occurrence_id`` for ``node_id`` if it is free, expired
        or ours; True when this node holds it now."""
        c = live_leases.c
        values = {"node_id": node_id, "node_url": node_url, "expires_at": now + ttl}
        async with self._engine.begin() as conn:
            changed = await conn.execute(
                update(live_leases)
                .where(c.occurrence_id == occurrence_id)
                .where(or_(c.node_id == node_id, c.expires_at <= now))
                .values(**values)
            )
            if changed.rowcount == 1:
                return True
            # No row, or a row another node holds: only a new row can still be ours.
            exists = await conn.execute(select(c.node_id).where(c.occurrence_id == occurrence_id))
            if exists.first() is not None:
                return False
        try:
            async with self._engine.begin() as conn:
                row = {"occurrence_id": occurrence_id, **values}
                await conn.execute(insert(live_leases).values(**row))
        except IntegrityError:
            # Another node inserted it first (or the date was deleted meanwhile).
            return False
        return True

    async def renew(
        self, node_id: str, occurrence_ids: Collection[int], expires_at: datetime
    ) -> set[int]:
        """Extend this node's leases of ``occurrence_ids``; returns those it still holds."""
        if not occurrence_ids:
            return set()
        c = live_leases.c
        ids = sorted(occurrence_ids)
        async with self._engine.begin() as conn:
            await conn.execute(
                update(live_leases)
                .where(c.node_id == node_id, c.occurrence_id.in_(ids))
                .values(expires_at=expires_at)
            )
            rows = await conn.execute(
                select(c.occurrence_id).where(c.node_id == node_id, c.occurrence_id.in_(ids))
            )
            return {row.occurrence_id for row in rows}

    async def release(self, node_id: str, occurrence_ids: Collection[int]) -> None:
        """Give this node's leases of ``occurrence_ids`` back (another node's stay untouched)."""
        if not occurrence_ids:
            return
        c = live_leases.c
        async with self._engine.begin() as conn:
            await conn.execute(
                delete(live_leases).where(
                    c.node_id == node_id, c.occurrence_id.in_(sorted(occurrence_ids))
                )
            )

    async def holders(self, occurrence_ids: Collection[int] | None = None) -> dict[int, Lease]:
        """The stored leases (expired ones too) of ``occurrence_ids``, or of every date."""
        query = select(live_leases)
        if occurrence_ids is not None:
            if not occurrence_ids:
                return {}
            query = query.where(live_leases.c.occurrence_id.in_(sorted(occurrence_ids)))
        async with self._engine.connect() as conn:
            rows = await conn.execute(query)
            return {
                row.occurrence_id: Lease(
                    row.occurrence_id, row.node_id, row.node_url, row.expires_at
                )
                for row in rows
            }
