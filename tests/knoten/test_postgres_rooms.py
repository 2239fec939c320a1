"""Knoten on a real PostgreSQL: every migration runs, and the database itself refuses two dates
that hold one room at the same time, so two nodes booking at once cannot double-book.

Regression (issue 19): two nodes on one PostgreSQL, five simultaneous bookings of the same slot:
one of them was accepted twice, because each node's conflict check ran before the other's commit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError

from knoten.db import Database, alembic_config
from schedules.clock import FakeClock
from schedules.errors import SeminarConflict
from schedules.room_races import sqlstate
from schedules.rooms import RoomRepository
from schedules.service import ScheduleService, SeminarDraft
from schedules.store import ScheduleStore
from schedules.tables import occurrences, seminars
from tests.support.app_fixtures import admin_session, make_config, serve
from tests.support.ports import free_tcp_port
from tests.support.postgres import PostgresCluster

NOW = datetime(2027, 1, 4, 8, 0, tzinfo=UTC)
SLOT = datetime(2027, 2, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
async def database(postgres_cluster: PostgresCluster) -> AsyncIterator[Database]:
    db = Database(postgres_cluster.create_database())
    await db.start()
    try:
        yield db
    finally:
        await db.aclose()


async def test_every_migration_runs_on_postgresql_up_to_the_one_head(
    postgres_cluster: PostgresCluster,
) -> None:
    db = Database(postgres_cluster.create_empty_database())
    await db.start()
    try:
        heads = ScriptDirectory.from_config(alembic_config()).get_heads()
        assert len(heads) == 1, f"migrations must have one head, not {heads}"
        async with db.engine.connect() as conn:
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
            constraint = await conn.execute(
                text("SELECT 1 FROM pg_constraint WHERE conname = 'ex_occurrences_room_time'")
            )
            assert constraint.scalar() == 1
        assert version == heads[0]
    finally:
        await db.aclose()


def _row(seminar_id: int, rid: str, start: datetime, minutes: int, **extra: Any) -> dict:
    return {
        "seminar_id": seminar_id,
        "room_id": 1,
        "recurrence_id": rid,
        "start_utc": start,
        "end_utc": start + timedelta(minutes=minutes),
        "lead_in_minutes": 5,
        "lead_out_minutes": 0,
        "state": "scheduled",
        "moved": False,
        "sequence": 0,
        "updated_at": NOW,
        **extra,
    }


async def _seminar(db: Database) -> int:
    async with db.engine.begin() as conn:
        return await ScheduleStore().insert_seminar(
            conn,
            room_id=1,
            title="Direkt eingetragen",
            timezone="Europe/Berlin",
            start_local=datetime(2027, 2, 1, 11, 0),
            end_local=datetime(2027, 2, 1, 12, 0),
            sequence=0,
            created_at=NOW,
            updated_at=NOW,
        )


async def _insert(db: Database, rows: list[dict]) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(insert(occurrences), rows)


async def test_the_constraint_refuses_what_no_application_check_saw(database: Database) -> None:
    seminar = await _seminar(database)
    other = await RoomRepository(lambda: database.engine).create("Werkstatt", "testsrc", "UTC")
    await _insert(database, [_row(seminar, "a", SLOT, 60)])

    # Its 5 min lead-in reaches into the first date: refused at commit (the check is deferred).
    with pytest.raises(IntegrityError) as refused:
        await _insert(database, [_row(seminar, "b", SLOT + timedelta(minutes=62), 30)])
    assert sqlstate(refused.value) == "23P01"

    # What holds no room, another room, and windows that merely touch are all allowed.
    await _insert(
        database,
        [
            _row(seminar, "cancelled", SLOT, 60, state="cancelled"),
            _row(seminar, "ended", SLOT, 60, state="ended"),
            _row(seminar, "other-room", SLOT, 60, room_id=other.id),
            _row(seminar, "touching", SLOT + timedelta(minutes=65), 30),
        ],
    )
    # A provider's request holds the room like a confirmed date.
    with pytest.raises(IntegrityError):
        await _insert(database, [_row(seminar, "requested", SLOT, 10, state="requested")])
    # Restoring the cancelled date would double-book: refused.
    with pytest.raises(IntegrityError):
        async with database.engine.begin() as conn:
            await conn.execute(
                occurrences.update()
                .where(occurrences.c.recurrence_id == "cancelled")
                .values(state="scheduled")
            )


class _BlindOnce(ScheduleStore):
    """A node whose first conflict check ran just before another node's booking committed."""

    def __init__(self) -> None:
        super().__init__()
        self.blind = True

    async def blocking(self, conn, room_id, start, end):  # type: ignore[no-untyped-def,override]
        if self.blind:
            self.blind = False
            return []
        return await super().blocking(conn, room_id, start, end)


async def test_a_lost_race_is_answered_as_a_conflict_and_writes_nothing(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(NOW)
    first = ScheduleService(lambda: database.engine, clock)
    blind = ScheduleService(lambda: database.engine, clock, store=_BlindOnce())
    draft = SeminarDraft(
        title="Erzählcafé",
        room_id=1,
        start=datetime(2027, 2, 1, 11, 0),
        end=datetime(2027, 2, 1, 12, 0),
    )
    booked = await first.create_seminar(draft)
    with (
        caplog.at_level(logging.INFO, logger="schedules.room_races"),
        pytest.raises(SeminarConflict) as conflict,
    ):
        await blind.create_seminar(draft)
    assert "lost a race" in caplog.text, "the database, not the first check, refused it"
    assert conflict.value.conflicts[0].existing.id == booked.occurrences[0].id
    async with database.engine.connect() as conn:
        assert len((await conn.execute(select(seminars.c.id))).all()) == 1
        assert len((await conn.execute(select(occurrences.c.id))).all()) == 1


async def _book(session: aiohttp.ClientSession, title: str, start: str, end: str) -> tuple:
    body = {"title": title, "room_id": 1, "start": start, "end": end}
    async with session.post("/api/v1/seminars", json=body) as response:
        return response.status, await response.json()


@pytest.mark.timeout(240)
async def test_two_nodes_booking_the_same_slot_at_once_accept_exactly_one(
    tmp_path: Path, postgres_cluster: PostgresCluster
) -> None:
    url = postgres_cluster.create_database()
    configs = [
        make_config(tmp_path / f"node-{n}", free_tcp_port(), KNOTEN_DATABASE_URL=url)
        for n in ("a", "b")
    ]
    async with (
        serve(configs[0]) as node_a,
        serve(configs[1]) as node_b,
        admin_session(node_a) as api_a,
        admin_session(node_b) as api_b,
    ):
        for round_ in range(5):
            day = 8 + round_
            start, end = f"2027-03-{day:02d}T10:00:00", f"2027-03-{day:02d}T11:30:00"
            # Two requests per node, all four in flight at once.
            answers = await asyncio.gather(
                *(
                    _book(session, f"Runde {round_} über {name}", start, end)
                    for session, name in ((api_a, "A"), (api_b, "B"), (api_a, "A2"), (api_b, "B2"))
                )
            )
            statuses = sorted(status for status, _ in answers)
            assert statuses == [201, 409, 409, 409], answers
            for status, body in answers:
                if status == 409:
                    assert body["error"]["code"] == "seminar_conflict", body
                    assert body["error"]["details"], body
        async with api_b.get("/api/v1/seminars") as response:
            listed = await response.json()
        assert len(listed) == 5, "one booking per round, seen from either node"
