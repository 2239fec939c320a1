"""The schedule service: seminars and occurrences created, changed and controlled as a whole.

Each operation validates with the pure domain (timing, recurrence, conflicts, desired), then
writes in one transaction under one lock, so a conflict check and the write it allows cannot be
interleaved with another booking, and a refused request leaves nothing behind. Listeners (the
scheduling triggers) are told after every committed change. On PostgreSQL the database enforces
the same rule for bookings from other nodes; a write that lost such a race is run again and
answered like any conflict (:mod:`schedules.room_races`).

Occurrences are materialized as rows, so each has a stable id for join links, recordings and the
calendar feed. Bounded series are stored whole; open-ended ones up to a rolling horizon
(:data:`HORIZON`) that :meth:`ScheduleService.extend_horizons` moves forward.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from schedules.clock import Clock
from schedules.conflicts import candidate_views, check_no_conflicts
from schedules.desired import earliest_manual_start, extend, start_early, stop_early
from schedules.desired import move_to_now as _move_to_now
from schedules.domain import OccurrenceState, OccurrenceTime, OccurrenceView, SeriesRule
from schedules.errors import InvalidOccurrenceState, ScheduleValidationError
from schedules.recurrence import MAX_SERIES_SPAN, expand, is_bounded, normalize_rrule
from schedules.recurrence import validate_series as validate_series_rule
from schedules.room_races import retry_room_races
from schedules.store import OccurrenceRow, ScheduleStore, SeminarRow
from schedules.timing import load_timezone, resolve_local, resolve_span, to_local

log = logging.getLogger(__name__)

#: How far ahead an open-ended series is turned into occurrence rows.
HORIZON = timedelta(days=366)
#: Largest window one listing may ask for.
MAX_LISTING_WINDOW = timedelta(days=400)

#: "Start now" works up to this long before a date's lead-in; earlier it is moved to now.
EARLY_START_LIMIT = timedelta(minutes=60)
#: The state reason of a date stopped by hand: only such a date can be resumed.
STOPPED_BY_STAFF = "stopped by staff"

Listener = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class SeminarDraft:
    """A seminar as requested. ``start``/``end`` are naive local times in the seminar's zone,
    or aware instants (converted to that zone's wall time)."""

    title: str
    room_id: int
    start: datetime
    end: datetime
    description: str = ""
    host: str = ""
    timezone: str | None = None  # None: the room's zone
    rrule: str | None = None
    exdates: tuple[datetime, ...] = ()
    record: bool = True
    partner_ids: tuple[int, ...] = ()
    lead_in_minutes: int = 5
    lead_out_minutes: int = 0


@dataclass(frozen=True)
class SeminarDetail:
    seminar: SeminarRow
    occurrences: list[OccurrenceRow]


def _seminar_columns(
    draft: SeminarDraft, series: SeriesRule, materialized_until: datetime | None
) -> dict[str, Any]:
    """The seminars row of a validated draft (times as the series normalized them)."""
    return {
        "room_id": draft.room_id,
        "title": draft.title,
        "description": draft.description,
        "host": draft.host,
        "timezone": series.timezone,
        "start_local": series.start_local,
        "end_local": series.end_local,
        "rrule": series.rrule,
        "exdates": series.exdates,
        "record": draft.record,
        "lead_in_minutes": series.lead_in_minutes,
        "lead_out_minutes": series.lead_out_minutes,
        "partner_ids": draft.partner_ids,
        "materialized_until": materialized_until,
    }


def _local(value: datetime, zone: ZoneInfo) -> datetime:
    return value if value.tzinfo is None else to_local(value, zone).replace(tzinfo=None)


class ScheduleService:
    def __init__(
        self,
        engine: Callable[[], AsyncEngine],
        clock: Clock,
        store: ScheduleStore | None = None,
        horizon: timedelta = HORIZON,
        early_start_limit: timedelta | None = EARLY_START_LIMIT,
    ) -> None:
        self._engine = engine
        self._early_start_limit = early_start_limit
        self._clock = clock
        self._store = store or ScheduleStore()
        self._horizon = horizon
        self._lock = asyncio.Lock()
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def _changed(self) -> None:
        for listener in self._listeners:
            try:
                await listener()
            except Exception:  # a listener's failure must not undo a committed change
                log.exception("schedule change listener failed")

    # -- series ------------------------------------------------------------------------------

    async def _resolve(self, conn: AsyncConnection, draft: SeminarDraft) -> SeriesRule:
        room_tz = await self._store.room_timezone(conn, draft.room_id)
        if room_tz is None:
            raise ScheduleValidationError("room_id", f"room {draft.room_id} does not exist")
        zone = load_timezone(draft.timezone or room_tz)
        rrule = normalize_rrule(draft.rrule) if draft.rrule else None
        series = SeriesRule(
            start_local=_local(draft.start, zone),
            end_local=_local(draft.end, zone),
            timezone=zone.key,
            rrule=rrule,
            exdates=tuple(_local(d, zone) for d in draft.exdates),
            lead_in_minutes=draft.lead_in_minutes,
            lead_out_minutes=draft.lead_out_minutes,
        )
        validate_series_rule(series)
        return series

    def _window(self, series: SeriesRule, now: datetime) -> tuple[datetime, datetime, bool]:
        """(from, to, bounded) of what to materialize for ``series`` at ``now``."""
        zone = load_timezone(series.timezone)
        first = resolve_local(series.start_local, zone)
        if is_bounded(series):
            span_end = resolve_local(series.start_local + MAX_SERIES_SPAN, zone) + timedelta(days=2)
            return first, span_end, True
        return first, max(first, now) + self._horizon, False

    def _future_times(
        self, series: SeriesRule, now: datetime
    ) -> tuple[list[OccurrenceTime], datetime | None]:
        start, end, bounded = self._window(series, now)
        times = [t for t in expand(series, start, end) if t.end_utc > now]
        return times, (None if bounded else end)

    async def _check_conflicts(
        self,
        conn: AsyncConnection,
        candidates: Sequence[OccurrenceView],
        room_id: int,
        *,
        exclude_seminar: int | None = None,
        exclude_ids: frozenset[int] = frozenset(),
    ) -> None:
        active = [c for c in candidates if c.blocks_room]
        if not active:
            return
        existing = await self._store.blocking(
            conn,
            room_id,
            min(c.blocked_start for c in active),
            max(c.blocked_end for c in active),
        )
        existing = [
            e
            for e in existing
            if e.id not in exclude_ids
            and (exclude_seminar is None or e.seminar_id != exclude_seminar)
        ]
        check_no_conflicts(active, existing)

    @staticmethod
    def _occurrence_values(
        seminar_id: int,
        room_id: int,
        series: SeriesRule,
        time: OccurrenceTime,
        now: datetime,
        state: OccurrenceState = OccurrenceState.SCHEDULED,
    ) -> dict[str, Any]:
        return {
            "seminar_id": seminar_id,
            "room_id": room_id,
            "recurrence_id": time.recurrence_id,
            "start_utc": time.start_utc,
            "end_utc": time.end_utc,
            "lead_in_minutes": series.lead_in_minutes,
            "lead_out_minutes": series.lead_out_minutes,
            "state": state.value,
            "moved": False,
            "sequence": 0,
            "updated_at": now,
        }

    # -- seminars -----------------------------------------------------------------------------

    @retry_room_races
    async def create_seminar(
        self, draft: SeminarDraft, *, requested: bool = False
    ) -> SeminarDetail:
        """Book ``draft``; ``requested``: its dates hold the room as ``requested`` until
        :meth:`confirm_seminar` (they never go live before)."""
        state = OccurrenceState.REQUESTED if requested else OccurrenceState.SCHEDULED
        async with self._lock, self._engine().begin() as conn:
            series = await self._resolve(conn, draft)
            now = self._clock.now()
            times, materialized_until = self._future_times(series, now)
            if not times:
                raise ScheduleValidationError("start", "the seminar lies entirely in the past")
            candidates = candidate_views(
                times,
                seminar_id=None,
                room_id=draft.room_id,
                title=draft.title,
                lead_in=series.lead_in,
                lead_out=series.lead_out,
            )
            await self._check_conflicts(conn, candidates, draft.room_id)
            seminar_id = await self._store.insert_seminar(
                conn,
                **_seminar_columns(draft, series, materialized_until),
                sequence=0,
                created_at=now,
                updated_at=now,
            )
            await self._store.insert_occurrences(
                conn,
                [
                    self._occurrence_values(seminar_id, draft.room_id, series, t, now, state)
                    for t in times
                ],
            )
        log.info("seminar %s created: %r, %d occurrence(s)", seminar_id, draft.title, len(times))
        await self._changed()
        return await self.seminar(seminar_id)

    @retry_room_races
    async def update_seminar(self, seminar_id: int, changes: dict[str, Any]) -> SeminarDetail:
        """Apply ``changes`` (SeminarDraft field names) to the seminar and its future occurrences.

        Past, live and finished occurrences stay as they were. Future scheduled ones are
        re-expanded; each keeps its id when its recurrence id, or failing that its local date,
        still exists, so links handed out stay valid. Moved and cancelled ones keep that.
        """
        async with self._lock, self._engine().begin() as conn:
            current = await self._store.seminar(conn, seminar_id)
            draft = SeminarDraft(
                title=current.title,
                room_id=current.room_id,
                start=current.start_local,
                end=current.end_local,
                description=current.description,
                host=current.host,
                timezone=current.timezone,
                rrule=current.rrule,
                exdates=current.exdates,
                record=current.record,
                partner_ids=current.partner_ids,
                lead_in_minutes=current.lead_in_minutes,
                lead_out_minutes=current.lead_out_minutes,
            )
            # Stored times are naive wall times, so a new zone keeps the same wall clock.
            draft = replace(draft, **changes)
            series = await self._resolve(conn, draft)
            now = self._clock.now()
            times, materialized_until = self._future_times(series, now)
            if not times and {"start", "end", "rrule", "exdates"} & changes.keys():
                # As for a new booking: a change that moves everything into the past would
                # silently drop the upcoming dates.
                raise ScheduleValidationError("start", "the changed seminar lies in the past")
            existing = await self._store.occurrences_of(conn, seminar_id)
            count = await self._rematerialize(conn, current, draft, series, times, existing, now)
            await self._store.update_seminar(
                conn,
                seminar_id,
                **_seminar_columns(draft, series, materialized_until),
                sequence=current.sequence + 1,
                updated_at=now,
            )
        log.info("seminar %s updated: %d future occurrence(s)", seminar_id, count)
        await self._changed()
        return await self.seminar(seminar_id)

    async def _rematerialize(
        self,
        conn: AsyncConnection,
        current: SeminarRow,
        draft: SeminarDraft,
        series: SeriesRule,
        times: list[OccurrenceTime],
        existing: list[OccurrenceRow],
        now: datetime,
    ) -> int:
        # Only future, untouched-by-time occurrences are open to change.
        open_rows = [
            row
            for row in existing
            if row.state is OccurrenceState.SCHEDULED
            and row.actual_start_utc is None
            and row.start_utc - timedelta(minutes=row.lead_in_minutes) > now
        ] + [
            row
            for row in existing
            if row.state is OccurrenceState.CANCELLED and row.start_utc > now
        ]
        open_ids = {r.id for r in open_rows}
        # A date that already has a started, running or past occurrence keeps it: a new time
        # for the series applies from the next date on, never as a second booking that day.
        fixed_days = {row.recurrence_id[:10] for row in existing if row.id not in open_ids}
        times = [t for t in times if t.recurrence_id[:10] not in fixed_days]
        by_rid = {row.recurrence_id: row for row in open_rows}
        by_date: dict[str, OccurrenceRow] = {}
        for row in open_rows:
            by_date.setdefault(row.recurrence_id[:10], row)
        plan: list[tuple[OccurrenceTime, OccurrenceRow | None]] = []
        used: set[int] = set()
        for time in times:
            row = by_rid.get(time.recurrence_id)
            if row is None or row.id in used:
                row = by_date.get(time.recurrence_id[:10])
                if row is not None and row.id in used:
                    row = None
            if row is not None:
                used.add(row.id)
            plan.append((time, row))
        candidates = []
        for time, row in plan:
            start, end, state = time.start_utc, time.end_utc, OccurrenceState.SCHEDULED
            if row is not None and row.moved:
                start, end = row.start_utc, row.end_utc
            if row is not None and row.state is OccurrenceState.CANCELLED:
                state = OccurrenceState.CANCELLED
            candidates.append(
                OccurrenceView(
                    id=row.id if row is not None else time.recurrence_id,
                    seminar_id=current.id,
                    room_id=draft.room_id,
                    title=draft.title,
                    start_utc=start,
                    end_utc=end,
                    lead_in=series.lead_in,
                    lead_out=series.lead_out,
                    state=state,
                    recurrence_id=time.recurrence_id,
                )
            )
        # Only the rows being replaced step aside; the seminar's own running or started
        # occurrences still block the room (regression: a reschedule double-booked today).
        await self._check_conflicts(
            conn, candidates, draft.room_id, exclude_ids=frozenset(open_ids)
        )
        inserts = []
        for (time, row), view in zip(plan, candidates, strict=True):
            if row is None:
                inserts.append(
                    self._occurrence_values(current.id, draft.room_id, series, time, now)
                )
                continue
            values = {
                "recurrence_id": time.recurrence_id,
                "room_id": draft.room_id,
                "start_utc": view.start_utc,
                "end_utc": view.end_utc,
                "lead_in_minutes": series.lead_in_minutes,
                "lead_out_minutes": series.lead_out_minutes,
                "sequence": row.sequence + 1,
                "updated_at": now,
            }
            await self._store.update_occurrence(conn, row.id, **values)
        await self._store.delete_occurrences(
            conn, [row.id for row in open_rows if row.id not in used]
        )
        await self._store.insert_occurrences(conn, inserts)
        return len(plan)

    @retry_room_races
    async def confirm_seminar(self, seminar_id: int) -> SeminarDetail:
        """The library confirms a requested booking: its requested dates become scheduled."""
        async with self._lock, self._engine().begin() as conn:
            await self._store.seminar(conn, seminar_id)  # SeminarNotFound
            now = self._clock.now()
            for row in await self._store.occurrences_of(conn, seminar_id):
                if row.state is OccurrenceState.REQUESTED:
                    await self._store.update_occurrence(
                        conn,
                        row.id,
                        state=OccurrenceState.SCHEDULED.value,
                        sequence=row.sequence + 1,
                        updated_at=now,
                    )
        log.info("seminar %s confirmed", seminar_id)
        await self._changed()
        return await self.seminar(seminar_id)

    async def delete_seminar(self, seminar_id: int) -> None:
        async with self._lock, self._engine().begin() as conn:
            await self._store.delete_seminar(conn, seminar_id)
        log.info("seminar %s deleted", seminar_id)
        await self._changed()

    async def seminar(self, seminar_id: int) -> SeminarDetail:
        async with self._engine().connect() as conn:
            seminar = await self._store.seminar(conn, seminar_id)
            occurrences = await self._store.occurrences_of(conn, seminar_id)
        return SeminarDetail(seminar, occurrences)

    async def seminars(self, room_id: int | None = None) -> list[tuple[SeminarRow, int]]:
        async with self._engine().connect() as conn:
            rows = await self._store.seminars(conn, room_id)
            counts = await self._store.occurrence_counts(conn)
        return [(row, counts.get(row.id, 0)) for row in rows]

    @retry_room_races
    async def extend_horizons(self) -> int:
        """Materialize open-ended series up to now + horizon; returns occurrences added.

        Conflict-checked like a booking: an occurrence that would collide with something booked
        since is left out and logged (staff see the gap in the calendar).
        """
        added = 0
        async with self._lock, self._engine().begin() as conn:
            now = self._clock.now()
            target = now + self._horizon
            for seminar in await self._store.seminars_to_extend(conn, target):
                added += await self._extend_one(conn, seminar, target, now)
        if added:
            await self._changed()
        return added

    async def _extend_one(
        self, conn: AsyncConnection, seminar: SeminarRow, target: datetime, now: datetime
    ) -> int:
        series = SeriesRule(
            start_local=seminar.start_local,
            end_local=seminar.end_local,
            timezone=seminar.timezone,
            rrule=seminar.rrule,
            exdates=seminar.exdates,
            lead_in_minutes=seminar.lead_in_minutes,
            lead_out_minutes=seminar.lead_out_minutes,
        )
        assert seminar.materialized_until is not None
        rows = []
        for time in expand(series, seminar.materialized_until, target):
            view = candidate_views(
                [time],
                seminar_id=seminar.id,
                room_id=seminar.room_id,
                title=seminar.title,
                lead_in=series.lead_in,
                lead_out=series.lead_out,
            )
            try:
                await self._check_conflicts(conn, view, seminar.room_id, exclude_seminar=seminar.id)
            except Exception as exc:
                log.warning(
                    "seminar %s: occurrence %s left out: %s", seminar.id, time.recurrence_id, exc
                )
                continue
            rows.append(self._occurrence_values(seminar.id, seminar.room_id, series, time, now))
        await self._store.insert_occurrences(conn, rows)
        await self._store.update_seminar(conn, seminar.id, materialized_until=target)
        return len(rows)

    # -- occurrences --------------------------------------------------------------------------

    async def occurrences(
        self, start: datetime, end: datetime, room_id: int | None = None
    ) -> list[OccurrenceRow]:
        if end <= start:
            raise ScheduleValidationError("to", "'to' must be after 'from'")
        if end - start > MAX_LISTING_WINDOW:
            raise ScheduleValidationError(
                "to", f"list at most {MAX_LISTING_WINDOW.days} days at a time"
            )
        async with self._engine().connect() as conn:
            return await self._store.in_window(conn, start, end, room_id=room_id)

    async def occurrence(self, occurrence_id: int) -> OccurrenceRow:
        async with self._engine().connect() as conn:
            return await self._store.occurrence(conn, occurrence_id)

    @retry_room_races
    async def _edit_occurrence(
        self,
        occurrence_id: int,
        edit: Callable[[OccurrenceRow, datetime], tuple[OccurrenceView | None, dict[str, Any]]],
    ) -> OccurrenceRow:
        async with self._lock, self._engine().begin() as conn:
            row = await self._store.occurrence(conn, occurrence_id)
            now = self._clock.now()
            candidate, values = edit(row, now)
            if candidate is not None:
                await self._check_conflicts(
                    conn, [candidate], row.room_id, exclude_ids=frozenset({row.id})
                )
            values.setdefault("updated_at", now)
            await self._store.update_occurrence(conn, row.id, **values)
        await self._changed()
        return await self.occurrence(occurrence_id)

    async def move_occurrence(
        self, occurrence_id: int, start: datetime, end: datetime
    ) -> OccurrenceRow:
        def edit(row: OccurrenceRow, now: datetime) -> tuple[OccurrenceView | None, dict[str, Any]]:
            if row.state is not OccurrenceState.SCHEDULED or row.actual_start_utc is not None:
                raise InvalidOccurrenceState(
                    row.id, f"only a scheduled occurrence can be moved (it is {row.state.value})"
                )
            zone = load_timezone(row.timezone)
            # The same rules as for a booking: existing wall times, whole seconds, ≤ 12 h.
            start_utc, end_utc = resolve_span(_local(start, zone), _local(end, zone), zone)
            if end_utc <= now:
                raise ScheduleValidationError("end", "cannot move an occurrence into the past")
            view = replace(row.view(), start_utc=start_utc, end_utc=end_utc)
            return view, {
                "start_utc": start_utc,
                "end_utc": end_utc,
                "moved": True,
                "sequence": row.sequence + 1,
            }

        result = await self._edit_occurrence(occurrence_id, edit)
        log.info("occurrence %s moved to %s", occurrence_id, result.start_utc.isoformat())
        return result

    async def cancel_occurrence(self, occurrence_id: int) -> OccurrenceRow:
        def edit(row: OccurrenceRow, now: datetime) -> tuple[OccurrenceView | None, dict[str, Any]]:
            if row.state is OccurrenceState.CANCELLED:
                return None, {}
            if row.state is not OccurrenceState.SCHEDULED or row.actual_start_utc is not None:
                raise InvalidOccurrenceState(
                    row.id,
                    f"only a scheduled occurrence can be cancelled (it is {row.state.value}; "
                    "use stop to end a running one)",
                )
            return None, {
                "state": OccurrenceState.CANCELLED.value,
                "sequence": row.sequence + 1,
                "state_reason": "cancelled by staff",
            }

        result = await self._edit_occurrence(occurrence_id, edit)
        log.info("occurrence %s cancelled", occurrence_id)
        return result

    async def restore_occurrence(self, occurrence_id: int) -> OccurrenceRow:
        """Undo a cancellation (conflict-checked: the slot may have been booked since)."""

        def edit(row: OccurrenceRow, now: datetime) -> tuple[OccurrenceView | None, dict[str, Any]]:
            if row.state is OccurrenceState.SCHEDULED:
                return None, {}
            if row.state is not OccurrenceState.CANCELLED or row.end_utc <= now:
                raise InvalidOccurrenceState(
                    row.id, "only a future cancelled occurrence can be restored"
                )
            view = replace(row.view(), state=OccurrenceState.SCHEDULED)
            return view, {
                "state": OccurrenceState.SCHEDULED.value,
                "sequence": row.sequence + 1,
                "state_reason": None,
            }

        return await self._edit_occurrence(occurrence_id, edit)

    def earliest_manual_start(self, row: OccurrenceRow) -> datetime | None:
        """From when "start now" works for ``row`` without moving it (None: any time)."""
        return earliest_manual_start(row.view(), self._early_start_limit)

    async def start_now(self, occurrence_id: int, move_to_now: bool = False) -> OccurrenceRow:
        """Start the date now; with ``move_to_now`` it is first moved to begin now (its length
        kept), which is how a date far ahead is started (see :func:`start_early`)."""

        def edit(row: OccurrenceRow, now: datetime) -> tuple[OccurrenceView | None, dict[str, Any]]:
            if move_to_now:
                moved = _move_to_now(row.view(), now)
                return moved, {
                    "start_utc": moved.start_utc,
                    "end_utc": moved.end_utc,
                    "moved": True,
                    "sequence": row.sequence + 1,
                    "actual_start_utc": moved.actual_start_utc,
                    "state_reason": "moved to now and started by staff",
                }
            view = start_early(row.view(), now, self._early_start_limit)
            return view, {"actual_start_utc": now, "state_reason": "started early by staff"}

        result = await self._edit_occurrence(occurrence_id, edit)
        moved = " (moved to now)" if move_to_now else ""
        log.info("occurrence %s started by staff%s", occurrence_id, moved)
        return result

    async def resume(self, occurrence_id: int) -> OccurrenceRow:
        """Undo "stop": a date staff stopped goes live again while its window is open, or back
        into its lead-in if it had not begun (conflict-checked: the room may have been started
        for another date since)."""

        def edit(row: OccurrenceRow, now: datetime) -> tuple[OccurrenceView | None, dict[str, Any]]:
            if row.state is OccurrenceState.LIVE or (
                row.state is OccurrenceState.SCHEDULED and row.state_reason == "resumed by staff"
            ):
                return None, {}
            if row.state is not OccurrenceState.ENDED or row.state_reason != STOPPED_BY_STAFF:
                raise InvalidOccurrenceState(
                    row.id, f"only a date stopped by staff can be resumed (it is {row.state.value})"
                )
            if now >= row.end_utc:
                raise InvalidOccurrenceState(row.id, "its time is over: it cannot be resumed")
            # Stopped during its lead-in (never live): back to the lead-in, not on air early.
            began = row.actual_start_utc is not None or now >= row.start_utc
            state = OccurrenceState.LIVE if began else OccurrenceState.SCHEDULED
            view = replace(row.view(), state=state)
            return view, {
                "state": state.value,
                "actual_end_utc": None,
                "state_reason": "resumed by staff",
            }

        result = await self._edit_occurrence(occurrence_id, edit)
        log.info("occurrence %s resumed by staff", occurrence_id)
        return result

    async def stop_now(self, occurrence_id: int) -> OccurrenceRow:
        def edit(row: OccurrenceRow, now: datetime) -> tuple[OccurrenceView | None, dict[str, Any]]:
            view = stop_early(row.view(), now)
            return None, {
                "state": view.state.value,
                "actual_end_utc": now,
                "state_reason": STOPPED_BY_STAFF,
            }

        result = await self._edit_occurrence(occurrence_id, edit)
        log.info("occurrence %s stopped by staff", occurrence_id)
        return result

    async def extend_occurrence(self, occurrence_id: int, minutes: int) -> OccurrenceRow:
        def edit(row: OccurrenceRow, now: datetime) -> tuple[OccurrenceView | None, dict[str, Any]]:
            view = extend(row.view(), minutes, now)
            return view, {"end_utc": view.end_utc, "sequence": row.sequence + 1}

        result = await self._edit_occurrence(occurrence_id, edit)
        log.info("occurrence %s extended by %d min", occurrence_id, minutes)
        return result
