"""The real scheduler through HTTP: seminars start and stop on time by themselves, a restart in
the middle resumes the live one, and one whose window passed while the service was down is
marked missed. The session runner port is observed (the media plane is not involved)."""

from __future__ import annotations

import asyncio
import math
import time
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from knoten.config import Config
from schedules.ports import LoggingSessionRunner
from tests.support.app_fixtures import RunningApp, serve

pytestmark = pytest.mark.slow


def _soon(seconds: float) -> datetime:
    # Whole seconds: the API accepts second precision.
    return datetime.fromtimestamp(math.ceil(time.time() + seconds), UTC)


async def _book(app: RunningApp, title: str, start: datetime, end: datetime) -> dict:
    body = {
        "title": title,
        "room_id": 1,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "lead_in_minutes": 0,
    }
    headers = {"Authorization": f"Bearer {app.token}"}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.post(app.url("/api/v1/seminars"), json=body) as response,
    ):
        payload = await response.json()
        assert response.status == 201, payload
        return payload["occurrences"][0]


async def _state(app: RunningApp, occurrence_id: int) -> dict:
    headers = {"Authorization": f"Bearer {app.token}"}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.get(app.url(f"/api/v1/occurrences/{occurrence_id}")) as response,
    ):
        return await response.json()


async def _wait(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


def _event_time(runner: LoggingSessionRunner, kind: str, occurrence_id: int) -> datetime:
    times = [e.at for e in runner.events if e.kind == kind and e.occurrence_id == occurrence_id]
    assert times, f"no {kind} event for occurrence {occurrence_id}: {runner.events}"
    return times[0]


async def test_scheduler_starts_and_stops_on_time(app_config: Config) -> None:
    runner = LoggingSessionRunner()
    async with serve(app_config, session_runner=runner) as app:
        start, end = _soon(3), _soon(3) + timedelta(seconds=4)
        occurrence = await _book(app, "Pünktlich", start, end)
        oid = occurrence["id"]
        await _wait(lambda: any(e.kind == "stop" for e in runner.events), timeout=12)
        started_at = _event_time(runner, "start", oid)
        stopped_at = _event_time(runner, "stop", oid)
        assert abs((started_at - start).total_seconds()) < 1.0, (started_at, start)
        assert abs((stopped_at - end).total_seconds()) < 1.0, (stopped_at, end)
        start_event = next(e for e in runner.events if e.kind == "start")
        assert start_event.phase is not None and start_event.phase.value == "live"
        final = await _state(app, oid)
        assert final["state"] == "ended"
        assert final["actual_start"] is not None and final["actual_end"] is not None


async def test_restart_resumes_live_and_marks_missed(app_config: Config) -> None:
    first_runner = LoggingSessionRunner()
    async with serve(app_config, session_runner=first_runner) as app:
        live_start = _soon(1)
        live = await _book(app, "Läuft weiter", live_start, live_start + timedelta(seconds=5))
        await _wait(lambda: live["id"] in first_runner.running(), timeout=4)
        assert (await _state(app, live["id"]))["state"] == "live"
    # The service is down; meanwhile a second seminar's whole window passes.
    assert first_runner.running() == set()
    second_runner = LoggingSessionRunner()
    async with serve(app_config, session_runner=second_runner) as app:
        # Booked while up; the service goes down again before it starts.
        missed = await _book(
            app, "Verpasst", live_start + timedelta(seconds=6), live_start + timedelta(seconds=7)
        )
    after_both = live_start + timedelta(seconds=7.3)
    await asyncio.sleep(max(0.0, (after_both - datetime.now(UTC)).total_seconds()))
    third_runner = LoggingSessionRunner()
    async with serve(app_config, session_runner=third_runner) as app:
        assert (await _state(app, missed["id"]))["state"] == "missed"
        assert missed["id"] not in {e.occurrence_id for e in third_runner.events}
        assert (await _state(app, live["id"]))["state"] == "ended"
    # While the second instance was up, the live seminar's window was still open: resumed.
    resumed = [e for e in second_runner.events if e.occurrence_id == live["id"]]
    assert resumed and resumed[0].kind == "start"
    assert resumed[0].phase is not None and resumed[0].phase.value == "live"
