"""Hostile input is answered with a 4xx naming what is wrong, never a 500: the corpus of what
fuzzing the OpenAPI description and probing by hand found (issue: zero 5xx from hostile input).

Each test pins one defect that once answered 500 (or worse, was accepted); the fuzz run itself
is tests/knoten/test_api_fuzz.py.
"""

from __future__ import annotations

import asyncio
import re
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from sqlalchemy import text

from knoten.keys import DATABASE, WEBRTC
from knoten.web.redirects import same_origin_path
from schedules.ports import LoggingSessionRunner
from streaming.webrtc.errors import InvalidOffer
from streaming.webrtc.sdp import check_offer, parse_offer
from tests.knoten.test_whep import create_live_occurrence, feed_producer, post_offer, token_of
from tests.support.app_fixtures import RunningApp, admin_session, make_config, serve
from tests.support.ports import free_tcp_port
from tests.support.webrtc_peers import Client

pytestmark = pytest.mark.timeout(90)

#: '²' is a digit to str.isdigit() but not to int(): every id route once answered it with 500.
SUPERSCRIPT_TWO = "%C2%B2"
HUGE_IDS = ("9223372036854775808", "10000000000000000000000000", "1" * 400)


async def _json_error(response: aiohttp.ClientResponse) -> dict:
    assert response.content_type == "application/json", await response.text()
    return (await response.json())["error"]


async def _seminar_body(**changes: object) -> dict:
    begin = datetime.now(ZoneInfo("Europe/Berlin")).replace(microsecond=0, tzinfo=None)
    begin += timedelta(days=1)
    body = {
        "title": "Lesekreis",
        "room_id": 1,
        "start": begin.isoformat(),
        "end": (begin + timedelta(hours=1)).isoformat(),
    }
    return {**body, **changes}


async def test_unicode_digit_ids_are_404_without_a_token(
    knoten_app: RunningApp, http: aiohttp.ClientSession
) -> None:
    """Ids written with Unicode digits answered 500 (with a traceback) on every id route."""
    pages = [
        f"/join/{SUPERSCRIPT_TWO}",
        f"/join/{SUPERSCRIPT_TWO}/state",
        f"/calendar/rooms/{SUPERSCRIPT_TWO}.ics",
        f"/share/recordings/{SUPERSCRIPT_TWO}.1.x",
        f"/display/{SUPERSCRIPT_TWO}",
        f"/dashboard/occurrences/{SUPERSCRIPT_TWO}",
        f"/dashboard/seminars/{SUPERSCRIPT_TWO}",
    ]
    for path in pages:
        async with http.get(knoten_app.url(path), allow_redirects=False) as response:
            # The dashboard may first send an anonymous visitor to the sign-in page.
            assert response.status in (303, 404), (path, response.status)
    sdp = {"Content-Type": "application/sdp"}
    for path in (f"/whep/{SUPERSCRIPT_TWO}", f"/stage/{SUPERSCRIPT_TWO}/publish"):
        async with http.post(knoten_app.url(path), data=b"v=0\r\n", headers=sdp) as response:
            assert response.status in (401, 404), (path, response.status)
            await _json_error(response)


@pytest.mark.both_databases
async def test_unicode_digit_and_huge_ids_are_404_in_the_api(api: aiohttp.ClientSession) -> None:
    """Unicode digits answered 500; ids past 64 bits must name nothing rather than overflow.
    On PostgreSQL ids up to 2^63-1 answered 500 while its id columns were 32-bit."""
    for kind in ("rooms", "seminars", "occurrences", "partners", "recordings"):
        for raw in (SUPERSCRIPT_TWO, "%D9%A3", *HUGE_IDS):
            async with api.get(f"/api/v1/{kind}/{raw}") as response:
                assert response.status == 404, (kind, raw, response.status)
                assert (await _json_error(response))["code"].endswith("not_found")
    async with api.get("/api/v1/rooms/9223372036854775807") as response:
        assert response.status == 404  # the largest id that fits is merely unknown


async def test_the_description_lists_the_errors_ids_and_queries_answer(
    api: aiohttp.ClientSession,
) -> None:
    """GET /api/v1/recordings answered a 422 its description did not list (found by fuzzing)."""
    async with api.get("/api/v1/recordings?seminar_id=0") as response:
        assert response.status == 422
    async with api.get("/api/v1/openapi.json") as response:
        paths = (await response.json())["paths"]
    assert "422" in paths["/api/v1/recordings"]["get"]["responses"]
    for path, item in paths.items():
        for method, operation in item.items():
            if "{" in path:
                assert "404" in operation["responses"], (method, path)
            if any(p["in"] == "query" for p in operation.get("parameters", [])):
                assert "422" in operation["responses"], (method, path)


async def test_a_word_where_an_id_belongs_is_not_an_id(api: aiohttp.ClientSession) -> None:
    """`PATCH /api/v1/recordings/retention` answered 404 (it matched {recording_id}) instead of
    405, and `/messages/export` advertised PATCH in its Allow header (found by fuzzing)."""
    async with api.patch("/api/v1/recordings/retention", json={}) as response:
        assert response.status == 405
        assert response.headers["Allow"] == "POST"
    async with api.patch("/api/v1/occurrences/1/messages/export", json={}) as response:
        assert response.status == 405
        assert "PATCH" not in response.headers["Allow"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"room_id": 10**25}, "room_id", id="room_id-10^25"),
        pytest.param({"room_id": 2**63}, "room_id", id="room_id-2^63"),
        pytest.param({"partner_ids": [1, 2**63]}, "partner_ids.1", id="partner_ids-2^63"),
        pytest.param({"lead_in_minutes": -(2**64)}, "lead_in_minutes", id="negative-2^64"),
        pytest.param(
            {"start": "9999-12-31T20:00:00", "end": "9999-12-31T23:00:00"}, "start", id="year-9999"
        ),
        pytest.param(
            {"start": "0001-01-01T00:00:00", "end": "0001-01-01T01:00:00"}, "start", id="year-1"
        ),
        pytest.param({"exdates": ["9999-12-31T23:59:59Z"]}, "exdates.0", id="exdate-9999"),
    ],
)
async def test_out_of_range_numbers_and_dates_in_bodies_are_422(
    api: aiohttp.ClientSession, changes: dict, field: str
) -> None:
    """Integers past 64 bits (most of the fuzzer's 500s) and years 1/9999 answered 500."""
    async with api.post("/api/v1/seminars", json=await _seminar_body(**changes)) as response:
        assert response.status == 422, await response.text()
        assert (await _json_error(response))["field"] == field
    async with api.get("/api/v1/seminars") as response:
        assert await response.json() == []


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/seminars?room_id=10000000000000000000000000", "room_id"),
        ("/api/v1/occurrences?room_id=9223372036854775808", "room_id"),
        ("/api/v1/occurrences?from=9999-12-31T00:00:00Z", "from"),
        ("/api/v1/occurrences?from=0001-01-01T00:00:00Z", "from"),
    ],
)
async def test_out_of_range_queries_are_422(
    api: aiohttp.ClientSession, path: str, field: str
) -> None:
    """The same in query strings: `from=9999-12-31T00:00:00Z` answered 500."""
    async with api.get(path) as response:
        assert response.status == 422, await response.text()
        assert (await _json_error(response))["field"] in (field, f"{field}_")


@pytest.mark.parametrize("depth", [33, 1000, 100_000])
async def test_deeply_nested_json_is_400(api: aiohttp.ClientSession, depth: int) -> None:
    """JSON nested 1,000 deep answered 500 (RecursionError)."""
    for body in ("[" * depth + "]" * depth, '{"name": ' + "[" * depth + "]" * depth + "}"):
        async with api.post(
            "/api/v1/rooms", data=body.encode(), headers={"Content-Type": "application/json"}
        ) as response:
            assert response.status == 400, depth
            assert (await _json_error(response))["code"] == "malformed_json"


async def test_a_5000_digit_integer_is_a_client_error(api: aiohttp.ClientSession) -> None:
    """Python refuses to parse integers of more than 4,300 digits with a ValueError (500)."""
    body = b'{"name": "A", "source": "testsrc", "timezone": ' + b"9" * 5000 + b"}"
    async with api.post(
        "/api/v1/rooms", data=body, headers={"Content-Type": "application/json"}
    ) as response:
        assert response.status == 400
        await _json_error(response)


async def test_deleting_a_room_that_past_dates_still_reference_is_409(
    api: aiohttp.ClientSession, knoten_app: RunningApp
) -> None:
    """DELETE /api/v1/rooms/{id} while an ended occurrence references the room answered 500
    (the foreign key refused the delete)."""
    async with api.post("/api/v1/rooms", json={"name": "Nebenraum"}) as response:
        room = await response.json()
        assert response.status == 201, room
    async with api.post("/api/v1/seminars", json=await _seminar_body(room_id=room["id"])) as r:
        seminar = await r.json()
        assert r.status == 201, seminar
    # What a date that took place in the room and a seminar moved away afterwards leave behind.
    async with knoten_app.app[DATABASE].engine.begin() as conn:
        await conn.execute(text("UPDATE occurrences SET state = 'ended'"))
        await conn.execute(text("UPDATE seminars SET room_id = 1"))
    async with api.delete(f"/api/v1/rooms/{room['id']}") as response:
        assert response.status == 409, await response.text()
        error = await _json_error(response)
    assert error["code"] == "room_in_use"
    assert "past dates" in error["message"]
    async with api.get(f"/api/v1/rooms/{room['id']}") as response:
        assert response.status == 200


async def test_rtmp_partner_without_stream_key_is_422(api: aiohttp.ClientSession) -> None:
    """`rtmp://host/live` (no stream key) was accepted and could never be watched."""
    for url in ("rtmp://live.example.org/live", "rtmp://live.example.org/live/", "rtmp://h"):
        body = {"name": "Campus", "kind": "rtmp", "url": url}
        async with api.post("/api/v1/partners", json=body) as response:
            assert response.status == 422, url
            assert (await _json_error(response))["field"] == "url"
    body = {"name": "Campus", "kind": "rtmp", "url": "rtmp://live.example.org/live/key-1"}
    async with api.post("/api/v1/partners", json=body) as response:
        assert response.status == 201


@pytest.mark.parametrize(
    "target",
    [
        "/\t/evil.example/",
        "/\n/evil.example/",
        "/\r\n/evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "\\/evil.example/",
        " /evil.example/",
        "https://evil.example/",
        "javascript:alert(1)",
        "/ /evil.example/",
        "",
    ],
)
def test_only_same_site_paths_are_redirect_targets(target: str) -> None:
    """`next=/%09/evil.example/` after sign-in answered `Location: //evil.example/`: browsers
    drop tabs and newlines from URLs, so the check looked at the wrong string."""
    assert same_origin_path(target) is None


def test_same_site_paths_stay_redirect_targets() -> None:
    for target in ("/dashboard", "/dashboard/seminars/3?tab=dates", "/", "/dashboard/%2F%2Fx"):
        assert same_origin_path(target) == target


async def test_signin_form_never_carries_a_foreign_next(
    knoten_app: RunningApp, http: aiohttp.ClientSession
) -> None:
    for raw in ("/%09/evil.example/", "/%0A/evil.example/", "//evil.example", "/%5Cevil"):
        async with http.get(knoten_app.url(f"/signin?next={raw}")) as response:
            html = await response.text()
        assert 'name="next" value="/dashboard"' in html, raw
        assert "evil.example" not in html


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data; boundary=zz", b"garbage"),
        ("multipart/form-data", b"--zz\r\n"),
        ("application/x-www-form-urlencoded; charset=utf-16", b"\xff\xfe\x00"),
    ],
)
async def test_malformed_sign_in_forms_are_400(
    knoten_app: RunningApp, http: aiohttp.ClientSession, content_type: str, body: bytes
) -> None:
    """A multipart body without its boundary answered 500 (aiohttp's ValueError)."""
    headers = {"Content-Type": content_type, "Origin": knoten_app.base_url}
    async with http.post(knoten_app.url("/signin"), data=body, headers=headers) as response:
        assert response.status == 400, await response.text()


async def test_impossible_recurrence_is_422_and_the_loop_stays_responsive(
    api: aiohttp.ClientSession,
) -> None:
    """`FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30` took 2.6 s of the event loop to refuse; /healthz
    did not answer meanwhile. The loop must stay within 100 ms of its schedule."""
    loop = asyncio.get_running_loop()
    lateness: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            planned = loop.time() + 0.01
            await asyncio.sleep(0.01)
            lateness.append(loop.time() - planned)

    rules = [
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=DAILY;BYYEARDAY=366;BYMONTH=2",
        "FREQ=WEEKLY;BYMONTH=4;BYMONTHDAY=31",
        "FREQ=YEARLY;BYWEEKNO=53;BYDAY=MO;BYMONTH=2",
    ]
    tick = asyncio.create_task(ticker())
    started = time.perf_counter()
    try:
        for rule in rules:
            async with api.post("/api/v1/seminars", json=await _seminar_body(recurrence=rule)) as r:
                assert r.status == 422, await r.text()
                assert (await _json_error(r))["field"] == "recurrence"
    finally:
        stop.set()
        await tick
    elapsed = time.perf_counter() - started
    assert max(lateness) < 0.1, f"loop late by {max(lateness) * 1000:.0f} ms"
    assert elapsed < 2.0, f"{len(rules)} refusals took {elapsed:.2f} s"


async def test_far_exdates_are_refused_without_walking_the_rule_for_each(
    api: aiohttp.ClientSession,
) -> None:
    """Each exdate was checked by walking the rule from the start: 500 of its dates in the year 2973
    held the event loop for about 0.2 s each."""
    body = await _seminar_body(recurrence="FREQ=WEEKLY")
    start = datetime.fromisoformat(body["start"])
    far = start + timedelta(weeks=52 * 950)  # occurrences of the rule, in the year 2973
    body["exdates"] = [(far + timedelta(weeks=k)).isoformat() for k in range(500)]
    began = time.perf_counter()
    async with api.post("/api/v1/seminars", json=body) as response:
        assert response.status == 422, await response.text()
        assert (await _json_error(response))["field"] == "exdates"
    assert time.perf_counter() - began < 1.0
    body["exdates"] = [(start + timedelta(weeks=k)).isoformat() for k in range(1, 500)]
    began = time.perf_counter()
    async with api.post("/api/v1/seminars", json=body) as response:
        assert response.status == 201, await response.text()
    assert time.perf_counter() - began < 2.0


# -- WHEP offers that parse but can never connect ------------------------------------------------


def _mutations(good: str) -> dict[str, str]:
    mids = re.findall(r"a=mid:(\S+)", good)
    only_md5 = re.sub(r"a=fingerprint:sha-(384|512) \S+\r\n", "", good)
    return {
        "duplicated a=mid": good.replace(f"a=mid:{mids[1]}", f"a=mid:{mids[0]}"),
        "md5 fingerprint": re.sub(
            r"a=fingerprint:sha-256 \S+", "a=fingerprint:md5 " + ":".join(["AB"] * 16), only_md5
        ),
        "malformed fingerprint": re.sub(
            r"a=fingerprint:sha-256 \S+", "a=fingerprint:sha-256 zz:yy:not-hex", good
        ),
        "short fingerprint": re.sub(r"a=fingerprint:sha-256 \S+", "a=fingerprint:sha-256 AB", good),
        "candidate port 70000": re.sub(
            r"(a=candidate:\S+ \d+ \S+ \d+ \S+ )\d+", r"\g<1>70000", good
        ),
    }


async def _good_offer() -> str:
    client = Client()
    try:
        return await client.offer()
    finally:
        await client.close()


async def test_offers_that_cannot_work_are_invalid() -> None:
    """Each answered 201 and held a viewer slot until the connect timeout (duplicated mid: 500)."""
    good = await _good_offer()
    check_offer(good.encode())
    for name, offer in _mutations(good).items():
        assert offer != good, name
        with pytest.raises(InvalidOffer):
            check_offer(offer.encode())  # viewers (WHEP)
        with pytest.raises(InvalidOffer):
            parse_offer(offer)  # speakers, listeners and WHIP ingest


@pytest.mark.slow
async def test_whep_refuses_offers_that_cannot_work_without_taking_a_slot(
    tmp_path: Path,
) -> None:
    config = make_config(
        tmp_path / "data",
        free_tcp_port(),
        KNOTEN_WEBRTC_HOST_ADDRESSES="127.0.0.1",
        KNOTEN_WEBRTC_MAX_VIEWERS="1",
    )
    good = await _good_offer()
    async with (
        serve(config, session_runner=LoggingSessionRunner()) as app,
        admin_session(app) as admin,
        aiohttp.ClientSession() as http,
    ):
        live = await create_live_occurrence(admin)
        registry = app.app[WEBRTC]
        url = app.url(f"/whep/{live['id']}")
        async with feed_producer(tmp_path / "feed.sock") as feed:
            await registry.open(live["id"], feed, live["title"])
            for name, offer in _mutations(good).items():
                status, _, body = await post_offer(http, url, token_of(live), offer)
                assert status == 400, (name, status, body[:120])
                assert b'"invalid_offer"' in body, name
                assert registry.viewer_count(live["id"]) == 0, name
            await registry.close(live["id"])
