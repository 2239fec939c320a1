"""The service itself dies mid-date (kill -9, or SIGTERM as at a reboot) and is started again on
the same data directory: the date is live again within 5 s of the restart, and its recording is
ONE archive entry that lost no more than the time the date was off air plus 1 s.

Regression: a restart used to leave two archive entries for one date (recovery finalized the
first half, the resumed date opened a second recording)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from tests.faults.helpers import get_json, wait_for
from tests.support.app_fixtures import ServiceProcess, wait_healthy
from tests.support.processes import children_of, is_alive, kill_all

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]
TOKEN = "fault-suite-admin-token-0123"


def _api(service: ServiceProcess) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        base_url=service.base_url,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=aiohttp.ClientTimeout(total=20),
    )


async def _camera_on_air(api: aiohttp.ClientSession, occurrence_id: int) -> bool:
    with contextlib.suppress(aiohttp.ClientError, AssertionError):
        body = await get_json(api, f"/api/v1/occurrences/{occurrence_id}")
        return (body.get("source") or {}).get("on_air") == "camera"
    return False


async def _recordings(api: aiohttp.ClientSession, occurrence_id: int) -> list[dict]:
    return await get_json(api, "/api/v1/recordings", occurrence_id=occurrence_id)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
async def test_restart_mid_date_keeps_one_recording(
    service_factory, tmp_path: Path, sig: signal.Signals
) -> None:
    data = tmp_path / "data"
    env = {"KNOTEN_ADMIN_TOKEN": TOKEN, "KNOTEN_WEBRTC_WORKERS": "1"}
    first = service_factory(data_dir=data, **env)
    port = int(first.base_url.rsplit(":", 1)[1])
    await wait_healthy(first)
    async with _api(first) as api:
        room = await get_json(api, "/api/v1/rooms/1")
        start = datetime.now(ZoneInfo(room["timezone"])).replace(microsecond=0, tzinfo=None)
        seminar = {"title": "Neustart mitten im Termin", "room_id": 1, "record": True,
                   "start": (start + timedelta(minutes=2)).isoformat(),
                   "end": (start + timedelta(hours=1)).isoformat()}  # fmt: skip
        async with api.post("/api/v1/seminars", json=seminar) as response:
            assert response.status == 201, await response.text()
            occurrence_id = (await response.json())["occurrences"][0]["id"]
        async with api.post(f"/api/v1/occurrences/{occurrence_id}/start") as response:
            assert response.status == 200, await response.text()
        await wait_for(lambda: _camera_on_air(api, occurrence_id), 20, "camera on air")
        on_air_at = time.monotonic()
        await asyncio.sleep(6)
    old_children = children_of(first.process.pid)
    first.process.send_signal(sig)
    killed_at = time.monotonic()
    await asyncio.to_thread(first.process.wait, 15)
    # Whatever FFmpeg the dead service left ends by itself (its feeds are gone); none may linger.
    with contextlib.suppress(AssertionError):
        await wait_for(lambda: not any(is_alive(p) for p in old_children), 5, "orphans gone")
    orphans = [p for p in old_children if is_alive(p)]
    kill_all(orphans)

    restarted_at = time.monotonic()
    second = service_factory(data_dir=data, port=port, **env)
    try:
        await wait_healthy(second)
        healthy_after = time.monotonic() - restarted_at
        async with _api(second) as api:
            await wait_for(lambda: _camera_on_air(api, occurrence_id), 20, "camera on air again")
            live_after = time.monotonic() - restarted_at
            back_at = time.monotonic()
            await asyncio.sleep(6)
            # The recording ends when the stop is asked for; the reply comes only after the
            # session's processes have been torn down, which is no part of the date.
            stopped_at = time.monotonic()
            async with api.post(f"/api/v1/occurrences/{occurrence_id}/stop") as response:
                assert response.status == 200, await response.text()
            stop_took = time.monotonic() - stopped_at
            await wait_for(
                lambda: _finished(api, occurrence_id), 60, "the recording finalized", 0.3
            )
            listed = await _recordings(api, occurrence_id)
    finally:
        second.process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(second.process.wait, 15)
    off_air = back_at - killed_at
    wall = stopped_at - on_air_at
    assert len(listed) == 1, f"one date, one archive entry: {listed}"
    recording = listed[0]
    assert recording["status"] == "available", recording
    loss = wall - recording["duration_s"]
    print(
        f"{sig.name}: healthy {healthy_after:.2f} s and live {live_after:.2f} s after the restart; "
        f"off air {off_air:.2f} s (down {restarted_at - killed_at:.2f} s); recording "
        f"{recording['duration_s']:.2f} s of {wall:.2f} s on air: lost {loss:.2f} s; "
        f"orphans of the old service: {len(orphans)}; the stop took {stop_took:.2f} s"
    )
    assert orphans == [], "FFmpeg of the dead service must end by itself"
    assert live_after <= 5.0, f"live again {live_after:.2f} s after the restart"
    assert loss <= off_air + 1.0, f"lost {loss:.2f} s, off air {off_air:.2f} s"


async def _finished(api: aiohttp.ClientSession, occurrence_id: int) -> bool:
    listed = await _recordings(api, occurrence_id)
    return bool(listed) and all(r["status"] in ("available", "failed") for r in listed)
