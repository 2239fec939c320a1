"""A seminar with ``record: true`` through the whole service: started from the API, recorded from
the live master feed (the camera, not the lead-in slate), stopped, finalized, and listed as an
available recording whose file matches what the catalog says."""

from __future__ import annotations

import asyncio
import hashlib
import time

import aiohttp
import pytest

from streaming.ffmpeg.tools import ffprobe_json
from tests.support.app_fixtures import RunningApp

pytestmark = pytest.mark.slow


async def test_live_occurrence_is_recorded_and_archived(
    api: aiohttp.ClientSession, knoten_app: RunningApp, tmp_path
) -> None:
    seminar = {
        "title": "Aufgezeichnet: Lasercutter-Sicherheit",
        "room_id": 1,
        "start": "2027-02-02T18:00:00",
        "end": "2027-02-02T19:00:00",
        "record": True,
    }
    async with api.post("/api/v1/seminars", json=seminar) as response:
        occurrence_id = (await response.json())["occurrences"][0]["id"]
    async with api.post(f"/api/v1/occurrences/{occurrence_id}/start") as response:
        assert response.status == 200
    await asyncio.sleep(8)
    async with api.post(f"/api/v1/occurrences/{occurrence_id}/stop") as response:
        assert response.status == 200

    deadline = time.monotonic() + 60
    while True:
        async with api.get("/api/v1/recordings", params={"occurrence_id": occurrence_id}) as r:
            listed = await r.json()
            assert r.status == 200, listed
        if listed and listed[0]["status"] in ("available", "failed"):
            break
        assert time.monotonic() < deadline, f"not finalized: {listed}"
        await asyncio.sleep(0.5)
    recording = listed[0]
    assert recording["status"] == "available", recording
    assert recording["title"] == seminar["title"]
    assert (recording["width"], recording["height"]) == (1280, 720)
    assert (recording["video_codec"], recording["audio_codec"]) == ("h264", "aac")
    # Recording starts with the seminar and ends with it: about the 8 s it was live.
    assert 5.0 <= recording["duration_s"] <= 10.0, recording

    async with api.get(recording["media_url"]) as response:
        assert response.status == 200 and response.content_type == "video/mp4"
        body = await response.read()
    assert hashlib.sha256(body).hexdigest() == recording["sha256"]
    path = tmp_path / "download.mp4"
    path.write_bytes(body)
    probe = await ffprobe_json(path)
    assert {s["codec_name"] for s in probe["streams"]} == {"h264", "aac"}
    async with api.get(recording["poster_url"]) as response:
        assert response.status == 200 and response.content_type == "image/jpeg"
