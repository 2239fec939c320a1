"""The FFmpeg supervisor pushes Knoten's test pattern to a real nginx-rtmp partner, and the
partner receives H.264 + AAC at the profile's size."""

from __future__ import annotations

import asyncio

import pytest

from streaming.ffmpeg.spec import PROFILES, FfmpegSpec, Output, TestPattern, build_argv
from streaming.ffmpeg.supervisor import FfmpegSupervisor, ProcessState
from streaming.ffmpeg.tools import ffprobe_json

pytestmark = pytest.mark.slow


async def test_supervised_push_reaches_partner(nginx_partner) -> None:
    profile = PROFILES["480p"]
    url = nginx_partner.url("knoten-test")
    spec = FfmpegSpec(
        name="partner-push",
        input=TestPattern(width=640, height=360, fps=25),
        profile=profile,
        outputs=(Output(url, "flv"),),
    )
    supervisor = FfmpegSupervisor(spec.name, build_argv(spec))
    await supervisor.start()
    try:
        await supervisor.wait_state(ProcessState.RUNNING, timeout=15)
        probe = await ffprobe_json(url, timeout=15)
        await asyncio.sleep(1.0)
        assert supervisor.progress is not None and supervisor.progress.frame > 0
        assert not any("knoten-test" in line for line in supervisor.stderr_tail)
    finally:
        await supervisor.aclose()
    assert supervisor.state is ProcessState.STOPPED
    streams = {s["codec_type"]: s for s in probe["streams"]}
    assert streams["video"]["codec_name"] == "h264"
    assert (streams["video"]["width"], streams["video"]["height"]) == (
        profile.width,
        profile.height,
    )
    assert streams["audio"]["codec_name"] == "aac"
    recorded = nginx_partner.recordings()
    assert recorded, "the partner recorded nothing"
    flv = await ffprobe_json(recorded[0])
    assert {s["codec_name"] for s in flv["streams"]} == {"h264", "aac"}
    assert float(flv["format"]["duration"]) > 1.0
