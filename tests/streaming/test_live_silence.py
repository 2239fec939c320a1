"""Cameras without sound still carry the remote voices: a room whose camera is a video-only
file gets Knoten's silence at ingest, so the mix of the remote-audio bus works; a 1 kHz
'speaker' on the bus is heard at the nginx-rtmp partner only while it speaks. A file camera
with its own sound keeps it (the silence is only a second track nobody reads)."""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
from pathlib import Path

import pytest

from streaming.dialog.pcm import tone_frames
from streaming.ffmpeg.registry import FfmpegProcesses
from streaming.live.plan import CameraSource, PartnerTarget, SessionPlan
from streaming.live.session import LiveSession
from tests.streaming.test_live_mix import (
    ROOM_HZ,
    VOICE_HZ,
    _recorder,
    _speak,
    _tone_run,
    _wait,
    band_levels,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]

TONE_S = 3.0


def _clip(path: Path, audio: bool) -> Path:
    """A 30 s 640×360 clip, with the room's 440 Hz or without any audio stream."""
    sound = ["-f", "lavfi", "-i", f"sine=frequency={ROOM_HZ}:duration=30"] if audio else []
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=30", *sound,
         "-c:v", "libx264", "-preset", "ultrafast", "-g", "30",
         *(["-c:a", "aac"] if audio else []), str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path


def _audio_streams(path: Path) -> int:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "a", "-show_entries", "stream=index",
         "-of", "json", str(path)],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    return len(json.loads(out)["streams"])


@pytest.mark.parametrize("room_sound", [False, True], ids=["video-only", "with-sound"])
async def test_file_camera_carries_the_remote_voice(
    tmp_path: Path, nginx_partner, room_sound: bool
) -> None:
    clip = _clip(tmp_path / "room.mp4", audio=room_sound)
    plan = SessionPlan(
        occurrence_id=51,
        title="Gespräch",
        start_label="18:00",
        camera=CameraSource("file", path=clip),
        run_dir=tmp_path / "run",
        hls_dir=tmp_path / "hls",
        partners=(PartnerTarget(1, "Campus", "rtmp", "720p", nginx_partner.url("voice")),),
        speaker_tiles=False,
    )
    processes = FfmpegProcesses()
    session = LiveSession(plan, processes)
    recording = tmp_path / "master.ts"
    try:
        await session.start(live=True)
        recorder = _recorder("rec", session.master_feed, recording)
        await processes.start(recorder)
        await _wait(lambda: session.outputs_status()[0].state == "live", 30, "partner live")
        await _wait(lambda: session.source_status().on_air == "camera", 15, "camera on air")
        await asyncio.sleep(3)
        await _speak(session, tone_frames(VOICE_HZ, TONE_S))
        await asyncio.sleep(3.5)
        await processes.remove(recorder.name)
        restarts = {s.name: s.restarts for s in processes}
    finally:
        await session.aclose()
        await processes.aclose()
    assert not any(restarts.values()), restarts

    await nginx_partner.stop()
    flv = nginx_partner.recordings()[0]
    for media in (flv, recording):
        assert _audio_streams(media) == 1, "one audio track: the room's or the silence"
        voice = band_levels(media, VOICE_HZ)
        first, last = _tone_run(voice)
        print(f"{media.name}: 1 kHz loud in windows {first}..{last} of {len(voice)}")
        assert TONE_S / 0.5 - 1 <= last - first + 1 <= TONE_S / 0.5 + 2, voice
        assert first >= 2 and last <= len(voice) - 3, "quiet before and after the voice"
        room = band_levels(media, ROOM_HZ)
        if room_sound:
            assert min(room[1:-1]) > -35, "the room's own sound is kept"
        else:
            assert statistics.median(room) < -60, "silence where the room has no sound"
