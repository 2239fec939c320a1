"""FeedHub: a reader joining mid-stream gets PAT, PMT and then a video keyframe first, so FFmpeg
can start from it with a short probe; a stalled reader is cut loose without hurting others."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest

from streaming.live.feed import TS_PACKET, FeedHub, TsIndex


@pytest.fixture(scope="module")
def sample_ts(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("ts") / "sample.ts"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin",
         "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "4",
         "-c:v", "libx264", "-preset", "veryfast", "-g", "30", "-c:a", "aac",
         "-f", "mpegts", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path.read_bytes()


def _pid(packet: bytes) -> int:
    return ((packet[1] & 0x1F) << 8) | packet[2]


def test_index_finds_pat_pmt_video_pid_and_keyframes(sample_ts: bytes) -> None:
    index = TsIndex()
    first = index.scan(sample_ts[: TS_PACKET * 400])
    assert index.pat is not None and index.pmt is not None
    assert index.video_pid == 0x100  # FFmpeg's first elementary stream PID
    assert first is not None and first % TS_PACKET == 0
    assert _pid(sample_ts[first : first + TS_PACKET]) == index.video_pid


async def test_reader_joining_mid_stream_starts_on_a_keyframe(
    sample_ts: bytes, tmp_path: Path
) -> None:
    hub = FeedHub("test", tmp_path / "feed.sock")
    await hub.start()
    chunks = [sample_ts[i : i + TS_PACKET * 50] for i in range(0, len(sample_ts), TS_PACKET * 50)]
    half = len(chunks) // 3
    try:
        for chunk in chunks[:half]:
            hub.publish(chunk)
        reader, writer = await asyncio.open_unix_connection(str(tmp_path / "feed.sock"))
        await asyncio.sleep(0.05)
        for chunk in chunks[half:]:
            hub.publish(chunk)
            await asyncio.sleep(0)
        await asyncio.sleep(0.1)
        await hub.aclose()
        received = await asyncio.wait_for(reader.read(), 5)
        writer.close()
    finally:
        await hub.aclose()
    assert len(received) % TS_PACKET == 0 and len(received) < len(sample_ts) * 0.8
    assert _pid(received[:TS_PACKET]) == 0  # PAT first
    path = tmp_path / "joined.ts"
    path.write_bytes(received)
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "frame=key_frame,width", "-read_intervals", "%+#3", "-of", "json", str(path)],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    frames = json.loads(probe.stdout)["frames"]
    assert frames[0]["key_frame"] == 1 and frames[0]["width"] == 320


async def test_stalled_reader_is_dropped_others_continue(tmp_path: Path) -> None:
    hub = FeedHub("test", tmp_path / "feed.sock", max_lag_bytes=64 * 1024)
    await hub.start()
    try:
        _stalled_reader, stalled = await asyncio.open_unix_connection(str(tmp_path / "feed.sock"))
        await asyncio.sleep(0.05)
        packet = b"\x47" + bytes(TS_PACKET - 1)
        for _ in range(2000):  # ~75 MB: far beyond what the stalled reader's buffers hold
            hub.publish(packet * 200)
            await asyncio.sleep(0)
            if hub.readers_dropped:
                break
        assert hub.readers_dropped == 1
        assert hub.reader_count == 0
        stalled.close()
    finally:
        await hub.aclose()
