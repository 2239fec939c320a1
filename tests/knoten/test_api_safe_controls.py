"""Safe manual control over the API: "start now" far ahead of a date is refused (409
``start_too_early``) unless the date is moved to now; a date stopped by staff can be resumed
while its time lasts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from knoten.config import Config
from knoten.keys import SESSION_RUNNER
from tests.support.app_fixtures import RunningApp, admin_session, make_config, serve
from tests.support.bookings import book_date
from tests.support.ports import free_tcp_port

pytestmark = pytest.mark.timeout(60)

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def guarded_config(tmp_path: Path) -> Config:
    """The shipped guard: 60 minutes before the lead-in at most."""
    return make_config(tmp_path / "data", free_tcp_port(), KNOTEN_EARLY_START_MINUTES="60")


@pytest.fixture
async def guarded(
    guarded_config: Config,
) -> AsyncIterator[tuple[RunningApp, aiohttp.ClientSession]]:
    async with serve(guarded_config) as running, admin_session(running) as api:
        yield running, api


async def _book(api: aiohttp.ClientSession, begin: datetime, minutes: int = 60) -> dict:
    return await book_date(api, begin, minutes=minutes, record=False)


async def test_start_far_ahead_is_refused_and_moving_to_now_starts_it(
    guarded: tuple[RunningApp, aiohttp.ClientSession],
) -> None:
    """Regression: "Jetzt starten" on tomorrow's date ran camera, recording and partners for
    20 hours."""
    app, api = guarded
    tomorrow = datetime.now(BERLIN) + timedelta(days=1)
    occurrence = await _book(api, tomorrow, minutes=90)
    oid = occurrence["id"]
    assert occurrence["early_start_from"] is None  # only the single view carries it
    async with api.get(f"/api/v1/occurrences/{oid}") as response:
        shown = await response.json()
    earliest = datetime.fromisoformat(shown["early_start_from"])
    start = datetime.fromisoformat(shown["start"])
    assert start - earliest == timedelta(minutes=60 + shown["lead_in_minutes"])

    async with api.post(f"/api/v1/occurrences/{oid}/start") as response:
        refused = await response.json()
        assert response.status == 409, refused
    assert refused["error"]["code"] == "start_too_early"
    assert "move it to now" in refused["error"]["message"]
    assert datetime.fromisoformat(refused["error"]["details"][0]["earliest_start"]) == earliest
    assert oid not in app.app[SESSION_RUNNER].running()
    async with api.get(f"/api/v1/occurrences/{oid}") as response:
        assert (await response.json())["state"] == "scheduled"

    async with api.post(f"/api/v1/occurrences/{oid}/start", json={"move_to_now": "ja"}) as r:
        assert r.status == 422
        assert (await r.json())["error"]["field"] == "move_to_now"

    before = datetime.now(BERLIN)
    async with api.post(f"/api/v1/occurrences/{oid}/start", json={"move_to_now": True}) as r:
        moved = await r.json()
        assert r.status == 200, moved
    assert moved["state"] == "live" and moved["moved"] is True
    new_start = datetime.fromisoformat(moved["start"])
    assert abs(new_start - before) < timedelta(seconds=5)
    assert datetime.fromisoformat(moved["end"]) - new_start == timedelta(minutes=90)
    assert moved["sequence"] == occurrence["sequence"] + 1
    assert oid in app.app[SESSION_RUNNER].running()
    async with api.post(f"/api/v1/occurrences/{oid}/stop") as response:
        assert response.status == 200


async def test_start_within_the_hour_before_the_lead_in_needs_no_move(
    guarded: tuple[RunningApp, aiohttp.ClientSession],
) -> None:
    _app, api = guarded
    # Lead-in 5 min: 50 min ahead is 45 min before the lead-in, inside the 60-minute guard.
    occurrence = await _book(api, datetime.now(BERLIN) + timedelta(minutes=50))
    oid = occurrence["id"]
    async with api.post(f"/api/v1/occurrences/{oid}/start") as response:
        started = await response.json()
        assert response.status == 200, started
    assert started["state"] == "live" and started["moved"] is False
    assert started["start"] == occurrence["start"]
    async with api.post(f"/api/v1/occurrences/{oid}/stop") as response:
        assert response.status == 200


async def test_a_stopped_date_is_resumed_within_its_window(
    guarded: tuple[RunningApp, aiohttp.ClientSession],
) -> None:
    app, api = guarded
    runner = app.app[SESSION_RUNNER]
    occurrence = await _book(api, datetime.now(BERLIN) + timedelta(minutes=10))
    oid = occurrence["id"]
    async with api.post(f"/api/v1/occurrences/{oid}/resume") as response:
        assert response.status == 409  # nothing to undo yet
        assert (await response.json())["error"]["code"] == "invalid_occurrence_state"
    async with api.post(f"/api/v1/occurrences/{oid}/start") as response:
        assert response.status == 200
    async with api.post(f"/api/v1/occurrences/{oid}/stop") as response:
        stopped = await response.json()
    assert stopped["state"] == "ended" and stopped["state_reason"] == "stopped by staff"
    assert oid not in runner.running()

    async with api.post(f"/api/v1/occurrences/{oid}/resume") as response:
        resumed = await response.json()
        assert response.status == 200, resumed
    assert resumed["state"] == "live" and resumed["actual_end"] is None
    assert resumed["source"] is not None  # the session runs again
    assert oid in runner.running()
    async with api.post(f"/api/v1/occurrences/{oid}/resume") as response:
        assert response.status == 200  # already live: nothing to do
    async with api.post(f"/api/v1/occurrences/{oid}/stop") as response:
        assert response.status == 200

    # A date that ended by its schedule, or was cancelled, is not "stopped by mistake".
    other = await _book(api, datetime.now(BERLIN) + timedelta(hours=3))
    async with api.patch(f"/api/v1/occurrences/{other['id']}", json={"state": "cancelled"}):
        pass
    async with api.post(f"/api/v1/occurrences/{other['id']}/resume") as response:
        assert response.status == 409
    async with api.post("/api/v1/occurrences/999999/resume") as response:
        assert response.status == 404


async def test_a_date_stopped_in_its_lead_in_resumes_into_the_lead_in(
    guarded: tuple[RunningApp, aiohttp.ClientSession],
) -> None:
    """Resuming must not put a date on air before its time: stopped during the lead-in, it
    goes back to the lead-in (slate, "beginnt um")."""
    app, api = guarded
    runner = app.app[SESSION_RUNNER]
    begin = datetime.now(BERLIN) + timedelta(minutes=10)
    oid = (await book_date(api, begin, record=False, lead_in_minutes=15))["id"]
    async with asyncio.timeout(10):  # the booking's reconciliation starts the lead-in
        while oid not in runner.running():
            await asyncio.sleep(0.1)
    async with api.post(f"/api/v1/occurrences/{oid}/stop") as response:
        assert (await response.json())["state"] == "ended"
    assert oid not in runner.running()
    async with api.post(f"/api/v1/occurrences/{oid}/resume") as response:
        resumed = await response.json()
        assert response.status == 200, resumed
    assert resumed["state"] == "scheduled" and resumed["actual_start"] is None
    assert oid in runner.running()
    assert resumed["source"]["state"] in ("starting", "standby")  # lead-in: the slate shows
    async with api.post(f"/api/v1/occurrences/{oid}/resume") as response:
        assert response.status == 200  # nothing more to undo
    async with api.post(f"/api/v1/occurrences/{oid}/stop") as response:
        assert response.status == 200
