"""Requests: a host's booking waits for the library ("angefragt"), holds the room against other
bookings, never goes live, and is confirmed or declined by staff; a provider that may book
directly gets scheduled dates at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from knoten.accounts.principal import Role
from knoten.config import Config
from knoten.keys import ACCOUNTS, BEARER_AUTH, PROVIDERS
from schedules.ports import LoggingSessionRunner
from tests.support.accounts import ensure_account
from tests.support.app_fixtures import RunningApp, admin_session, serve

pytestmark = [pytest.mark.timeout(90), pytest.mark.both_databases]


async def _host(app: RunningApp, name: str, provider_id: int) -> aiohttp.ClientSession:
    account_id = await ensure_account(app, name, f"{name}-passwort", Role.HOST,
                                      provider_id=provider_id)  # fmt: skip
    token, _ = await app.app[BEARER_AUTH].create(
        await app.app[ACCOUNTS].get(account_id), "test", None, 1
    )
    return aiohttp.ClientSession(
        base_url=app.base_url, headers={"Authorization": f"Bearer {token}"}
    )


def _booking(title: str, start: datetime, **extra: Any) -> dict[str, Any]:
    return {"title": title, "room_id": 1, "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(), "lead_in_minutes": 0,
            **extra}  # fmt: skip


async def test_request_confirm_decline_cycle_with_conflicts(app_config: Config) -> None:
    runner = LoggingSessionRunner()
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    week = soon + timedelta(days=7)
    async with serve(app_config, session_runner=runner) as app, admin_session(app) as api:
        lotsen = await app.app[PROVIDERS].create("DigitalLotsen")
        campus = await app.app[PROVIDERS].create("Campus", direct_booking=True)
        async with (
            await _host(app, "lotse", lotsen.id) as lotse,
            await _host(app, "campus", campus.id) as host_campus,
        ):
            # The host asks for a date that starts in two seconds, and for a course.
            async with lotse.post("/api/v1/seminars", json=_booking("Sofort", soon)) as r:
                assert r.status == 201, await r.text()
                now_request = await r.json()
            assert now_request["requested"] is True
            assert now_request["occurrences"][0]["state"] == "requested"
            course = _booking("Kurs", week, recurrence="FREQ=WEEKLY;COUNT=2")
            async with lotse.post("/api/v1/seminars", json=course) as r:
                request = await r.json()
            assert [o["state"] for o in request["occurrences"]] == ["requested", "requested"]

            # The request holds the room: nobody else may book over it.
            async with api.post("/api/v1/seminars", json=_booking("Staff", week)) as r:
                assert r.status == 409
                assert (await r.json())["error"]["code"] == "seminar_conflict"
            # Open-ended requests, changes and confirming one's own are refused.
            endless = _booking("Endlos", week + timedelta(hours=3), recurrence="FREQ=WEEKLY")
            async with lotse.post("/api/v1/seminars", json=endless) as r:
                assert r.status == 422
                assert (await r.json())["error"]["field"] == "recurrence"
            seminar_url = f"/api/v1/seminars/{request['id']}"
            async with lotse.patch(seminar_url, json={"title": "Anders"}) as r:
                assert r.status == 409
            async with lotse.post(f"{seminar_url}/confirm") as r:
                assert r.status == 403
            occurrence = now_request["occurrences"][0]["id"]
            async with lotse.post(f"/api/v1/occurrences/{occurrence}/start") as r:
                assert r.status == 409, "a requested date cannot be started"

            # Its window opened: it did not go live (the scheduler ignores requests).
            await asyncio.sleep(3)
            assert not [e for e in runner.events if e.occurrence_id == occurrence]
            async with (
                aiohttp.ClientSession() as http,
                http.get(app.url("/calendar/rooms/1.ics")) as r,
            ):
                assert "STATUS:TENTATIVE" in await r.text()

            # Staff confirm the course …
            async with api.post(f"{seminar_url}/confirm") as r:
                assert r.status == 200
                confirmed = await r.json()
            assert confirmed["requested"] is False
            assert {o["state"] for o in confirmed["occurrences"]} == {"scheduled"}
            async with api.post(f"{seminar_url}/confirm") as r:
                assert r.status == 409, "only a request is confirmed"
            # … and decline the other: the room is free again.
            async with api.post(f"/api/v1/seminars/{now_request['id']}/decline") as r:
                assert r.status == 204
            async with api.post(
                "/api/v1/seminars", json=_booking("Staff", soon + timedelta(minutes=30))
            ) as r:
                assert r.status == 201
                staff_seminar = await r.json()
            # A host running into another provider's booking learns the time, not what it is.
            over = _booking("Drüber", soon + timedelta(minutes=45))
            async with lotse.post("/api/v1/seminars", json=over) as r:
                assert r.status == 409
                error = (await r.json())["error"]
            existing = error["details"][0]["existing"]
            assert existing["title"] == "Belegt" and existing["seminar_id"] is None
            assert "Staff" not in error["message"] and existing["start"]
            assert staff_seminar["title"] == "Staff"

            # A provider that may book directly gets scheduled dates at once.
            direct = _booking("Direkt", week + timedelta(hours=5))
            async with host_campus.post("/api/v1/seminars", json=direct) as r:
                booked = await r.json()
            assert booked["requested"] is False
            assert booked["occurrences"][0]["state"] == "scheduled"
