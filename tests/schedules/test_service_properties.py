"""ScheduleService against a real SQLite database: whatever it accepts never double-books a room,
whatever it refuses leaves the database exactly as it was.

The property test drives random sequences of create/move/cancel/restore/extend/update requests
through the real service (Alembic-migrated SQLite file, fresh per example) with the clock fixed at
Monday 2027-01-04 09:00 Berlin, so the three-week window holds past, running and future slots.
Refusals must be one of the typed schedule errors; anything else fails the test. The example
tests run on SQLite and on PostgreSQL (there with the room exclusion constraint in force), and
the property runs on PostgreSQL too, with fewer examples.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from sqlalchemy import select

from knoten.db import Database
from schedules.clock import FakeClock
from schedules.domain import OccurrenceState
from schedules.errors import InvalidOccurrenceState, ScheduleValidationError, SeminarConflict
from schedules.rooms import RoomRepository
from schedules.service import ScheduleService, SeminarDraft
from schedules.tables import occurrences, seminars
from tests.support.postgres import PostgresCluster

NOW = datetime(2027, 1, 4, 8, 0, tzinfo=UTC)  # Monday, 09:00 in Europe/Berlin (no DST in January)
DAY0 = datetime(2027, 1, 4)  # local wall time: first day of the generated three-week window
# The example tests (those taking ``env``) run on both databases; the property test on SQLite.
pytestmark = pytest.mark.both_databases

ROOMS = (1, 2)  # 1 is the migration's "Seminarraum", 2 is added per database
REFUSALS = (SeminarConflict, ScheduleValidationError, InvalidOccurrenceState)
ACTIVE = (OccurrenceState.SCHEDULED.value, OccurrenceState.LIVE.value)

Dump = tuple[list[dict[str, Any]], list[dict[str, Any]]]


# -- harness ----------------------------------------------------------------------------------


@dataclass
class Env:
    db: Database
    service: ScheduleService

    async def dump(self) -> Dump:
        """Every row of seminars and occurrences, in id order."""
        async with self.db.engine.connect() as conn:
            sem = await conn.execute(select(seminars).order_by(seminars.c.id))
            occ = await conn.execute(select(occurrences).order_by(occurrences.c.id))
            return [r._asdict() for r in sem], [r._asdict() for r in occ]


@asynccontextmanager
async def fresh_env(url: str) -> AsyncIterator[Env]:
    db = Database(url)
    await db.start()
    try:
        room = await RoomRepository(lambda: db.engine).create(
            "Werkstatt", "testsrc", "Europe/Berlin"
        )
        assert room.id == ROOMS[1]
        yield Env(db, ScheduleService(lambda: db.engine, FakeClock(NOW)))
    finally:
        await db.aclose()


@pytest.fixture
async def env(database_url: str) -> AsyncIterator[Env]:
    async with fresh_env(database_url) as running:
        yield running


def blocked(row: dict[str, Any]) -> tuple[datetime, datetime]:
    """Half-open window the occurrence reserves its room for, lead-in and lead-out included."""
    return (
        row["start_utc"] - timedelta(minutes=row["lead_in_minutes"]),
        row["end_utc"] + timedelta(minutes=row["lead_out_minutes"]),
    )


def overlapping_pairs(rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    active = [r for r in rows if r["state"] in ACTIVE]
    pairs = []
    for a, b in combinations(active, 2):
        (a_start, a_end), (b_start, b_end) = blocked(a), blocked(b)
        if a["room_id"] == b["room_id"] and a_start < b_end and b_start < a_end:
            pairs.append((a, b))
    return pairs


def describe(row: dict[str, Any]) -> str:
    start, end = blocked(row)
    return (
        f"#{row['id']} seminar {row['seminar_id']} room {row['room_id']} {row['state']} "
        f"{row['recurrence_id']} blocked [{start:%m-%d %H:%M}, {end:%m-%d %H:%M})Z"
    )


def assert_no_double_booking(rows: list[dict[str, Any]]) -> None:
    pairs = overlapping_pairs(rows)
    assert not pairs, "double booking: " + "; ".join(
        f"{describe(a)} overlaps {describe(b)}" for a, b in pairs
    )


# -- requests ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    day: int
    hour: int
    minute: int
    minutes: int

    @property
    def start(self) -> datetime:
        return DAY0 + timedelta(days=self.day, hours=self.hour, minutes=self.minute)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.minutes)


@dataclass(frozen=True)
class Create:
    room: int
    slot: Slot
    lead_in: int
    lead_out: int
    rrule: str | None


@dataclass(frozen=True)
class Move:
    pick: int
    slot: Slot


@dataclass(frozen=True)
class Cancel:
    pick: int


@dataclass(frozen=True)
class Restore:
    pick: int


@dataclass(frozen=True)
class Extend:
    pick: int
    minutes: int


@dataclass(frozen=True)
class Reschedule:  # update_seminar with a new start/end
    pick: int
    slot: Slot


@dataclass(frozen=True)
class ChangeRoom:  # update_seminar with a new room
    pick: int
    room: int


Request = Create | Move | Cancel | Restore | Extend | Reschedule | ChangeRoom

# Multiples of five minutes make touching windows (end + lead-out == next start - lead-in) common.
fives = st.integers(0, 11).map(lambda n: n * 5)
# Half the slots fall on today around NOW, where past, running and lead-in cases meet.
slots = st.builds(
    Slot,
    day=st.one_of(st.just(0), st.integers(0, 20)),
    hour=st.one_of(st.integers(7, 9), st.integers(6, 21)),
    minute=fives,
    minutes=st.integers(3, 48).map(lambda n: n * 5),  # 15–240
)
picks = st.integers(0, 10_000)
rules = st.one_of(
    st.none(),
    st.integers(2, 7).map(lambda n: f"FREQ=DAILY;COUNT={n}"),
    st.integers(2, 4).map(lambda n: f"FREQ=WEEKLY;COUNT={n}"),
)
requests = st.one_of(
    st.builds(
        Create,
        room=st.sampled_from(ROOMS),
        slot=slots,
        lead_in=st.integers(0, 6).map(lambda n: n * 5),  # 0–30
        lead_out=st.integers(0, 3).map(lambda n: n * 5),  # 0–15
        rrule=rules,
    ),
    st.builds(Move, pick=picks, slot=slots),
    st.builds(Cancel, pick=picks),
    st.builds(Restore, pick=picks),
    st.builds(Extend, pick=picks, minutes=st.integers(1, 24).map(lambda n: n * 5)),
    st.builds(Reschedule, pick=picks, slot=slots),
    st.builds(ChangeRoom, pick=picks, room=st.sampled_from(ROOMS)),
)


def call_for(
    request: Request, service: ScheduleService, state: Dump
) -> Callable[[], Awaitable[object]] | None:
    """The service call for ``request``, its target picked among the rows of ``state``; None when
    there is nothing to target yet."""
    seminar_ids = [row["id"] for row in state[0]]
    occurrence_ids = [row["id"] for row in state[1]]
    match request:
        case Create(room, slot, lead_in, lead_out, rrule):
            draft = SeminarDraft(
                title=f"s{len(seminar_ids) + 1}",
                room_id=room,
                start=slot.start,
                end=slot.end,
                rrule=rrule,
                lead_in_minutes=lead_in,
                lead_out_minutes=lead_out,
            )
            return lambda: service.create_seminar(draft)
        case Reschedule(pick, slot) if seminar_ids:
            sid = seminar_ids[pick % len(seminar_ids)]
            return lambda: service.update_seminar(sid, {"start": slot.start, "end": slot.end})
        case ChangeRoom(pick, room) if seminar_ids:
            sid = seminar_ids[pick % len(seminar_ids)]
            return lambda: service.update_seminar(sid, {"room_id": room})
        case Move(pick, slot) if occurrence_ids:
            oid = occurrence_ids[pick % len(occurrence_ids)]
            return lambda: service.move_occurrence(oid, slot.start, slot.end)
        case Cancel(pick) if occurrence_ids:
            oid = occurrence_ids[pick % len(occurrence_ids)]
            return lambda: service.cancel_occurrence(oid)
        case Restore(pick) if occurrence_ids:
            oid = occurrence_ids[pick % len(occurrence_ids)]
            return lambda: service.restore_occurrence(oid)
        case Extend(pick, minutes) if occurrence_ids:
            oid = occurrence_ids[pick % len(occurrence_ids)]
            return lambda: service.extend_occurrence(oid, minutes)
    return None


# Per-example databases on tmpfs when there is one: same SQLite, no waiting for fsync.
SCRATCH = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


async def run_requests(batch: list[Request], url: str | None = None) -> None:
    with tempfile.TemporaryDirectory(dir=SCRATCH) as directory:
        url = url or f"sqlite+aiosqlite:///{Path(directory) / 'knoten.db'}"
        async with fresh_env(url) as env:
            for step, request in enumerate(batch):
                before = await env.dump()
                call = call_for(request, env.service, before)
                if call is None:
                    continue
                try:
                    await call()
                except REFUSALS as exc:
                    event(f"refused: {type(exc).__name__}")
                    note(f"step {step}: {request} refused: {type(exc).__name__}: {exc}")
                    assert await env.dump() == before, f"refused {request} changed the database"
                    continue
                event(f"accepted: {type(request).__name__}")
                note(f"step {step}: {request} accepted")
                assert_no_double_booking((await env.dump())[1])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(requests, min_size=1, max_size=25))
def test_accepted_requests_never_double_book_and_refused_ones_change_nothing(
    batch: list[Request],
) -> None:
    asyncio.run(run_requests(batch))


def test_postgresql_constraint_never_refuses_what_the_service_accepts(
    postgres_cluster: PostgresCluster,
) -> None:
    """The same property on PostgreSQL: the room exclusion constraint (checked at commit) must
    agree with the service's own check, e.g. while a series is rewritten date by date; a
    refusal by the database alone would surface as an IntegrityError, not a typed refusal."""

    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(requests, min_size=1, max_size=25))
    def on_postgresql(batch: list[Request]) -> None:
        asyncio.run(run_requests(batch, postgres_cluster.create_database()))

    on_postgresql()


# -- regressions found while writing the property ----------------------------------------------


def draft(
    start: datetime, end: datetime, *, room: int = 1, lead_in: int = 0, lead_out: int = 0, **kw: Any
) -> SeminarDraft:
    return SeminarDraft(
        title="s",
        room_id=room,
        start=start,
        end=end,
        lead_in_minutes=lead_in,
        lead_out_minutes=lead_out,
        **kw,
    )


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return DAY0 + timedelta(days=day, hours=hour, minutes=minute)


async def test_windows_that_only_touch_are_allowed(env: Env) -> None:
    # 10:00–11:00 + 15 min lead-out ends at 11:15; 11:30 − 15 min lead-in starts at 11:15.
    await env.service.create_seminar(draft(local(2, 10), local(2, 11), lead_out=15))
    await env.service.create_seminar(draft(local(2, 11, 30), local(2, 12), lead_in=15))

    rows = (await env.dump())[1]
    assert len(rows) == 2
    assert blocked(rows[0])[1] == blocked(rows[1])[0]
    assert overlapping_pairs(rows) == []


async def test_a_lead_in_reaching_into_the_previous_booking_is_refused(env: Env) -> None:
    await env.service.create_seminar(draft(local(2, 10), local(2, 11)))
    before = await env.dump()

    with pytest.raises(SeminarConflict):
        # The seminar itself starts 10 minutes after, but its 15-minute lead-in does not.
        await env.service.create_seminar(draft(local(2, 11, 10), local(2, 12), lead_in=15))
    with pytest.raises(SeminarConflict):
        # A series is refused as a whole when only its first occurrence collides.
        await env.service.create_seminar(
            draft(local(2, 11, 10), local(2, 12), lead_in=15, rrule="FREQ=DAILY;COUNT=5")
        )
    assert await env.dump() == before


async def test_an_occurrence_may_move_onto_a_cancelled_slot_which_then_cannot_be_restored(
    env: Env,
) -> None:
    first = (await env.service.create_seminar(draft(local(3, 10), local(3, 11)))).occurrences[0]
    second = (await env.service.create_seminar(draft(local(3, 14), local(3, 15)))).occurrences[0]
    await env.service.cancel_occurrence(first.id)

    moved = await env.service.move_occurrence(second.id, local(3, 10), local(3, 11))
    assert (moved.start_utc, moved.end_utc, moved.moved) == (first.start_utc, first.end_utc, True)

    before = await env.dump()
    with pytest.raises(SeminarConflict):
        await env.service.restore_occurrence(first.id)
    assert await env.dump() == before
    assert overlapping_pairs(before[1]) == []


async def test_rescheduling_a_series_keeps_occurrence_ids_moves_and_cancellations(env: Env) -> None:
    detail = await env.service.create_seminar(
        draft(local(7, 10), local(7, 11), lead_in=5, rrule="FREQ=WEEKLY;COUNT=3")
    )
    first, second, third = detail.occurrences
    await env.service.cancel_occurrence(second.id)
    moved = await env.service.move_occurrence(third.id, local(16, 8), local(16, 9))

    updated = await env.service.update_seminar(
        detail.seminar.id, {"start": local(7, 12), "end": local(7, 13, 30)}
    )

    by_id = {o.id: o for o in updated.occurrences}
    assert set(by_id) == {first.id, second.id, third.id}
    assert by_id[first.id].recurrence_id == "2027-01-11T12:00:00"
    assert by_id[first.id].start_utc == datetime(2027, 1, 11, 11, 0, tzinfo=UTC)
    assert by_id[first.id].end_utc == datetime(2027, 1, 11, 12, 30, tzinfo=UTC)
    assert by_id[second.id].state is OccurrenceState.CANCELLED
    assert by_id[second.id].recurrence_id == "2027-01-18T12:00:00"
    assert (by_id[third.id].start_utc, by_id[third.id].end_utc) == (
        moved.start_utc,
        moved.end_utc,
    )
    assert by_id[third.id].moved
    assert by_id[third.id].recurrence_id == "2027-01-25T12:00:00"


@pytest.mark.parametrize(
    ("created", "rescheduled"),
    [
        pytest.param(
            # Today 09:10–10:00 with a 15-minute lead-in: at 09:00 local (NOW) the lead-in runs.
            draft(local(0, 9, 10), local(0, 10), lead_in=15, rrule="FREQ=DAILY;COUNT=3"),
            (local(0, 9, 30), local(0, 10, 30)),
            id="series-in-lead-in",
        ),
        pytest.param(
            # A one-off running since 08:30 local; afterwards the seminar has two occurrences.
            draft(local(0, 8, 30), local(0, 9, 30)),
            (local(0, 8, 45), local(0, 9, 45)),
            id="one-off-running",
        ),
    ],
)
async def test_rescheduling_does_not_double_book_the_seminars_own_current_occurrence(
    env: Env, created: SeminarDraft, rescheduled: tuple[datetime, datetime]
) -> None:
    detail = await env.service.create_seminar(created)
    start, end = rescheduled

    with contextlib.suppress(SeminarConflict):  # refusing would be fine, booking twice is not
        await env.service.update_seminar(detail.seminar.id, {"start": start, "end": end})

    # Regression: the current row used to stay and a second one for the new time was booked.
    assert overlapping_pairs((await env.dump())[1]) == []
