"""Two Knoten nodes on one PostgreSQL and one data directory: a live date runs on node A only; A
is killed with -9 and node B takes the date over within 10 s (measured), its recording going on
as a further part of the same archive entry. A's FFmpegs die with it (parent-death signal), and
B, started while A was live, leaves A's open recording alone, and a participant whose join link
reached B is served by A (B passes the WHEP offer and the leave on; the media comes from A).

Both ``knoten serve`` processes run on loopback with their own node id (``KNOTEN_NODE_ID``); the
date is started through A and watched through B, as a viewer asking the wrong node would."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from recordings.paths import ArchivePaths
from streaming.ffmpeg.tools import ffprobe_json
from tests.faults.helpers import get_json, wait_for
from tests.support.app_fixtures import ServiceProcess, wait_healthy
from tests.support.postgres import PostgresCluster
from tests.support.processes import children_of, is_alive, kill_all
from tests.support.webrtc_peers import Client, until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
TOKEN = "failover-suite-admin-token-0123"
FAILOVER_LIMIT_S = 10.0


def _api(service: ServiceProcess) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        base_url=service.base_url,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=aiohttp.ClientTimeout(total=10),
    )


async def _occurrence(api: aiohttp.ClientSession, occurrence_id: int) -> dict:
    with contextlib.suppress(aiohttp.ClientError, AssertionError, asyncio.TimeoutError):
        return await get_json(api, f"/api/v1/occurrences/{occurrence_id}")
    return {}


async def _viewers_at(node: ServiceProcess, occurrence_id: int) -> int:
    """How many viewers ``node`` itself serves for the date."""
    async with _api(node) as api:
        return (await get_json(api, f"/api/v1/occurrences/{occurrence_id}/viewers"))["viewers"]


async def _on_air(api: aiohttp.ClientSession, occurrence_id: int) -> bool:
    body = await _occurrence(api, occurrence_id)
    return (body.get("source") or {}).get("on_air") == "camera"


def _runs(parts: Path) -> set[str]:
    """The runs of segments written so far: one per node (or restart) that recorded."""
    names = (p.name for p in parts.iterdir()) if parts.is_dir() else iter(())
    return {m.group(1) for name in names if (m := re.match(r"(r\d{3})-\d{5}\.ts", name))}


async def test_a_killed_node_hands_its_live_date_to_the_other(
    service_factory, postgres_cluster: PostgresCluster, tmp_path: Path
) -> None:
    data = tmp_path / "shared-data"  # the shared disk of a real district (NFS)
    env = {
        "KNOTEN_ADMIN_TOKEN": TOKEN,
        "KNOTEN_DATABASE_URL": postgres_cluster.create_database(),
        "KNOTEN_WEBRTC_WORKERS": "0",
        "KNOTEN_WEBRTC_HOST_ADDRESSES": "127.0.0.1",
        "KNOTEN_LOG_LEVEL": "INFO",
    }
    node_a = service_factory(data_dir=data, KNOTEN_NODE_ID="node-a", **env)
    await wait_healthy(node_a)
    async with _api(node_a) as api:
        room = await get_json(api, "/api/v1/rooms/1")
        start = datetime.now(ZoneInfo(room["timezone"])).replace(microsecond=0, tzinfo=None)
        seminar = {"title": "Übergabe an den zweiten Knoten", "room_id": 1, "record": True,
                   "start": (start + timedelta(minutes=2)).isoformat(),
                   "end": (start + timedelta(hours=1)).isoformat()}  # fmt: skip
        async with api.post("/api/v1/seminars", json=seminar) as response:
            assert response.status == 201, await response.text()
            occurrence_id = (await response.json())["occurrences"][0]["id"]
        async with api.post(f"/api/v1/occurrences/{occurrence_id}/start") as response:
            assert response.status == 200, await response.text()
        await wait_for(lambda: _on_air(api, occurrence_id), 20, "camera on air at node A")
    on_air_at = time.monotonic()

    # Node B comes up while A is live: it must neither start the date nor finish its recording.
    node_b = service_factory(data_dir=data, KNOTEN_NODE_ID="node-b", **env)
    await wait_healthy(node_b)
    async with _api(node_b) as api_b:
        seen_from_b = await _occurrence(api_b, occurrence_id)
        assert seen_from_b["node"] == {"id": "node-a", "url": node_a.base_url,
                                       "this_node": False}, seen_from_b  # fmt: skip
        assert seen_from_b["source"] is None, "B runs nothing of A's date"
        [recording] = await get_json(api_b, "/api/v1/recordings", occurrence_id=occurrence_id)
        assert recording["status"] == "recording", recording
        token = seen_from_b["join_url"].split("?t=", 1)[1]
        join_state = await get_json(api_b, f"/join/{occurrence_id}/state", t=token)
        viewer = Client()
        try:
            offer = await viewer.offer()
            async with api_b.post(f"/whep/{occurrence_id}", data=offer, headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/sdp",
            }) as response:  # fmt: skip
                whep_status, location = response.status, response.headers.get("Location")
                answer = await response.text()
            assert whep_status == 201, answer
            await viewer.accept(answer)
            await until(lambda: viewer.frames["video"] >= 10, 15)
            frames_via_b = viewer.frames["video"]
            viewers_on_a = await _viewers_at(node_a, occurrence_id)
            async with api_b.delete(location, headers={"Authorization": f"Bearer {token}"}) as r:
                left_status = r.status
        finally:
            await viewer.close()
        assert join_state["state"] == "live", join_state
        assert viewers_on_a == 1 and left_status == 200, (viewers_on_a, left_status)
        assert frames_via_b >= 10
    await asyncio.sleep(max(0.0, 5 - (time.monotonic() - on_air_at)))

    children = children_of(node_a.process.pid)
    ffmpegs = [pid for pid in children if "ffmpeg" in Path(f"/proc/{pid}/comm").read_text()]
    assert ffmpegs, "node A runs the date's FFmpegs"
    node_a.process.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    async with _api(node_b) as api_b:
        await wait_for(lambda: _on_air(api_b, occurrence_id), 20, "camera on air at node B", 0.1)
        failover = time.monotonic() - killed_at
        back_at = time.monotonic()
        orphans = [pid for pid in children if is_alive(pid)]
        kill_all(orphans)
        now_from_b = await _occurrence(api_b, occurrence_id)
        assert now_from_b["node"]["id"] == "node-b" and now_from_b["node"]["this_node"]
        assert now_from_b["state"] == "live"
        await asyncio.sleep(5)
        parts = ArchivePaths(data / "recordings").parts_dir(recording["id"])
        runs = _runs(parts)
        async with api_b.post(f"/api/v1/occurrences/{occurrence_id}/stop") as response:
            assert response.status == 200, await response.text()
        stopped_at = time.monotonic()

        async def finished() -> bool:
            listed = await get_json(api_b, "/api/v1/recordings", occurrence_id=occurrence_id)
            return all(r["status"] in ("available", "failed") for r in listed)

        await wait_for(finished, 60, "the recording finalized", 0.3)
        listed = await get_json(api_b, "/api/v1/recordings", occurrence_id=occurrence_id)
    await asyncio.to_thread(node_a.process.wait, 10)

    wall = stopped_at - on_air_at
    gap = back_at - killed_at
    assert [r["id"] for r in listed] == [recording["id"]], f"one date, one entry: {listed}"
    probe = await ffprobe_json(ArchivePaths(data / "recordings").media(recording["id"]))
    duration = float(probe["format"]["duration"])
    print(
        f"node B live {failover:.2f} s after kill -9 of node A (limit {FAILOVER_LIMIT_S:.0f} s); "
        f"recording {duration:.2f} s in {len(runs)} parts ({sorted(runs)}) of {wall:.2f} s "
        f"wall time minus a {gap:.2f} s gap = {wall - gap:.2f} s; orphans of A: {orphans}"
    )
    assert orphans == [], "A's FFmpegs must die with it"
    assert failover <= FAILOVER_LIMIT_S, f"node B live {failover:.2f} s after the kill"
    assert len(runs) == 2, f"A's part and B's part: {sorted(runs)}"
    assert listed[0]["status"] == "available", listed
    assert {s["codec_type"] for s in probe["streams"]} == {"video", "audio"}
    # Each node's recorder needs about a second of feed before it writes.
    assert abs(duration - (wall - gap)) <= 2.5, (duration, wall, gap)
