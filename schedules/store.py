"""SQL access for seminars and occurrences: rows in, plain records out.

Every method takes an open connection so the service composes several of them into one
transaction (nothing is half-written on a refusal). :class:`SqlOccurrenceSource` is the
reconciler's view of the same tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from schedules.domain import (
    MAX_LEAD_IN_MINUTES,
    MAX_LEAD_OUT_MINUTES,
    OccurrenceState,
    OccurrenceView,
)
from schedules.errors import OccurrenceNotFound, SeminarNotFound
from schedules.ports import SessionInfo
from schedules.tables import occurrences, rooms, seminars

ACTIVE_STATES = (
    OccurrenceState.SCHEDULED.value,
    OccurrenceState.LIVE.value,
    OccurrenceState.REQUESTED.value,  # holds the room until confirmed or declined
)
# Any occurrence whose blocked window touches [a, b) starts before b + lead-in and ends after
# a - lead-out; the widest lead times bound that for an index-friendly query.
_LEAD_IN_MARGIN = timedelta(minutes=MAX_LEAD_IN_MINUTES)
_LEAD_OUT_MARGIN = timedelta(minutes=MAX_LEAD_OUT_MINUTES)


@dataclass(frozen=True)
class SeminarRow:
    id: int
    room_id: int
    title: str
    description: str
    host: str
    timezone: str
    start_local: datetime
    end_local: datetime
    rrule: str | None
    exdates: tuple[datetime, ...]
    record: bool
    lead_in_minutes: int
    lead_out_minutes: int
    partner_ids: tuple[int, ...]
    materialized_until: datetime | None
    sequence: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class OccurrenceRow:
    """An occurrence joined with what it inherits from its seminar."""

    id: int
    seminar_id: int
    room_id: int
    recurrence_id: str
    start_utc: datetime
    end_utc: datetime
    lead_in_minutes: int
    lead_out_minutes: int
    state: OccurrenceState
    moved: bool
    actual_start_utc: datetime | None
    actual_end_utc: datetime | None
    state_reason: str | None
    sequence: int
    updated_at: datetime
    title: str
    description: str
    host: str
    timezone: str
    record: bool
    partner_ids: tuple[int, ...]
    is_recurring: bool

    def view(self) -> OccurrenceView:
        return OccurrenceView(
            id=self.id,
            seminar_id=self.seminar_id,
            room_id=self.room_id,
            title=self.title,
            start_utc=self.start_utc,
            end_utc=self.end_utc,
            lead_in=timedelta(minutes=self.lead_in_minutes),
            lead_out=timedelta(minutes=self.lead_out_minutes),
            state=self.state,
            recurrence_id=self.recurrence_id,
            actual_start_utc=self.actual_start_utc,
        )


def _seminar(row: Any) -> SeminarRow:
    return SeminarRow(
        id=row.id,
        room_id=row.room_id,
        title=row.title,
        description=row.description,
        host=row.host,
        timezone=row.timezone,
        start_local=row.start_local,
        end_local=row.end_local,
        rrule=row.rrule,
        exdates=tuple(datetime.fromisoformat(x) for x in row.exdates or ()),
        record=row.record,
        lead_in_minutes=row.lead_in_minutes,
        lead_out_minutes=row.lead_out_minutes,
        partner_ids=tuple(row.partner_ids or ()),
        materialized_until=row.materialized_until,
        sequence=row.sequence,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


_OCCURRENCE_COLUMNS = (
    *occurrences.c,
    seminars.c.title,
    seminars.c.description,
    seminars.c.host,
    seminars.c.timezone,
    seminars.c.record,
    seminars.c.partner_ids,
    seminars.c.rrule,
)


def _occurrence(row: Any) -> OccurrenceRow:
    return OccurrenceRow(
        id=row.id,
        seminar_id=row.seminar_id,
        room_id=row.room_id,
        recurrence_id=row.recurrence_id,
        start_utc=row.start_utc,
        end_utc=row.end_utc,
        lead_in_minutes=row.lead_in_minutes,
        lead_out_minutes=row.lead_out_minutes,
        state=OccurrenceState(row.state),
        moved=row.moved,
        actual_start_utc=row.actual_start_utc,
        actual_end_utc=row.actual_end_utc,
        state_reason=row.state_reason,
        sequence=row.sequence,
        updated_at=row.updated_at,
        title=row.title,
        description=row.description,
        host=row.host,
        timezone=row.timezone,
        record=row.record,
        partner_ids=tuple(row.partner_ids or ()),
        is_recurring=bool(row.rrule),
    )


def _joined() -> Any:
    return select(*_OCCURRENCE_COLUMNS).join_from(
        occurrences, seminars, occurrences.c.seminar_id == seminars.c.id
    )


def seminar_values(**values: Any) -> dict[str, Any]:
    """Column values for the seminars table (exdates and partner ids stored as JSON lists)."""
    if "exdates" in values:
        values["exdates"] = [d.isoformat() for d in values["exdates"]]
    if "partner_ids" in values:
        values["partner_ids"] = list(values["partner_ids"])
    return values


class ScheduleStore:
    """Queries over seminars and occurrences, each on a caller-provided connection."""

    async def room_timezone(self, conn: AsyncConnection, room_id: int) -> str | None:
        result = await conn.execute(select(rooms.c.timezone).where(rooms.c.id == room_id))
        return result.scalar_one_or_none()

    async def room_names(self, conn: AsyncConnection) -> dict[int, str]:
        result = await conn.execute(select(rooms.c.id, rooms.c.name))
        return {row.id: row.name for row in result}

    async def insert_seminar(self, conn: AsyncConnection, **values: Any) -> int:
        result = await conn.execute(insert(seminars).values(**seminar_values(**values)))
        return int(result.inserted_primary_key[0])

    async def update_seminar(self, conn: AsyncConnection, seminar_id: int, **values: Any) -> None:
        await conn.execute(
            update(seminars).where(seminars.c.id == seminar_id).values(**seminar_values(**values))
        )

    async def delete_seminar(self, conn: AsyncConnection, seminar_id: int) -> None:
        # Explicit, so SQLite without the foreign-key pragma behaves the same as PostgreSQL.
        await conn.execute(delete(occurrences).where(occurrences.c.seminar_id == seminar_id))
        result = await conn.execute(delete(seminars).where(seminars.c.id == seminar_id))
        if result.rowcount == 0:
            raise SeminarNotFound(seminar_id)

    async def seminar(self, conn: AsyncConnection, seminar_id: int) -> SeminarRow:
        row = (await conn.execute(select(seminars).where(seminars.c.id == seminar_id))).first()
        if row is None:
            raise SeminarNotFound(seminar_id)
        return _seminar(row)

    async def seminars(self, conn: AsyncConnection, room_id: int | None = None) -> list[SeminarRow]:
        query = select(seminars).order_by(seminars.c.start_local, seminars.c.id)
        if room_id is not None:
            query = query.where(seminars.c.room_id == room_id)
        return [_seminar(row) for row in await conn.execute(query)]

    async def seminars_to_extend(self, conn: AsyncConnection, until: datetime) -> list[SeminarRow]:
        query = select(seminars).where(
            seminars.c.rrule.is_not(None),
            seminars.c.materialized_until.is_not(None),
            seminars.c.materialized_until < until,
        )
        return [_seminar(row) for row in await conn.execute(query)]

    async def insert_occurrences(
        self, conn: AsyncConnection, rows: Sequence[dict[str, Any]]
    ) -> None:
        if rows:
            await conn.execute(insert(occurrences), list(rows))

    async def update_occurrence(
        self, conn: AsyncConnection, occurrence_id: int, **values: Any
    ) -> None:
        await conn.execute(
            update(occurrences).where(occurrences.c.id == occurrence_id).values(**values)
        )

    async def delete_occurrences(self, conn: AsyncConnection, ids: Iterable[int]) -> None:
        ids = list(ids)
        if ids:
            await conn.execute(delete(occurrences).where(occurrences.c.id.in_(ids)))

    async def occurrence(self, conn: AsyncConnection, occurrence_id: int) -> OccurrenceRow:
        row = (await conn.execute(_joined().where(occurrences.c.id == occurrence_id))).first()
        if row is None:
            raise OccurrenceNotFound(occurrence_id)
        return _occurrence(row)

    async def occurrences_of(self, conn: AsyncConnection, seminar_id: int) -> list[OccurrenceRow]:
        query = (
            _joined()
            .where(occurrences.c.seminar_id == seminar_id)
            .order_by(occurrences.c.start_utc, occurrences.c.id)
        )
        return [_occurrence(row) for row in await conn.execute(query)]

    async def occurrence_counts(self, conn: AsyncConnection) -> dict[int, int]:
        query = select(occurrences.c.seminar_id, func.count()).group_by(occurrences.c.seminar_id)
        return {row[0]: row[1] for row in await conn.execute(query)}

    async def in_window(
        self,
        conn: AsyncConnection,
        start: datetime,
        end: datetime,
        *,
        room_id: int | None = None,
        states: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[OccurrenceRow]:
        """Occurrences overlapping ``[start, end)`` by their own start/end, sorted by start."""
        query = _joined().where(occurrences.c.start_utc < end, occurrences.c.end_utc > start)
        if room_id is not None:
            query = query.where(occurrences.c.room_id == room_id)
        if states is not None:
            query = query.where(occurrences.c.state.in_(list(states)))
        query = query.order_by(occurrences.c.start_utc, occurrences.c.id)
        if limit is not None:
            query = query.limit(limit)
        return [_occurrence(row) for row in await conn.execute(query)]

    async def blocking(
        self, conn: AsyncConnection, room_id: int, start: datetime, end: datetime
    ) -> list[OccurrenceView]:
        """Scheduled or live occurrences of the room whose blocked window may touch
        ``[start, end)``; the exact overlap is decided by the conflict sweep."""
        rows = await self.in_window(
            conn,
            start - _LEAD_OUT_MARGIN,
            end + _LEAD_IN_MARGIN,
            room_id=room_id,
            states=ACTIVE_STATES,
        )
        return [row.view() for row in rows]


class SqlOccurrenceSource:
    """The reconciler's port onto the occurrence table."""

    def __init__(self, engine: Callable[[], AsyncEngine], store: ScheduleStore) -> None:
        self._engine = engine
        self._store = store

    async def reconcile_candidates(self, now: datetime) -> list[tuple[OccurrenceView, SessionInfo]]:
        # Live ones, and scheduled ones whose lead-in has begun or whose end has passed (to be
        # marked missed), or which staff started early. Three indexed queries instead of one
        # with ORs, which SQLite answers by reading every future row (5–9 ms at 10,000
        # occurrences, on every edit and trigger; bench/schedules).
        scheduled, live = OccurrenceState.SCHEDULED.value, OccurrenceState.LIVE.value
        queries = (
            _joined().where(
                occurrences.c.state == scheduled,
                occurrences.c.start_utc <= now + _LEAD_IN_MARGIN,
            ),
            _joined().where(occurrences.c.state == live),
            _joined().where(
                occurrences.c.actual_start_utc.is_not(None), occurrences.c.state == scheduled
            ),
        )
        found: dict[int, OccurrenceRow] = {}
        async with self._engine().connect() as conn:
            # One round trip: each aiosqlite statement costs about a millisecond of overhead.
            for row in await conn.execute(union_all(*queries)):
                found.setdefault(row.id, _occurrence(row))
        rows = sorted(found.values(), key=lambda r: (r.start_utc, r.id))
        return [
            (row.view(), SessionInfo(record=row.record, partner_ids=row.partner_ids))
            for row in rows
        ]

    async def upcoming(self, now: datetime, until: datetime) -> list[OccurrenceView]:
        async with self._engine().connect() as conn:
            rows = await self._store.in_window(
                conn, now - _LEAD_OUT_MARGIN, until + _LEAD_IN_MARGIN, states=ACTIVE_STATES
            )
        return [row.view() for row in rows]

    async def mark(
        self, occurrence_id: int, state: OccurrenceState, reason: str, at: datetime
    ) -> None:
        values: dict[str, Any] = {
            "state": state.value,
            "state_reason": reason[:200],
            "updated_at": at,
        }
        async with self._engine().begin() as conn:
            current = await self._store.occurrence(conn, occurrence_id)
            if state is OccurrenceState.LIVE and current.actual_start_utc is None:
                values["actual_start_utc"] = at
            if (
                state.is_terminal
                and current.actual_end_utc is None
                and (current.state is OccurrenceState.LIVE or state is not OccurrenceState.MISSED)
            ):
                values["actual_end_utc"] = at
            await self._store.update_occurrence(conn, occurrence_id, **values)
