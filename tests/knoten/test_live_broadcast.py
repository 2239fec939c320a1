"""Broadcasting a seminar to two real nginx-rtmp partners through the whole service: started by
hand from the API, both partners receive their profile, partner A's outage of 10 s neither
touches partner B nor needs more than A's backoff to recover, the status shows it, and stopping
leaves no process behind."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import aiohttp
import pytest

from knoten.keys import FFMPEG_PROCESSES
from streaming.ffmpeg.tools import ffprobe_json
from tests.support.app_fixtures import RunningApp
from tests.support.media_checks import largest_video_gap

pytestmark = pytest.mark.slow


async def _json(response: aiohttp.ClientResponse, status: int) -> dict:
    body = await response.json()
    assert response.status == status, body
    return body


async def _partner(api: aiohttp.ClientSession, name: str, url: str, profile: str) -> int:
    body = {"name": name, "kind": "rtmp", "url": url, "profile": profile}
    async with api.post("/api/v1/partners", json=body) as response:
        return (await _json(response, 201))["id"]


async def _occurrence(api: aiohttp.ClientSession, occurrence_id: int) -> dict:
    async with api.get(f"/api/v1/occurrences/{occurrence_id}") as response:
        return await _json(response, 200)


async def _wait_outputs(api, occurrence_id: int, wanted: dict[int, str], timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        occurrence = await _occurrence(api, occurrence_id)
        states = {o["partner_id"]: o["state"] for o in occurrence.get("outputs") or []}
        if all(states.get(pid) == state for pid, state in wanted.items()):
            return occurrence
        if time.monotonic() > deadline:
            raise AssertionError(f"outputs {states}, wanted {wanted}")
        await asyncio.sleep(0.25)


async def test_partners_isolated_through_the_service(
    api: aiohttp.ClientSession, knoten_app: RunningApp, nginx_partner_factory, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    partner_a = await nginx_partner_factory()
    partner_b = await nginx_partner_factory()
    a_id = await _partner(api, "Innovationszentrum", partner_a.url("iz-geheim"), "720p")
    b_id = await _partner(api, "Uni-Campus", partner_b.url("campus-geheim"), "480p")
    seminar = {
        "title": "Robotik live",
        "room_id": 1,
        "start": "2027-06-01T18:00:00",
        "end": "2027-06-01T19:00:00",
        "partner_ids": [a_id, b_id],
        "record": False,
    }
    async with api.post("/api/v1/seminars", json=seminar) as response:
        occurrence_id = (await _json(response, 201))["occurrences"][0]["id"]
    async with api.post(f"/api/v1/occurrences/{occurrence_id}/start") as response:
        assert (await _json(response, 200))["state"] == "live"
    live = await _wait_outputs(api, occurrence_id, {a_id: "live", b_id: "live"}, 20)
    assert live["source"]["state"] == "live" and live["source"]["on_air"] == "camera"
    listing = json.dumps(live)
    assert "iz-geheim" not in listing and "campus-geheim" not in listing

    probe_a = await ffprobe_json(partner_a.url("iz-geheim"), timeout=15)
    probe_b = await ffprobe_json(partner_b.url("campus-geheim"), timeout=15)
    size = {s["codec_type"]: (s["codec_name"], s.get("width"), s.get("height"))
            for s in probe_a["streams"]}  # fmt: skip
    assert size["video"] == ("h264", 1280, 720) and size["audio"][0] == "aac"
    size = {s["codec_type"]: (s["codec_name"], s.get("width"), s.get("height"))
            for s in probe_b["streams"]}  # fmt: skip
    assert size["video"] == ("h264", 854, 480) and size["audio"][0] == "aac"

    # Partner A's server goes away for 10 s.
    await partner_a.refuse()
    await _wait_outputs(api, occurrence_id, {a_id: "retrying", b_id: "live"}, 15)
    await asyncio.sleep(10)
    await partner_a.accept()
    # Retries after 1, 2, 4, 8, 16 s (±20 %, capped at 30 s): the next one after the server's
    # return comes at most one backoff step later.
    back = await _wait_outputs(api, occurrence_id, {a_id: "live", b_id: "live"}, 35)
    a_status = next(o for o in back["outputs"] if o["partner_id"] == a_id)
    b_status = next(o for o in back["outputs"] if o["partner_id"] == b_id)
    assert a_status["restarts"] >= 1 and b_status["restarts"] == 0
    async with api.get("/metrics") as response:
        exposition = await response.text()
    labels = f'occurrence="{occurrence_id}",partner="{b_id}",state="live"'
    assert f"knoten_live_output_state{{{labels}}} 1.0" in exposition
    assert (
        f'knoten_live_source_state{{occurrence="{occurrence_id}",state="live"}} 1.0' in exposition
    )
    await asyncio.sleep(2)

    async with api.post(f"/api/v1/occurrences/{occurrence_id}/stop") as response:
        assert (await _json(response, 200))["state"] == "ended"
    assert len(knoten_app.app[FFMPEG_PROCESSES]) == 0
    recorded_b = partner_b.recordings()
    assert len(recorded_b) == 1, "partner B's connection was never dropped"
    assert largest_video_gap(recorded_b[0]) <= 1.0
    assert partner_a.recordings(), "partner A received the stream again after its outage"
    # FFmpeg's own messages about the failing partner went through the log, keys masked.
    assert "rtmp://127.0.0.1" in caplog.text
    assert "iz-geheim" not in caplog.text and "campus-geheim" not in caplog.text
