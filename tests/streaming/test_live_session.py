"""A live session against two real nginx-rtmp partners: encode once, every partner receives its
profile, one partner's outage disturbs nobody, the camera is replaced by the slate without a
partner reconnect, and stopping leaves nothing behind."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from streaming.ffmpeg.registry import FfmpegProcesses
from streaming.ffmpeg.tools import ffprobe_json
from streaming.live.plan import CameraSource, PartnerTarget, SessionPlan
from streaming.live.session import LiveSession
from tests.support.media_checks import largest_video_gap

pytestmark = pytest.mark.slow


async def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def _running(
    plan: SessionPlan, live: bool
) -> AsyncIterator[tuple[LiveSession, FfmpegProcesses]]:
    """A started session, stopped (and its processes reaped) when the block ends."""
    processes = FfmpegProcesses()
    session = LiveSession(plan, processes)
    try:
        await session.start(live=live)
        yield session, processes
    finally:
        await session.aclose()
        await processes.aclose()


def _streams(probe: dict) -> dict[str, dict]:
    return {s["codec_type"]: s for s in probe["streams"]}


async def test_two_partners_receive_their_profiles(tmp_path: Path, nginx_partner_factory) -> None:
    partner_a = await nginx_partner_factory()
    partner_b = await nginx_partner_factory()
    plan = SessionPlan(
        occurrence_id=7,
        title="Löten für Einsteiger",
        start_label="18:00",
        camera=CameraSource("testsrc"),
        run_dir=tmp_path / "run",
        hls_dir=tmp_path / "hls",
        partners=(
            PartnerTarget(1, "Innovationszentrum", "rtmp", "720p", partner_a.url("izkey")),
            PartnerTarget(2, "Campus", "rtmp", "480p", partner_b.url("campuskey")),
        ),
    )
    async with _running(plan, live=True) as (session, processes):
        # Started once the date has begun: the slate never says "beginnt um" (it said so until
        # the camera came up, e.g. after a restart mid-date).
        slate_text = (plan.run_dir / "slate.txt").read_text()
        assert "Technische Störung" in slate_text and "beginnt um" not in slate_text
        await _wait(lambda: all(o.state == "live" for o in session.outputs_status()), 20, "outputs")
        probe_a, probe_b = await asyncio.gather(
            ffprobe_json(partner_a.url("izkey"), timeout=15),
            ffprobe_json(partner_b.url("campuskey"), timeout=15),
        )
        status = session.source_status()
        assert status.state == "live" and status.on_air == "camera"
        assert (status.width, status.height) == (1280, 720)
    a, b = _streams(probe_a), _streams(probe_b)
    assert (a["video"]["codec_name"], a["video"]["width"], a["video"]["height"]) == (
        "h264",
        1280,
        720,
    )
    assert (b["video"]["codec_name"], b["video"]["width"], b["video"]["height"]) == (
        "h264",
        854,
        480,
    )
    assert a["audio"]["codec_name"] == b["audio"]["codec_name"] == "aac"
    # Encode once: the camera, the slate and one 480p encode — not one encode per partner.
    for recorded in (partner_a.recordings(), partner_b.recordings()):
        assert recorded
        flv = await ffprobe_json(recorded[0])
        assert {s["codec_name"] for s in flv["streams"]} == {"h264", "aac"}
    assert len(processes) == 0


def _push_camera(url: str) -> subprocess.Popen[bytes]:
    """A camera we control: the test pattern pushed into an nginx-rtmp 'camera' server."""
    return subprocess.Popen(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
         "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
         "-re", "-f", "lavfi", "-i", "sine=frequency=880:sample_rate=48000",
         "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-g", "30",
         "-c:a", "aac", "-f", "flv", url],
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


async def test_camera_loss_puts_slate_on_air_without_partner_reconnect(
    tmp_path: Path, nginx_partner_factory
) -> None:
    camera_server = await nginx_partner_factory()
    partner = await nginx_partner_factory()
    camera_url = camera_server.url("kamera")
    pusher = _push_camera(camera_url)
    plan = SessionPlan(
        occurrence_id=8,
        title="Kameraausfall",
        start_label="18:00",
        camera=CameraSource("rtmp", url=camera_url),
        run_dir=tmp_path / "run",
        hls_dir=tmp_path / "hls",
        partners=(PartnerTarget(1, "Campus", "rtmp", "720p", partner.url("campus")),),
    )
    try:
        async with _running(plan, live=True) as (session, _):
            await _wait(lambda: session.source_status().on_air == "camera", 20, "camera on air")
            await _wait(lambda: session.outputs_status()[0].state == "live", 20, "partner live")
            await asyncio.sleep(2)

            pusher.kill()
            pusher.wait()
            lost_at = time.monotonic()
            await _wait(lambda: session.source_status().on_air == "slate", 5, "slate on air")
            slate_after = time.monotonic() - lost_at
            assert session.source_status().state == "lost"
            await asyncio.sleep(3)

            pusher = _push_camera(camera_url)
            await _wait(lambda: session.source_status().on_air == "camera", 25, "camera back")
            await asyncio.sleep(2)
            output = session.outputs_status()[0]
    finally:
        pusher.kill()
        pusher.wait()
    print(f"slate on air {slate_after:.2f} s after the camera was lost")
    assert slate_after <= 3.0, f"slate took {slate_after:.1f} s"
    assert output.state == "live" and output.restarts == 0, output
    recorded = partner.recordings()
    assert len(recorded) == 1, "the partner connection must never drop"
    assert largest_video_gap(recorded[0]) <= 1.0


async def test_lead_in_slate_then_camera(tmp_path: Path, nginx_partner) -> None:
    plan = SessionPlan(
        occurrence_id=9,
        title="Vortrag: 3D-Druck; Teil 1 %{localtime}",
        start_label="18:00",
        camera=CameraSource("testsrc"),
        run_dir=tmp_path / "run",
        hls_dir=tmp_path / "hls",
        partners=(PartnerTarget(1, "Campus", "rtmp", "720p", nginx_partner.url("lead")),),
    )
    async with _running(plan, live=False) as (session, _):
        await _wait(lambda: session.outputs_status()[0].state == "live", 20, "partner live")
        slate_text = (plan.run_dir / "slate.txt").read_text()
        assert slate_text.startswith("Vortrag: 3D-Druck; Teil 1 %{localtime}")
        assert "beginnt um 18:00" in slate_text
        status = session.source_status()
        assert status.on_air == "slate" and status.state == "standby"
        await session.set_live(True)
        await _wait(lambda: session.source_status().on_air == "camera", 5, "camera on air")
        assert "Technische Störung" in (plan.run_dir / "slate.txt").read_text()
        output = session.outputs_status()[0]
    assert output.restarts == 0
    assert len(nginx_partner.recordings()) == 1, "lead-in to live without a reconnect"


async def test_file_camera_loops_without_losing_the_picture(tmp_path: Path) -> None:
    """A 2 s clip as the room's camera plays on a loop: the camera stays on air across the loop
    points (no slate, no restart)."""
    clip = tmp_path / "media" / "intro.mp4"
    clip.parent.mkdir()
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin",
         "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
         "-f", "lavfi", "-i", "sine=frequency=500:sample_rate=48000", "-t", "2",
         "-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac", str(clip)],
        check=True, timeout=60,
    )  # fmt: skip
    plan = SessionPlan(
        occurrence_id=10,
        title="Film",
        start_label="18:00",
        camera=CameraSource("file", path=clip),
        run_dir=tmp_path / "run",
        hls_dir=tmp_path / "hls",
        extra_feeds=(),
    )
    async with _running(plan, live=True) as (session, _):
        await _wait(lambda: session.source_status().on_air == "camera", 15, "camera on air")
        switches = session.switches
        on_air = []
        for _ in range(25):  # 5 s: two loop points of the 2 s clip
            await asyncio.sleep(0.2)
            on_air.append(session.source_status().on_air)
        camera = session.supervisor("camera")
        assert camera is not None
        restarts = camera.restarts
    assert set(on_air) == {"camera"}
    assert session.switches == switches, "no switch to the slate at a loop point"
    assert restarts == 0
