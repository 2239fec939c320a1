"""Power loss mid-seminar: the recording process is killed with SIGKILL 5 s into a recording
(its FFmpeg too, as a power cut would); the next start of the service recovers the recording
from the segments on disk, finalizes it and lists it with ``recovered: true``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from tests.support.app_fixtures import make_config, serve
from tests.support.ports import free_tcp_port

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("no_orphan_ffmpeg")]
REPO = Path(__file__).resolve().parents[2]


async def test_kill_9_loses_at_most_a_segment_and_is_recovered(tmp_path, feed, ffprobe):
    data = tmp_path / "data"
    data.mkdir()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.recordings.recorder_proc", str(data), str(feed),
        cwd=REPO, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    ffmpeg_pid = None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        started = json.loads(line)
        ffmpeg_pid = started["ffmpeg_pid"]
        began = time.monotonic()
        await asyncio.sleep(5.0)
        proc.kill()  # SIGKILL: no finally blocks, no graceful FFmpeg stop
        os.killpg(ffmpeg_pid, signal.SIGKILL)  # the power cut takes FFmpeg down too
        await proc.wait()
        killed_after = time.monotonic() - began
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        if ffmpeg_pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(ffmpeg_pid, signal.SIGKILL)
    recording_id = started["recording_id"]
    parts = data / "recordings" / f"{recording_id:08d}" / "parts"
    assert any(p.name.endswith(".ts") for p in parts.iterdir()), "no completed segment on disk"

    # "Restart": the real app, whose start-up recovery finds the unfinished recording.
    config = make_config(data, free_tcp_port())
    async with serve(config) as running:
        import aiohttp

        headers = {"Authorization": f"Bearer {running.token}"}
        async with aiohttp.ClientSession(base_url=running.base_url, headers=headers) as api:
            for _ in range(100):
                async with api.get(f"/api/v1/recordings/{recording_id}") as response:
                    body = await response.json()
                if body["status"] in ("available", "failed"):
                    break
                await asyncio.sleep(0.1)
            assert body["status"] == "available", body
            assert body["recovered"] is True
            assert body["duration_s"] >= 3.0, (body["duration_s"], killed_after)
            async with api.get(body["media_url"]) as response:
                assert response.status == 200
                assert response.headers["Content-Type"] == "video/mp4"
    media = data / "recordings" / f"{recording_id:08d}" / "recording.mp4"
    probe = await ffprobe(media)
    assert sorted(s["codec_name"] for s in probe["streams"]) == ["aac", "h264"]
    assert float(probe["format"]["duration"]) >= 3.0
    assert not parts.exists()
