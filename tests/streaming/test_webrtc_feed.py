"""The WebRTC feed reader against a real FFmpeg feed that goes away and comes back."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import subprocess
from pathlib import Path

import pytest

from streaming.ffmpeg.spec import OPUS_FRAME_MS, webrtc_feed_argv
from streaming.webrtc.feed import FeedReader
from streaming.webrtc.rtp.packets import MediaPacket
from tests.support.webrtc_feeds import feed_argv

pytestmark = pytest.mark.timeout(30)

# A small, short feed: what matters is the container and its timestamps, not the picture.
FEED = feed_argv("160x120", seconds=1.2, gop=15)


@contextlib.asynccontextmanager
async def serve_once(path: Path):  # type: ignore[no-untyped-def]
    """One FFmpeg serving the feed to one client on ``path``; reaped at the end."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    process = await asyncio.create_subprocess_exec(*FEED, f"unix:{path}", stdin=subprocess.DEVNULL)
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def test_reconnect_keeps_timestamps_increasing(tmp_path: Path) -> None:
    path = tmp_path / "feed.sock"
    video: list[MediaPacket] = []
    audio: list[MediaPacket] = []
    reader = FeedReader(path, asyncio.get_running_loop(), video.append, audio.append)
    reader.start()
    try:
        marks = []
        for _ in range(2):  # the pipeline restarts its FFmpeg: same path, new stream
            async with serve_once(path) as ffmpeg:
                await asyncio.wait_for(ffmpeg.wait(), 15)
            for _ in range(100):  # the last packets cross to the loop after EOF
                if not reader.connected.is_set():
                    break
                await asyncio.sleep(0.02)
            marks.append(len(video))
        assert reader.connections == 2
        assert 0 < marks[0] < marks[1], marks
        stamps = [p.timestamp for p in video]
        assert all(b > a for a, b in itertools.pairwise(stamps)), stamps
        # Each connection starts on the encoder's first frame, a keyframe, with SPS/PPS.
        assert video[0].is_keyframe and video[marks[0]].is_keyframe
        assert video[marks[0]].payloads[0][0] & 0x1F in (7, 24)  # SPS, or STAP-A holding it
        audio_stamps = [p.timestamp for p in audio]
        assert len(audio) > 20
        assert all(b > a for a, b in itertools.pairwise(audio_stamps))
    finally:
        await reader.aclose()
    assert not reader._thread.is_alive()


async def test_live_pipelines_webrtc_feed_has_40_ms_opus_frames(tmp_path: Path) -> None:
    """The live pipeline's WebRTC feed command against a real master: video copied, audio as
    Opus in 40 ms frames (half the packets per viewer of the usual 20 ms)."""
    master = tmp_path / "master.sock"
    output = tmp_path / "webrtc-in.sock"
    captured = tmp_path / "feed.ts"
    received = bytearray()

    async def collect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.extend(await reader.read())
        writer.close()

    server = await asyncio.start_unix_server(collect, path=str(output))
    async with serve_once(master):
        for _ in range(250):
            if master.exists():
                break
            await asyncio.sleep(0.02)
        argv = webrtc_feed_argv(master, output)
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
        )
        assert await asyncio.wait_for(process.wait(), 20) == 0
    server.close()
    await server.wait_closed()
    captured.write_bytes(received)
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
         "stream=codec_name:packet=duration_time", "-of", "json", str(captured)],
        capture_output=True, text=True, check=True, timeout=20,
    )  # fmt: skip
    info = json.loads(probe.stdout)
    assert info["streams"][0]["codec_name"] == "opus"
    durations = {round(float(p["duration_time"]), 3) for p in info["packets"][:-1]}
    assert durations == {OPUS_FRAME_MS / 1000}, durations
