"""The real Debian ffmpeg/ffprobe: argv from specs actually runs, probes, and stops cleanly."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import av
import pytest

from streaming.errors import FfmpegJobFailed, FfmpegNotFound, FfprobeFailed, InvalidMediaUrl
from streaming.ffmpeg.oneshot import run_to_completion
from streaming.ffmpeg.registry import FfmpegProcesses
from streaming.ffmpeg.spec import FfmpegSpec, Output, TestPattern, VideoProfile, build_argv
from streaming.ffmpeg.supervisor import FfmpegSupervisor, ProcessState, RestartPolicy
from streaming.ffmpeg.tools import ffmpeg_version, ffprobe_json
from streaming.live.plan import CameraSource, SessionPlan
from streaming.webrtc.aiortc_boundary import h264_split_bitstream

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(60),
    pytest.mark.usefixtures("no_orphan_ffmpeg"),
]

Probe = Callable[..., Awaitable[dict[str, Any]]]
SMALL = VideoProfile("small", 320, 240, 30, 400, audio_kbps=64)
ONE_SHOT = RestartPolicy(restart_on_clean_exit=False, max_restarts=0, grace_s=3.0)


def streams(info: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["codec_type"]: s for s in info["streams"]}


async def test_test_pattern_to_mpegts(tmp_path: Path, ffprobe: Probe) -> None:
    target = tmp_path / "pattern.ts"
    spec = FfmpegSpec(
        "pattern", TestPattern(320, 240), SMALL, (Output(target, "mpegts"),), duration_s=2
    )
    sup = FfmpegSupervisor(spec.name, build_argv(spec), policy=ONE_SHOT)
    await sup.start()
    await sup.wait_state(ProcessState.STOPPED, timeout=20)
    assert sup.last_exit_code == 0, sup.stderr_tail
    assert sup.progress is not None and sup.progress.ended
    assert sup.progress.frame is not None and sup.progress.frame >= 55
    # -re paced the lavfi sources: a live push runs at 1x, not as fast as the CPU allows.
    assert sup.progress.speed is not None and 0.5 < sup.progress.speed < 1.5
    info = await ffprobe(target)
    video, audio = streams(info)["video"], streams(info)["audio"]
    assert (video["codec_name"], video["width"], video["height"]) == ("h264", 320, 240)
    assert video["pix_fmt"] == "yuv420p" and video["profile"] == "Main"
    assert (audio["codec_name"], audio["sample_rate"], audio["channels"]) == ("aac", "48000", 2)
    assert float(info["format"]["duration"]) == pytest.approx(2.0, abs=0.25)


async def test_live_pattern_stops_with_sigint_and_tee_writes_both(
    tmp_path: Path, ffprobe: Probe
) -> None:
    """Real ffmpeg exits 255 on our SIGINT (clean stop) and finishes both tee outputs."""
    ts, flv = tmp_path / "live.ts", tmp_path / "live.flv"
    spec = FfmpegSpec(
        "live", TestPattern(320, 240), SMALL, (Output(ts, "mpegts"), Output(flv, "flv"))
    )
    sup = FfmpegSupervisor(spec.name, build_argv(spec), policy=RestartPolicy(grace_s=5))
    await sup.start()
    await sup.wait_state(ProcessState.RUNNING, timeout=15)
    while ((sup.progress and sup.progress.out_time_s) or 0) < 1.0:
        await asyncio.sleep(0.1)
    await sup.stop()
    assert sup.state is ProcessState.STOPPED
    assert sup.last_exit_code == 255 and sup.last_error is None
    for path in (ts, flv):
        info = await ffprobe(path)
        assert set(streams(info)) == {"video", "audio"}, path
        assert float(info["format"]["duration"]) > 0.8


async def test_existing_output_is_not_overwritten(tmp_path: Path) -> None:
    target = tmp_path / "exists.ts"
    target.write_bytes(b"keep me")
    spec = FfmpegSpec(
        "n", TestPattern(320, 240), SMALL, (Output(target, "mpegts"),), duration_s=0.5
    )
    sup = FfmpegSupervisor(spec.name, build_argv(spec), policy=ONE_SHOT)
    await sup.start()
    await sup.wait_state(ProcessState.FAILED, timeout=10)
    assert target.read_bytes() == b"keep me"
    assert any("already exists" in line for line in sup.stderr_tail)


async def test_master_encodes_each_frame_in_one_slice(tmp_path: Path) -> None:
    """The live pipeline's master (what WebRTC viewers receive) has one slice per frame, so a
    frame leaves in one segmented send per viewer; zerolatency alone slices per thread."""
    plan = SessionPlan(1, "t", "18:00", CameraSource("testsrc"), tmp_path, tmp_path)
    master = plan.master_profile()
    assert master.one_slice and master.h264_profile == "baseline"
    target = tmp_path / "master.ts"
    spec = FfmpegSpec(
        "master", TestPattern(1280, 720), master, (Output(target, "mpegts"),), duration_s=1
    )
    await run_to_completion("master", build_argv(spec), processes=FfmpegProcesses())
    slices_per_frame = []
    with av.open(str(target)) as container:
        for packet in container.demux(video=0):
            if packet.size:
                nals = h264_split_bitstream(bytes(packet))
                slices_per_frame.append(sum(1 for nal in nals if nal[0] & 0x1F in (1, 5)))
    assert len(slices_per_frame) >= 25
    assert set(slices_per_frame) == {1}


async def test_run_to_completion(tmp_path: Path, ffprobe: Probe) -> None:
    """A one-shot job: done on exit 0, registered while it runs, gone from the registry after."""
    target = tmp_path / "job.ts"
    spec = FfmpegSpec(
        "job", TestPattern(160, 120), VideoProfile("tiny", 160, 120, 30, 200),
        (Output(target, "mpegts"),), duration_s=0.5,
    )  # fmt: skip
    processes = FfmpegProcesses()
    job = asyncio.create_task(run_to_completion("job", build_argv(spec), processes=processes))
    while "job" not in processes and not job.done():
        await asyncio.sleep(0.01)
    await job
    assert "job" not in processes
    assert set(streams(await ffprobe(target))) == {"video", "audio"}
    await processes.aclose()
    with pytest.raises(FfmpegJobFailed, match="job: not started"):
        await run_to_completion("job", build_argv(spec), processes=processes)


async def test_run_to_completion_failures(tmp_path: Path) -> None:
    """A failed exit names the job and its stderr; a timeout kills the process (no orphan)."""
    target = tmp_path / "exists.ts"
    target.write_bytes(b"keep me")
    once = FfmpegSpec(
        "n", TestPattern(160, 120), SMALL, (Output(target, "mpegts"),), duration_s=0.5
    )
    with pytest.raises(FfmpegJobFailed, match=r"n failed \(exit 1\): .*already exists"):
        await run_to_completion("n", build_argv(once))
    endless = FfmpegSpec("e", TestPattern(160, 120), SMALL, (Output(Path("/dev/null"), "null"),))
    with pytest.raises(FfmpegJobFailed, match="e: no result after 1 s"):
        await run_to_completion("e", build_argv(endless), timeout=1.0)


async def test_ffmpeg_version() -> None:
    assert re.fullmatch(r"\d+\.\d+[\w.+~-]*", await ffmpeg_version())
    with pytest.raises(FfmpegNotFound):
        await ffmpeg_version("/nonexistent/ffmpeg")


async def test_ffprobe_refuses_and_reports(tmp_path: Path) -> None:
    with pytest.raises(InvalidMediaUrl):
        await ffprobe_json("file:/etc/passwd")
    with pytest.raises(ValueError):
        await ffprobe_json(Path("relative.ts"))
    with pytest.raises(FfprobeFailed, match="exit 1"):
        await ffprobe_json(tmp_path / "missing.ts")


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """A TCP server on loopback that accepts and then says nothing (a hung RTMP partner)."""
    writers: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in writers:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_ffprobe_is_killed_on_timeout(silent_server: int) -> None:
    with pytest.raises(FfprobeFailed, match="timed out") as info:
        await ffprobe_json(f"rtmp://127.0.0.1:{silent_server}/live/SECRETKEY", timeout=1)
    assert "SECRETKEY" not in str(info.value)
    # no_orphan_ffmpeg checks that the ffprobe process is gone.
