"""One seminar, one recording: a recorded date stopped by staff and resumed within its window
continues its archive entry (the published first part goes back into the segments as run 0 and
the next finalize joins both), instead of leaving a second entry. Real FFmpeg, ffprobe."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest

from streaming.ffmpeg.tools import ffprobe_json
from tests.support.app_fixtures import RunningApp

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]


async def _listed(api: aiohttp.ClientSession, occurrence_id: int) -> list[dict]:
    async with api.get("/api/v1/recordings", params={"occurrence_id": occurrence_id}) as r:
        body = await r.json()
        assert r.status == 200, body
    return body


async def _finalized(api: aiohttp.ClientSession, occurrence_id: int) -> list[dict]:
    deadline = time.monotonic() + 60
    while True:
        listed = await _listed(api, occurrence_id)
        if listed and all(r["status"] in ("available", "failed") for r in listed):
            return listed
        assert time.monotonic() < deadline, f"not finalized: {listed}"
        await asyncio.sleep(0.3)


async def _camera_on_air(api: aiohttp.ClientSession, occurrence_id: int) -> None:
    deadline = time.monotonic() + 20
    while True:
        async with api.get(f"/api/v1/occurrences/{occurrence_id}") as r:
            body = await r.json()
        if (body.get("source") or {}).get("on_air") == "camera":
            return
        assert time.monotonic() < deadline, f"camera not on air: {body}"
        await asyncio.sleep(0.1)


async def _post(api: aiohttp.ClientSession, path: str) -> dict:
    async with api.post(path) as response:
        body = await response.json()
        assert response.status == 200, body
    return body


async def test_stop_resume_stop_keeps_one_archive_entry(
    api: aiohttp.ClientSession, knoten_app: RunningApp, tmp_path: Path
) -> None:
    seminar = {
        "title": "Fortgesetzt: Löten für Einsteiger",
        "room_id": 1,
        "start": "2027-03-02T18:00:00",
        "end": "2027-03-02T19:00:00",
        "record": True,
    }
    async with api.post("/api/v1/seminars", json=seminar) as response:
        assert response.status == 201, await response.text()
        occurrence_id = (await response.json())["occurrences"][0]["id"]
    await _post(api, f"/api/v1/occurrences/{occurrence_id}/start")
    await _camera_on_air(api, occurrence_id)
    part1_wall = time.monotonic()
    await asyncio.sleep(6)
    await _post(api, f"/api/v1/occurrences/{occurrence_id}/stop")
    part1_wall = time.monotonic() - part1_wall
    [first] = await _finalized(api, occurrence_id)
    assert first["status"] == "available", first
    part1 = first["duration_s"]

    resumed = await _post(api, f"/api/v1/occurrences/{occurrence_id}/resume")
    assert resumed["state"] == "live", resumed
    # While it goes on the entry is not offered as finished: its file is about to change.
    listed = await _listed(api, occurrence_id)
    assert [r["id"] for r in listed] == [first["id"]], listed
    assert listed[0]["status"] == "recording", listed
    assert listed[0]["media_url"] is None, listed
    await _camera_on_air(api, occurrence_id)
    part2_at = time.monotonic()
    await asyncio.sleep(6)
    await _post(api, f"/api/v1/occurrences/{occurrence_id}/stop")
    part2_wall = time.monotonic() - part2_at

    listed = await _finalized(api, occurrence_id)
    assert len(listed) == 1, f"one date, one archive entry: {listed}"
    [recording] = listed
    assert recording["id"] == first["id"] and recording["status"] == "available", recording
    assert "resumed" in (recording["reason"] or ""), recording  # it says its media changed
    assert recording["sha256"] != first["sha256"]
    covered = recording["duration_s"]
    print(f"part 1 {part1:.2f} s of {part1_wall:.2f} s on air; part 2 on air "
          f"{part2_wall:.2f} s; one entry of {covered:.2f} s")  # fmt: skip
    # Both parts are in it: the first as published, the second as long as it was on air
    # (± 1.5 s: the recorder needs about a second of feed before it writes).
    assert abs(covered - (part1 + part2_wall)) <= 1.5, (covered, part1, part2_wall)

    async with api.get(recording["media_url"]) as response:
        assert response.status == 200 and response.content_type == "video/mp4"
        path = tmp_path / "joined.mp4"
        path.write_bytes(await response.read())
    probe = await ffprobe_json(path)
    assert {s["codec_name"] for s in probe["streams"]} == {"h264", "aac"}
    assert abs(float(probe["format"]["duration"]) - covered) < 0.1
    # It plays: every packet decodes, front to back, without an error.
    decode = await asyncio.create_subprocess_exec(
        "ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-f", "null", "-",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _out, errors = await asyncio.wait_for(decode.communicate(), 60)
    assert decode.returncode == 0 and not errors.strip(), errors.decode()[-500:]
