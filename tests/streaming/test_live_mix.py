"""The remote-audio bus mixed into the master once: a 1 kHz 'speaker' fed into the bus for a few
seconds is heard at the partner and in the recording only while it is fed, the room's 440 Hz
test tone is there throughout at its own level, and no FFmpeg command changes or restarts when
the bus starts or stops carrying a voice."""

from __future__ import annotations

import asyncio
import re
import statistics
import subprocess
import time
from pathlib import Path

import pytest

from streaming.dialog.bus import FRAME_S, SAMPLE_RATE
from streaming.dialog.pcm import tone_frames
from streaming.ffmpeg.registry import FfmpegProcesses
from streaming.ffmpeg.spec import FeedInput, FfmpegSpec, Output, build_argv
from streaming.ffmpeg.supervisor import FfmpegSupervisor, ProcessState, RestartPolicy
from streaming.live.plan import CameraSource, PartnerTarget, SessionPlan
from streaming.live.session import LiveSession

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

WINDOW_S = 0.5
TONE_S = 3.0
VOICE_HZ = 1000
ROOM_HZ = 440  # TestPattern's tone


async def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def _speak(session: LiveSession, frames: list[bytes]) -> None:
    """Write one frame every 20 ms on the loop's clock, as a publisher's decoder would."""
    assert session.bus is not None
    loop = asyncio.get_running_loop()
    started = loop.time()
    for index, frame in enumerate(frames):
        session.bus.write(1, frame)
        await asyncio.sleep(max(0.0, started + (index + 1) * FRAME_S - loop.time()))
    session.bus.remove(1)


def band_levels(media: Path, hz: int) -> list[float]:
    """RMS level (dBFS) of the ``hz`` band in consecutive WINDOW_S windows of ``media``'s audio,
    measured by FFmpeg (two cascaded band-pass filters, then astats per window)."""
    out = media.with_name(f"{media.name}.{hz}.txt")
    band = f"bandpass=f={hz}:width_type=q:w=8"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(media),
         "-map", "0:a:0", "-af",
         f"aformat=channel_layouts=mono,{band},{band},"
         f"asetnsamples=n={int(SAMPLE_RATE * WINDOW_S)},astats=metadata=1:reset=1,"
         f"ametadata=mode=print:key=lavfi.astats.Overall.RMS_level:file={out}",
         "-f", "null", "-"],
        check=True, timeout=60,
    )  # fmt: skip
    values = re.findall(r"RMS_level=(\S+)", out.read_text())
    return [float(v) for v in values]


def _tone_run(levels: list[float]) -> tuple[int, int]:
    """(first, last) index of the windows clearly above the band's floor; asserts there is one
    contiguous run."""
    floor = statistics.median(levels)
    loud = [i for i, level in enumerate(levels) if level > floor + 20]
    assert loud, f"no window above the floor {floor:.1f} dB: {levels}"
    assert loud == list(range(loud[0], loud[-1] + 1)), f"not one run: {loud} in {levels}"
    return loud[0], loud[-1]


def _check_recording(media: Path) -> tuple[list[float], list[float], tuple[int, int]]:
    voice, room = band_levels(media, VOICE_HZ), band_levels(media, ROOM_HZ)
    first, last = _tone_run(voice)
    windows = last - first + 1
    print(
        f"{media.name}: 1 kHz above the floor in windows {first}..{last} of {len(voice)}; "
        f"1 kHz band {statistics.median(voice):.1f} dB outside, "
        f"{statistics.median(voice[first : last + 1]):.1f} dB during; "
        f"440 Hz band min {min(room[1:-1]):.1f} dB"
    )
    assert TONE_S / WINDOW_S - 1 <= windows <= TONE_S / WINDOW_S + 2, (first, last, voice)
    assert first >= 2 and last <= len(voice) - 3, "quiet before and after the voice"
    quiet = [level for i, level in enumerate(voice) if not first - 1 <= i <= last + 1]
    assert max(quiet) < min(voice[first + 1 : last]) - 20
    # The room is there all the time, voice or not (edges of the file aside).
    assert min(room[1:-1]) > -35, room
    return voice, room, (first, last)


def _recorder(name: str, feed: Path, target: Path) -> FfmpegSupervisor:
    spec = FfmpegSpec(name, FeedInput(feed), None, (Output(target, "mpegts"),), overwrite=True)
    return FfmpegSupervisor(name, build_argv(spec), policy=RestartPolicy(startup_timeout_s=30))


def _commands(processes: FfmpegProcesses) -> dict[str, tuple[int | None, int, bytes]]:
    """Every process of the session: pid, restarts and its command line as the kernel has it."""
    result = {}
    for supervisor in processes:
        pid = supervisor.pid
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes() if pid else b""
        result[supervisor.name] = (pid, supervisor.restarts, cmdline)
    return result


async def test_bus_voice_reaches_partner_and_recording_only_while_fed(
    tmp_path: Path, nginx_partner
) -> None:
    plan = SessionPlan(
        occurrence_id=31,
        title="Gespräch",
        start_label="18:00",
        camera=CameraSource("testsrc"),
        run_dir=tmp_path / "run",
        hls_dir=tmp_path / "hls",
        partners=(PartnerTarget(1, "Campus", "rtmp", "720p", nginx_partner.url("mix")),),
    )
    processes = FfmpegProcesses()
    session = LiveSession(plan, processes)
    mixed_ts, room_ts = tmp_path / "mixed.ts", tmp_path / "room.ts"
    voice = tone_frames(VOICE_HZ, TONE_S)
    try:
        await session.start(live=True)
        assert session.bus is not None
        recorders = [
            _recorder("rec-mixed", session.master_feed, mixed_ts),
            _recorder("rec-room", session.switched_feed, room_ts),
        ]
        for recorder in recorders:
            await processes.start(recorder)
        await _wait(lambda: session.outputs_status()[0].state == "live", 30, "partner live")
        await _wait(
            lambda: all(s.state is ProcessState.RUNNING for s in processes), 30, "all running"
        )
        await asyncio.sleep(3)  # before: the room alone
        before = _commands(processes)
        mixed_before = session.bus.frames_mixed
        await _speak(session, voice)
        # remove() drops what the speaker's jitter buffer still holds (up to its 6 frames when
        # the loop ran late under load): all but those were mixed.
        assert session.bus.frames_mixed - mixed_before >= len(voice) - session.bus.jitter_frames
        await asyncio.sleep(3.5)  # after: the room alone again
        after = _commands(processes)
        for recorder in recorders:
            await processes.remove(recorder.name)
    finally:
        await session.aclose()
        await processes.aclose()

    assert before == after, "no FFmpeg command may change or restart for the voice"
    assert all(restarts == 0 for _, restarts, _ in after.values()), after
    assert "occ31-mix" in after

    recorded = nginx_partner.recordings()
    assert len(recorded) == 1, "the partner connection never dropped"
    _check_recording(recorded[0])
    _, mixed_room, (first, _) = _check_recording(mixed_ts)

    # The room's own feed never carried the voice, and the mix leaves the room's level alone.
    room_voice = band_levels(room_ts, VOICE_HZ)
    assert max(room_voice) < statistics.median(room_voice) + 10, room_voice
    room_room = band_levels(room_ts, ROOM_HZ)
    untouched = statistics.median(mixed_room[1:first]), statistics.median(room_room[1:-1])
    assert abs(untouched[0] - untouched[1]) < 1.0, untouched
