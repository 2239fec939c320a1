"""Faults on air, with a real LiveSession, real FFmpeg and real nginx-rtmp partners, each
asserting its figure: the camera's encoder killed → the slate within 2 s, the camera back, the
recording short of at most 1.5 s; one partner's FFmpeg killed → that partner back within 3 s, the
other partner and the recording untouched; a partner's server down for 20 s → reconnected within
2 s of its return (the supervisor's ready probe cuts the backoff short)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from streaming.ffmpeg.registry import FfmpegProcesses
from streaming.ffmpeg.spec import FeedInput, FfmpegSpec, Output, build_argv
from streaming.ffmpeg.supervisor import FfmpegSupervisor, ProcessState
from streaming.ffmpeg.tools import ffprobe_json
from streaming.live.plan import CameraSource, PartnerTarget, SessionPlan
from streaming.live.session import OUTPUT_POLICY, LiveSession
from tests.faults.helpers import wait_for
from tests.support.media_checks import largest_video_gap

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(120),
    pytest.mark.usefixtures("no_orphan_ffmpeg"),
]


@contextlib.asynccontextmanager
async def _on_air(plan: SessionPlan, recording: Path) -> AsyncIterator[tuple[LiveSession, float]]:
    """A live session plus a stand-in recorder (a copy of the master feed into one file), and
    when the recorder started."""
    processes = FfmpegProcesses()
    session = LiveSession(plan, processes)
    spec = FfmpegSpec("recorder", FeedInput(session.master_feed), None,
                      (Output(recording, "mpegts"),))  # fmt: skip
    recorder = FfmpegSupervisor("recorder", build_argv(spec), policy=OUTPUT_POLICY)
    try:
        await session.start(live=True)
        await processes.start(recorder)
        yield session
    finally:
        await processes.remove("recorder")
        await session.aclose()
        await processes.aclose()


async def _publishing(partner, key: str) -> bool:  # type: ignore[no-untyped-def]
    try:
        return key in await partner.publishing()
    except OSError:  # the stat page of a server still starting
        return False


def _kill_group(supervisor: FfmpegSupervisor | None) -> None:
    assert supervisor is not None and supervisor.pid is not None
    os.killpg(supervisor.pid, signal.SIGKILL)


async def _duration(path: Path) -> float:
    return float((await ffprobe_json(path))["format"]["duration"])


def _plan(tmp_path: Path, *partners: PartnerTarget) -> SessionPlan:
    return SessionPlan(
        occurrence_id=40, title="Störungen", start_label="18:00",
        camera=CameraSource("testsrc"), run_dir=tmp_path / "run", hls_dir=tmp_path / "hls",
        partners=partners, extra_feeds=(),
    )  # fmt: skip


async def test_encoder_and_partner_killed(tmp_path: Path, nginx_partner_factory) -> None:
    partner_a, partner_b = await nginx_partner_factory(), await nginx_partner_factory()
    plan = _plan(
        tmp_path,
        PartnerTarget(1, "Innovationszentrum", "rtmp", "720p", partner_a.url("iz")),
        PartnerTarget(2, "Campus", "rtmp", "720p", partner_b.url("campus")),
    )
    recording = tmp_path / "recording.ts"
    async with _on_air(plan, recording) as session:
        outputs = session.outputs_status
        await wait_for(lambda: session.source_status().on_air == "camera", 20, "camera on air")
        await wait_for(lambda: all(o.state == "live" for o in outputs()), 20, "partners live")
        await asyncio.sleep(3)

        # What the recording holds so far, to compare with what it holds after the faults.
        before_at, before = time.monotonic(), await _duration(recording)
        # 1. The camera's encoder dies: the slate covers, the camera comes back by itself.
        _kill_group(session.supervisor("camera"))
        killed = time.monotonic()
        slate_after = await wait_for(
            lambda: session.source_status().on_air == "slate", 5, "slate on air", 0.01
        )
        camera_back_after = slate_after + await wait_for(
            lambda: session.source_status().on_air == "camera", 20, "camera back"
        )
        await asyncio.sleep(2)

        # 2. One partner's FFmpeg dies: only that partner restarts.
        _kill_group(session.supervisor("partner-1"))
        killed = time.monotonic()
        await wait_for(lambda: outputs()[0].state != "live", 5, "partner 1 noticed", 0.01)
        partner_back_after = (
            time.monotonic()
            - killed
            + await wait_for(lambda: outputs()[0].state == "live", 10, "partner 1 back", 0.02)
        )
        await asyncio.sleep(2)
        a, b = outputs()
        after_at = time.monotonic()
    lost = (after_at - before_at) - (await _duration(recording) - before)
    gap = largest_video_gap(recording)
    print(
        f"encoder killed: slate {slate_after:.2f} s, camera back {camera_back_after:.2f} s; "
        f"partner killed: back {partner_back_after:.2f} s; the recording lost {lost:.2f} s, "
        f"largest gap {gap:.2f} s"
    )
    assert slate_after <= 2.0
    assert a.restarts == 1 and partner_back_after <= 3.0, a
    assert b.state == "live" and b.restarts == 0, b
    assert len(partner_b.recordings()) == 1, "the other partner never reconnected"
    assert largest_video_gap(partner_b.recordings()[0]) <= 1.0
    # The slate keeps the timeline continuous (no pts gap), so the loss is measured as time.
    assert gap <= 1.5 and lost <= 1.5, f"the recording lost {lost:.2f} s"


async def test_partner_server_down_20_s(tmp_path: Path, nginx_partner_factory) -> None:
    partner = await nginx_partner_factory(stat=True)
    plan = _plan(tmp_path, PartnerTarget(1, "Campus", "rtmp", "720p", partner.url("campus")))
    async with _on_air(plan, tmp_path / "recording.ts") as session:
        output = lambda: session.outputs_status()[0]  # noqa: E731
        await wait_for(lambda: output().state == "live", 20, "partner live")
        await partner.refuse()  # the partner's server is down
        await asyncio.sleep(20)
        assert output().state != "live", output()
        await partner.accept()
        # Reconnected is what the partner sees: our publisher on its stream again.
        back_after = await wait_for(lambda: _publishing(partner, "campus"), 30, "reconnected", 0.02)
        await wait_for(lambda: output().state == "live", 10, "the output live")
        supervisor = session.supervisor("partner-1")
        assert supervisor is not None and supervisor.state is ProcessState.RUNNING
    print(f"partner server down 20 s: reconnected {back_after:.2f} s after it returned "
          f"({output().restarts} attempts)")  # fmt: skip
    assert back_after <= 2.0
