"""RemoteAudioBus: real-time pacing, mixing with saturation, silence when nobody speaks, bounded
buffers for speakers and readers, and readers that reconnect."""

from __future__ import annotations

import asyncio
import time
from array import array
from pathlib import Path

import pytest

from streaming.dialog.bus import FRAME_BYTES, FRAME_S, SILENCE, RemoteAudioBus, mix_frames

pytestmark = pytest.mark.timeout(30)


def _frame(value: int) -> bytes:
    return array("h", [value] * (FRAME_BYTES // 2)).tobytes()


def _samples(data: bytes) -> set[int]:
    return set(array("h", data))


async def _bus(tmp_path: Path, **options: object) -> RemoteAudioBus:
    bus = RemoteAudioBus("test", tmp_path / "bus.sock", **options)  # type: ignore[arg-type]
    await bus.start()
    return bus


async def _read_for(
    reader: asyncio.StreamReader, seconds: float, limit: int | None = None
) -> bytes:
    data = bytearray()
    deadline = asyncio.get_running_loop().time() + seconds
    while (remaining := deadline - asyncio.get_running_loop().time()) > 0:
        if limit is not None and len(data) >= limit:
            break
        try:
            chunk = await asyncio.wait_for(reader.read(65536), remaining)
        except TimeoutError:
            break
        if not chunk:
            break
        data += chunk
    return bytes(data)


def test_mix_saturates_instead_of_wrapping() -> None:
    assert _samples(mix_frames([_frame(30000), _frame(30000)])) == {32767}
    assert _samples(mix_frames([_frame(-30000), _frame(-30000), _frame(-5)])) == {-32768}
    assert _samples(mix_frames([_frame(1000), _frame(-300), _frame(24)])) == {724}
    assert mix_frames([]) == SILENCE


async def test_paced_in_real_time_with_silence_when_nobody_speaks(tmp_path: Path) -> None:
    bus = await _bus(tmp_path, starve_ticks=0)
    try:
        reader, writer = await asyncio.open_unix_connection(str(bus.path))
        started = time.monotonic()
        emitted_before = bus.frames_emitted
        data = await _read_for(reader, 1.0)
        elapsed = time.monotonic() - started
        emitted = bus.frames_emitted - emitted_before
        writer.close()
    finally:
        await bus.aclose()
    expected = elapsed / FRAME_S
    assert abs(emitted - expected) <= 3, (emitted, expected)
    assert len(data) % 4 == 0 and abs(len(data) / FRAME_BYTES - expected) <= 4
    assert data == bytes(len(data)), "silence when nobody speaks"
    assert bus.frames_mixed == 0


async def test_late_loop_is_caught_up_without_drift(tmp_path: Path) -> None:
    bus = await _bus(tmp_path)
    try:
        await asyncio.sleep(0.2)
        started = time.monotonic()
        before = bus.frames_emitted + bus.frames_skipped
        time.sleep(0.3)  # noqa: ASYNC251 - the point: block the loop
        await asyncio.sleep(0.5)
        produced = bus.frames_emitted + bus.frames_skipped - before
        elapsed = time.monotonic() - started
    finally:
        await bus.aclose()
    assert bus.late_ticks >= 1
    assert bus.frames_skipped == 0, "0.3 s late is within max_burst: nothing skipped"
    assert abs(produced - elapsed / FRAME_S) <= 3


async def test_speakers_are_mixed_and_removed(tmp_path: Path) -> None:
    bus = await _bus(tmp_path, prefill_frames=1, jitter_frames=10)
    try:
        reader, writer = await asyncio.open_unix_connection(str(bus.path))
        await _read_for(reader, 0.1)  # joined
        for _ in range(5):
            bus.write(1, _frame(1000))
            bus.write(2, _frame(20000) + _frame(20000))
        # Nothing else queued: speaker 2's second frames outlast speaker 1's.
        data = await _read_for(reader, 0.4)
        bus.remove(2)
        assert bus.speakers == {1}
        writer.close()
    finally:
        await bus.aclose()
    values = array("h", data)
    frames = [values[i : i + FRAME_BYTES // 2] for i in range(0, len(values), FRAME_BYTES // 2)]
    sums = [frame[0] for frame in frames if len(set(frame)) == 1]
    assert sums.count(21000) == 5 and sums.count(20000) == 5, sums
    assert bus.frames_mixed == 10


async def test_jitter_buffer_is_bounded(tmp_path: Path) -> None:
    bus = RemoteAudioBus("test", tmp_path / "bus.sock", jitter_frames=4, prefill_frames=2)
    bus.write(7, _frame(1) * 10)
    assert bus.speaker_frames_dropped == 6
    with pytest.raises(ValueError):
        bus.write(7, b"\0" * 100)


async def test_a_waiting_reader_gets_a_bounded_catch_up(tmp_path: Path) -> None:
    """An eager reader looks like FFmpeg waiting for the bus: it gets extra silence, but no more
    than catchup_ms, and then exactly real time."""
    bus = await _bus(tmp_path, catchup_ms=200, max_drift_ppm=0)
    try:
        reader, writer = await asyncio.open_unix_connection(str(bus.path))
        await _read_for(reader, 0.5)
        assert bus.reader_frames_inserted == 10
        emitted = bus.frames_emitted
        data = await _read_for(reader, 0.5)
        writer.close()
    finally:
        await bus.aclose()
    assert bus.reader_frames_inserted == 10
    assert abs(len(data) / FRAME_BYTES - (bus.frames_emitted - emitted)) <= 2


async def test_stalled_reader_is_cut_loose_and_memory_stays_bounded(tmp_path: Path) -> None:
    bus = await _bus(tmp_path, max_backlog_ms=100, stall_timeout_s=0.5)
    try:
        # A reader that never reads: its socket buffer fills, then the bus's backlog limit.
        _reader, writer = await asyncio.open_unix_connection(str(bus.path))
        largest = 0
        deadline = time.monotonic() + 5
        while bus.readers_dropped == 0 and time.monotonic() < deadline:
            largest = max(largest, bus.backlog_bytes())
            await asyncio.sleep(0.01)
        assert bus.readers_dropped == 1
        assert largest <= bus.max_backlog_bytes
        assert bus.reader_count == 0
        writer.close()
    finally:
        await bus.aclose()


async def test_reader_reconnects_and_the_stream_continues(tmp_path: Path) -> None:
    bus = await _bus(tmp_path, prefill_frames=1)
    try:
        reader, writer = await asyncio.open_unix_connection(str(bus.path))
        first = await _read_for(reader, 0.3)
        writer.close()
        await asyncio.sleep(0.1)
        reader, writer = await asyncio.open_unix_connection(str(bus.path))
        await _read_for(reader, 0.05)
        for _ in range(3):
            bus.write(1, _frame(500))
        second = await _read_for(reader, 0.3)
        writer.close()
    finally:
        await bus.aclose()
    assert first and len(first) % 4 == 0
    assert len(second) % FRAME_BYTES == 0 or len(second) % 4 == 0
    assert 500 in _samples(second)


async def test_start_and_close_are_idempotent(tmp_path: Path) -> None:
    bus = await _bus(tmp_path)
    await bus.start()
    assert bus.path.exists()
    await bus.aclose()
    await bus.aclose()
    assert not bus.path.exists()
