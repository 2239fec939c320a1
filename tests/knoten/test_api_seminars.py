"""Seminars and occurrences through the HTTP API with the real database: booking, DST, conflicts,
bad input, moving and cancelling single dates, manual control, and the public calendar feed."""

from __future__ import annotations

import aiohttp
import icalendar
import pytest

from knoten.keys import SESSION_RUNNER
from tests.support.app_fixtures import RunningApp

WEEKLY = {
    "title": "Einführung in den 3D-Druck",
    "room_id": 1,
    "start": "2027-03-16T18:00:00",
    "end": "2027-03-16T19:30:00",
    "recurrence": "FREQ=WEEKLY;COUNT=4",
}


async def _create(api: aiohttp.ClientSession, body: dict, status: int = 201) -> dict:
    async with api.post("/api/v1/seminars", json=body) as response:
        payload = await response.json()
        assert response.status == status, payload
        return payload


async def _seminar_count(api: aiohttp.ClientSession) -> int:
    async with api.get("/api/v1/seminars") as response:
        return len(await response.json())


@pytest.mark.both_databases
async def test_weekly_seminar_stays_at_1800_across_dst(api: aiohttp.ClientSession) -> None:
    seminar = await _create(api, WEEKLY)
    assert seminar["timezone"] == "Europe/Berlin"
    assert seminar["lead_in_minutes"] == 5 and seminar["record"] is True
    starts = [o["start"] for o in seminar["occurrences"]]
    assert starts == [
        "2027-03-16T18:00:00+01:00",
        "2027-03-23T18:00:00+01:00",
        "2027-03-30T18:00:00+02:00",
        "2027-04-06T18:00:00+02:00",
    ]
    assert all(o["state"] == "scheduled" for o in seminar["occurrences"])
    first = seminar["occurrences"][0]
    assert f"/join/{first['id']}?t=" in first["join_url"]
    async with api.get(f"/api/v1/occurrences/{first['id']}") as response:
        assert (await response.json())["end"] == "2027-03-16T19:30:00+01:00"


async def test_aware_times_are_converted_to_the_seminar_zone(api: aiohttp.ClientSession) -> None:
    body = {**WEEKLY, "start": "2027-03-16T17:00:00Z", "end": "2027-03-16T18:30:00Z"}
    del body["recurrence"]
    seminar = await _create(api, body)
    assert seminar["start"] == "2027-03-16T18:00:00+01:00"
    assert seminar["occurrence_count"] == 1


@pytest.mark.both_databases
async def test_conflict_is_409_naming_the_other_booking(api: aiohttp.ClientSession) -> None:
    first = await _create(api, WEEKLY)
    clash = {
        "title": "Makerspace-Sprechstunde",
        "room_id": 1,
        "start": "2027-03-30T19:00:00",
        "end": "2027-03-30T20:00:00",
    }
    async with api.post("/api/v1/seminars", json=clash) as response:
        assert response.status == 409
        error = (await response.json())["error"]
    assert error["code"] == "seminar_conflict"
    assert "Einführung in den 3D-Druck" in error["message"]
    conflicting = error["details"][0]["existing"]
    assert conflicting["id"] == first["occurrences"][2]["id"]
    assert conflicting["start"].startswith("2027-03-30T16:00:00")
    assert await _seminar_count(api) == 1, "a refused booking writes nothing"


@pytest.mark.both_databases
async def test_lead_in_counts_for_conflicts_touching_does_not(api: aiohttp.ClientSession) -> None:
    await _create(api, {**WEEKLY, "recurrence": None})
    after = {"title": "Danach", "room_id": 1, "start": "2027-03-16T19:30:00",
             "end": "2027-03-16T20:30:00"}  # fmt: skip
    async with api.post("/api/v1/seminars", json=after) as response:
        assert response.status == 409  # its 5 min lead-in overlaps the first seminar
    await _create(api, {**after, "lead_in_minutes": 0})


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"end": "2027-03-16T17:00:00"}, "end"),
        ({"end": "2027-03-16T18:00:00"}, "end"),
        ({"end": "2027-03-17T07:00:00"}, "end"),
        ({"room_id": 999}, "room_id"),
        ({"recurrence": "FREQ=FORTNIGHTLY"}, "recurrence"),
        ({"recurrence": "FREQ=MINUTELY;COUNT=5"}, "recurrence"),
        ({"timezone": "Europe/Gotham"}, "timezone"),
        ({"lead_in_minutes": 61}, "lead_in_minutes"),
        ({"lead_out_minutes": -1}, "lead_out_minutes"),
        ({"colour": "red"}, "colour"),
        ({"title": ""}, "title"),
        ({"start": "not a time"}, "start"),
        ({"start": "2027-03-28T02:30:00", "end": "2027-03-28T04:00:00", "recurrence": None},
         "start"),
        ({"start": "2020-01-07T18:00:00", "end": "2020-01-07T19:00:00", "recurrence": None},
         "start"),
    ],
)  # fmt: skip
async def test_bad_seminar_is_422_naming_the_field(
    api: aiohttp.ClientSession, change: dict, field: str
) -> None:
    async with api.post("/api/v1/seminars", json={**WEEKLY, **change}) as response:
        body = await response.json()
        assert response.status == 422, body
    assert body["error"]["field"] == field, body
    assert await _seminar_count(api) == 0


async def test_nonexistent_local_time_explains_the_gap(api: aiohttp.ClientSession) -> None:
    body = {**WEEKLY, "start": "2027-03-28T02:30:00", "end": "2027-03-28T04:00:00"}
    del body["recurrence"]
    async with api.post("/api/v1/seminars", json=body) as response:
        error = (await response.json())["error"]
    assert "02:30 does not exist on 2027-03-28" in error["message"]


@pytest.mark.both_databases
async def test_move_and_cancel_one_occurrence(api: aiohttp.ClientSession) -> None:
    seminar = await _create(api, WEEKLY)
    second, third = seminar["occurrences"][1], seminar["occurrences"][2]
    move = {"start": "2027-03-24T10:00:00", "end": "2027-03-24T11:00:00"}
    async with api.patch(f"/api/v1/occurrences/{second['id']}", json=move) as response:
        moved = await response.json()
        assert response.status == 200, moved
    assert moved["start"] == "2027-03-24T10:00:00+01:00" and moved["moved"] is True
    assert moved["recurrence_id"] == second["recurrence_id"]
    assert moved["sequence"] == second["sequence"] + 1
    async with api.patch(
        f"/api/v1/occurrences/{third['id']}", json={"state": "cancelled"}
    ) as response:
        assert (await response.json())["state"] == "cancelled"
    # The cancelled slot is free again.
    await _create(api, {"title": "Ersatz", "room_id": 1, "start": "2027-03-30T18:00:00",
                        "end": "2027-03-30T19:00:00"})  # fmt: skip
    async with api.patch(
        f"/api/v1/occurrences/{third['id']}", json={"state": "scheduled"}
    ) as response:
        assert response.status == 409
    async with api.patch(f"/api/v1/occurrences/{third['id']}", json={"start": move["start"]}) as r:
        assert r.status == 422


@pytest.mark.both_databases
async def test_changing_the_series_keeps_occurrence_ids(api: aiohttp.ClientSession) -> None:
    seminar = await _create(api, WEEKLY)
    ids = [o["id"] for o in seminar["occurrences"]]
    change = {"start": "2027-03-16T17:00:00", "end": "2027-03-16T18:30:00", "title": "Neu"}
    async with api.patch(f"/api/v1/seminars/{seminar['id']}", json=change) as response:
        updated = await response.json()
        assert response.status == 200, updated
    assert [o["id"] for o in updated["occurrences"]] == ids
    assert [o["start"][11:16] for o in updated["occurrences"]] == ["17:00"] * 4
    assert updated["sequence"] == 1 and updated["title"] == "Neu"
    async with api.delete(f"/api/v1/seminars/{seminar['id']}") as response:
        assert response.status == 204
    async with api.get(f"/api/v1/occurrences/{ids[0]}") as response:
        assert response.status == 404


@pytest.mark.both_databases
async def test_listing_occurrences_by_window_and_room(api: aiohttp.ClientSession) -> None:
    await _create(api, WEEKLY)
    async with api.post("/api/v1/rooms", json={"name": "Werkstatt"}) as response:
        room = await response.json()
    await _create(api, {**WEEKLY, "room_id": room["id"], "title": "Löten"})
    params = {"from": "2027-03-20T00:00:00Z", "to": "2027-04-01T00:00:00Z"}
    async with api.get("/api/v1/occurrences", params=params) as response:
        listed = await response.json()
    assert [o["start"][:10] for o in listed] == ["2027-03-23"] * 2 + ["2027-03-30"] * 2
    async with api.get("/api/v1/occurrences", params={**params, "room_id": room["id"]}) as r:
        assert {o["title"] for o in await r.json()} == {"Löten"}
    async with api.get("/api/v1/occurrences", params={"from": "gestern"}) as response:
        assert response.status == 422
        assert (await response.json())["error"]["field"] == "from"


@pytest.mark.both_databases
async def test_manual_start_stop_extend(api: aiohttp.ClientSession, knoten_app: RunningApp) -> None:
    seminar = await _create(api, {**WEEKLY, "recurrence": None})
    occurrence_id = seminar["occurrences"][0]["id"]
    runner = knoten_app.app[SESSION_RUNNER]
    async with api.post(f"/api/v1/occurrences/{occurrence_id}/start") as response:
        started = await response.json()
        assert response.status == 200, started
    assert started["state"] == "live" and started["actual_start"] is not None
    assert occurrence_id in runner.running()
    async with api.post(f"/api/v1/occurrences/{occurrence_id}/extend", json={"minutes": 30}) as r:
        assert (await r.json())["end"] == "2027-03-16T20:00:00+01:00"
    async with api.post(f"/api/v1/occurrences/{occurrence_id}/extend", json={"minutes": 0}) as r:
        assert r.status == 422
    async with api.post(f"/api/v1/occurrences/{occurrence_id}/stop") as response:
        stopped = await response.json()
    assert stopped["state"] == "ended"
    assert occurrence_id not in runner.running()
    async with api.post(f"/api/v1/occurrences/{occurrence_id}/start") as response:
        assert response.status == 409


@pytest.mark.both_databases
async def test_room_calendar_feed(
    api: aiohttp.ClientSession, http: aiohttp.ClientSession, knoten_app: RunningApp
) -> None:
    seminar = await _create(api, WEEKLY)
    cancelled = seminar["occurrences"][1]["id"]
    async with api.patch(f"/api/v1/occurrences/{cancelled}", json={"state": "cancelled"}):
        pass
    # Public: no token needed, and nothing secret in it.
    async with http.get(knoten_app.url("/calendar/rooms/1.ics")) as response:
        assert response.status == 200
        assert response.content_type == "text/calendar"
        raw = await response.read()
    assert knoten_app.token.encode() not in raw
    calendar = icalendar.Calendar.from_ical(raw)
    events = calendar.walk("VEVENT")
    assert len(events) == 4
    assert {str(e["STATUS"]) for e in events} == {"CONFIRMED", "CANCELLED"}
    by_id = {str(e["UID"]): e for e in events}
    cancelled_event = next(e for uid, e in by_id.items() if f"-{cancelled}@" in uid)
    assert str(cancelled_event["STATUS"]) == "CANCELLED"
    assert int(cancelled_event["SEQUENCE"]) == 1
    for event, occurrence in zip(
        sorted(events, key=lambda e: e.decoded("DTSTART")), seminar["occurrences"], strict=True
    ):
        start = event.decoded("DTSTART")
        assert start.strftime("%H:%M") == "18:00"
        assert start.isoformat() == occurrence["start"]
        # The public feed links the join page without the personal token.
        assert str(event["URL"]) == occurrence["join_url"].split("?")[0]
        assert "?t=" not in raw.decode()
    assert calendar.walk("VTIMEZONE"), "the feed carries its time zone definition"
    async with http.get(knoten_app.url("/calendar/rooms/99.ics")) as response:
        assert response.status == 404


@pytest.mark.both_databases
async def test_room_with_seminars_cannot_be_deleted(api: aiohttp.ClientSession) -> None:
    await _create(api, WEEKLY)
    async with api.delete("/api/v1/rooms/1") as response:
        assert response.status == 409
        assert (await response.json())["error"]["code"] == "room_in_use"
    async with api.get("/api/v1/rooms/1") as response:
        assert response.status == 200


async def test_join_page_without_token_explains_how_to_get_in(
    api: aiohttp.ClientSession, http: aiohttp.ClientSession, knoten_app: RunningApp
) -> None:
    seminar = await _create(api, {**WEEKLY, "recurrence": None})
    occurrence_id = seminar["occurrences"][0]["id"]
    async with http.get(knoten_app.url(f"/join/{occurrence_id}?lang=de")) as response:
        assert response.status == 401
        assert "persönlichen Link" in await response.text()


async def test_moving_a_series_into_the_past_is_refused(api: aiohttp.ClientSession) -> None:
    seminar = await _create(api, WEEKLY)
    change = {"start": "2020-03-17T18:00:00", "end": "2020-03-17T19:30:00"}
    async with api.patch(f"/api/v1/seminars/{seminar['id']}", json=change) as response:
        assert response.status == 422
        assert (await response.json())["error"]["field"] == "start"
    async with api.get(f"/api/v1/seminars/{seminar['id']}") as response:
        assert len((await response.json())["occurrences"]) == 4
