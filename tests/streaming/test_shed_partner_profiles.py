"""Load shedding's last level with real FFmpeg and two nginx-rtmp partners: the load monitor is
driven through its levels (escalation and recovery shortened to one sample each, the load itself
is what tests/faults/test_load_shedding.py makes with a CPU hog). At level 3 the partner on its
own profile (480p) gets a reduced one (480p at 15 fps, probed at the partner), the partner on
the master's profile keeps its connection untouched; back at normal the full profile returns."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from streaming.ffmpeg.registry import FfmpegProcesses
from streaming.ffmpeg.tools import ffprobe_json
from streaming.live.plan import CameraSource, PartnerTarget, SessionPlan
from streaming.live.session import LiveSession
from streaming.load_monitor import LoadMonitor
from streaming.shedding import ShedLevel, ShedPolicy

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
HIGH_LAG_S, LOW_LAG_S = 0.5, 0.0


async def _wait(predicate, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)
    return time.monotonic() - started


def _video(probe: dict) -> dict:
    return next(s for s in probe["streams"] if s["codec_type"] == "video")


def _fps(stream: dict) -> float:
    num, den = stream["avg_frame_rate"].split("/")
    return int(num) / int(den)


async def _probe_latest(partner, at_least: int) -> dict:
    """The video of the partner's newest connection (nginx records one file per publish)."""
    await _wait(lambda: len(partner.recordings()) >= at_least, 20, f"connection {at_least}")
    await asyncio.sleep(3)  # a few seconds of it, so the frame rate is measured, not guessed
    return _video(await ffprobe_json(sorted(partner.recordings())[-1]))


async def test_level_3_reduces_the_partner_only_profile_and_recovery_restores_it(
    tmp_path: Path, nginx_partner_factory
) -> None:
    own, on_master = await nginx_partner_factory(), await nginx_partner_factory()
    plan = SessionPlan(
        occurrence_id=31,
        title="Lastabwurf",
        start_label="18:00",
        camera=CameraSource("testsrc"),
        run_dir=tmp_path / "run",
        hls_dir=tmp_path / "hls",
        partners=(
            PartnerTarget(1, "Campus", "rtmp", "480p", own.url("campus")),
            PartnerTarget(2, "Innovationszentrum", "rtmp", "720p", on_master.url("iz")),
        ),
    )
    processes = FfmpegProcesses()
    session = LiveSession(plan, processes)
    registry = CollectorRegistry()
    monitor = LoadMonitor(
        processes,
        lambda: 0,
        registry,
        policy=ShedPolicy(escalate_after_s=0, recover_after_s=0),
        on_partner_profiles=session.reduce_partner_profiles,
    )
    try:
        await session.start(live=True)
        await _wait(lambda: all(o.state == "live" for o in session.outputs_status()), 30, "live")
        before = _video(await ffprobe_json(own.url("campus"), timeout=15))
        master_pid = session.supervisor("partner-2").pid

        levels = [monitor.sample_once(HIGH_LAG_S) for _ in range(3)]
        metrics = generate_latest(registry).decode()
        reduced_after = await _wait(
            lambda: (
                session.partners_reduced
                and all(o.state == "live" for o in session.outputs_status())
                and len(own.recordings()) >= 2
            ),
            30,
            "reduced partner back",
        )
        reduced = await _probe_latest(own, 2)
        status = {o.partner_id: o for o in session.outputs_status()}

        for _ in range(4):  # down one level per sample, then the profiles come back
            monitor.sample_once(LOW_LAG_S)
        assert monitor.policy.level is ShedLevel.NORMAL and not monitor.policy.partners_reduced
        await _wait(lambda: not session.partners_reduced, 10, "restored")
        restored = await _probe_latest(own, 3)
        master_pid_after = session.supervisor("partner-2").pid
    finally:
        await monitor.aclose()
        await session.aclose()
        await processes.aclose()
    print(
        f"480p partner: {before['width']}x{before['height']} {_fps(before):.0f} fps → reduced "
        f"{reduced['width']}x{reduced['height']} {_fps(reduced):.0f} fps, back on air "
        f"{reduced_after:.1f} s after level 3 → restored {_fps(restored):.0f} fps; master "
        f"partner connections {len(on_master.recordings())}"
    )
    assert levels == [1, 2, 3]
    assert "knoten_load_shed_level 3.0" in metrics
    assert "knoten_partner_profiles_reduced 1.0" in metrics
    assert (before["width"], before["height"], round(_fps(before))) == (854, 480, 30)
    assert (reduced["width"], reduced["height"], round(_fps(reduced))) == (854, 480, 15)
    assert status[1].reduced and not status[2].reduced
    assert round(_fps(restored)) == 30
    # The master-profile partner shares the recording's encode: never touched.
    assert master_pid == master_pid_after and status[2].restarts == 0
    assert len(on_master.recordings()) == 1
    assert len(processes) == 0
