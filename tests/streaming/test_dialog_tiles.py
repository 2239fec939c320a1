"""SpeakerTiles without FFmpeg: RTP payloads back to an access unit, the tile layout, the
overlay in the camera's argv, and the canvas a reader gets — transparent without a camera, the
camera's picture in its tile while shown, transparent again when hidden or when the camera
goes quiet, on time whatever the cameras do."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from streaming.dialog.frames import annexb
from streaming.dialog.tiles import SpeakerTiles, TileLayout, _Planes
from streaming.dialog.video_slots import VideoSlot
from streaming.ffmpeg.spec import PROFILES, FfmpegSpec, Output, TileOverlay, UrlInput, build_argv
from tests.streaming.test_live_tiles import GREEN_YUV, camera_frames, rtp_payloads

pytestmark = pytest.mark.timeout(30)


def test_payloads_round_trip_to_the_access_unit() -> None:
    frames = camera_frames(0.2)
    assert frames[0].keyframe
    unit = annexb(frames[0].payloads)
    fragmented = rtp_payloads(unit, mtu=64)
    assert any(p[0] & 0x1F == 28 for p in fragmented), "FU-A used"
    assert annexb(fragmented) == unit
    stap = bytes([24]) + b"".join(len(n).to_bytes(2, "big") + n for n in frames[1].payloads)
    for frame in frames[:3]:
        unit = annexb(frame.payloads)
        assert unit.startswith(b"\x00\x00\x00\x01")
        assert rtp_payloads(unit) == frame.payloads
    assert annexb([stap]) == annexb(frames[1].payloads)


def test_layout_at_720p() -> None:
    layout = TileLayout(1280, 720)
    assert (layout.tile_width, layout.tile_height, layout.gap) == (320, 180, 12)
    assert layout.canvas_size == (320, 372)
    assert layout.position == (948, 336)
    assert layout.tile_origin(1) == (948, 528)
    assert layout.frame_bytes == 320 * 372 * 5 // 2


def test_overlay_input_comes_after_the_camera() -> None:
    spec = FfmpegSpec(
        "cam",
        UrlInput("rtsp://camera.example/stream"),
        PROFILES["720p"],
        (Output(Path("/run/cam.sock"), "mpegts", socket=True),),
        tiles=TileOverlay(Path("/run/tiles.sock"), 320, 372, 15, 948, 336),
    )
    argv = build_argv(spec)
    inputs = [argv[i + 1] for i, arg in enumerate(argv) if arg == "-i"]
    assert inputs == ["rtsp://camera.example/stream", "unix:/run/tiles.sock"]
    tiles = argv.index("unix:/run/tiles.sock")
    assert argv[tiles - 13 : tiles - 1] == [
        "-f", "rawvideo", "-video_size", "320x372", "-framerate", "15", "-pix_fmt", "yuva420p",
        "-protocol_whitelist", "unix", "-thread_queue_size", "2",
    ]  # fmt: skip
    graph = argv[argv.index("-filter_complex") + 1]
    assert "[1:v:0]overlay=eof_action=pass:eval=init:x=948:y=336" in graph
    with pytest.raises(ValueError):
        FfmpegSpec("copy", UrlInput("rtsp://c/s"), None, spec.outputs, tiles=spec.tiles)


async def _canvas(reader: asyncio.StreamReader, layout: TileLayout) -> bytes:
    """The newest canvas: what queued up while the test did not read is old (and the reader's
    backlog limit dropped what came meanwhile), so read for a few frames' time."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 0.3
    data = await reader.readexactly(layout.frame_bytes)
    while (remaining := deadline - loop.time()) > 0:
        try:
            data = await asyncio.wait_for(reader.readexactly(layout.frame_bytes), remaining)
        except TimeoutError:
            break
    return data


def _tile(canvas: bytes, layout: TileLayout, slot: int) -> list[bytes]:
    return [canvas[start : start + n] for start, n in _Planes(layout, slot).spans]


async def test_canvas_shows_the_camera_only_while_it_is_shown(tmp_path: Path) -> None:
    layout = TileLayout(640, 360)
    tiles = SpeakerTiles("test", tmp_path / "tiles.sock", layout, stale_s=0.5)
    await tiles.start()
    try:
        reader, writer = await asyncio.open_unix_connection(str(tiles.path))
        empty = await _canvas(reader, layout)
        assert set(_tile(empty, layout, 0)[3]) == {0} and set(_tile(empty, layout, 1)[3]) == {0}
        frames = camera_frames(1.0)
        for frame in frames[:10]:
            tiles.show(0, 5, frame)
            await asyncio.sleep(1 / 30)
        deadline = asyncio.get_running_loop().time() + 3
        while tiles.tiles_shown != (True, False):
            assert asyncio.get_running_loop().time() < deadline, "no tile"
            await asyncio.sleep(0.05)
        y, u, v, alpha = _tile(await _canvas(reader, layout), layout, 0)
        # 4:3 into a 16:9 tile: opaque in the middle with the camera's colour, clear sides.
        tw = layout.tile_width
        middle = (layout.tile_height // 2) * tw + tw // 2
        assert alpha[middle] == 255 and alpha[(layout.tile_height // 2) * tw] == 0
        assert abs(y[middle] - GREEN_YUV[0]) < 6
        assert abs(u[len(u) // 2] - GREEN_YUV[1]) < 6 and abs(v[len(v) // 2] - GREEN_YUV[2]) < 6
        assert set(_tile(await _canvas(reader, layout), layout, 1)[3]) == {0}
        tiles.hide(0)
        await asyncio.sleep(0.2)
        assert set(_tile(await _canvas(reader, layout), layout, 0)[3]) == {0}
        # Shown again, then the camera just stops: gone after stale_s.
        for frame in frames[:10]:
            tiles.show(0, 6, frame)
            await asyncio.sleep(1 / 30)
        await asyncio.sleep(0.2)
        assert tiles.tiles_shown == (True, False)
        await asyncio.sleep(0.7)
        assert tiles.tiles_shown == (False, False)
        # On time throughout: the cameras never hold the canvas back.
        assert tiles.frames_skipped == 0
        writer.close()
    finally:
        await tiles.aclose()


async def test_tiles_started_mid_stream_ask_the_speaker_for_a_keyframe(tmp_path: Path) -> None:
    """Regression: tiles that began after a camera's keyframe (the date went on air while the
    speaker was on stage) waited for the browser's next scheduled keyframe, which can take
    minutes; now the video slot asks the speaker for one at once."""
    frames = camera_frames(1.1)  # keyframes at 0 and 1 s
    tiles = SpeakerTiles("test", tmp_path / "tiles.sock", TileLayout(640, 360))
    requests: list[int] = []
    slot = VideoSlot(0, lambda index, speaker, frame: frame and tiles.show(index, speaker, frame))
    slot.assign(3, lambda: requests.append(1))
    assert requests == [1]  # a new speaker starts on a keyframe anyway
    slot.waiting_for_keyframe = False  # as if the slot had forwarded their keyframe already
    slot.forward(3, frames[5])
    assert len(requests) == 2, "the tiles cannot start on a delta frame: ask for a keyframe"
    keyframe = next(f for f in frames[1:] if f.keyframe)
    slot.forward(3, keyframe)
    slot.forward(3, frames[frames.index(keyframe) + 1])
    assert len(requests) == 2
    deadline = asyncio.get_running_loop().time() + 3
    while tiles._slots[0].tile is None:
        assert asyncio.get_running_loop().time() < deadline, "no picture from the keyframe on"
        await asyncio.sleep(0.02)
    await tiles.aclose()


async def test_a_decoder_that_falls_behind_starts_again_on_a_keyframe(tmp_path: Path) -> None:
    frames = camera_frames(1.1)  # keyframes at 0 and 1 s
    tiles = SpeakerTiles("test", tmp_path / "tiles.sock", TileLayout(640, 360), max_pending=3)
    decoder = tiles._slots[0]
    decode = decoder.decode

    def slow(units: list[bytes]):  # type: ignore[no-untyped-def]
        time.sleep(0.3)  # a worker far slower than the camera
        return decode(units)

    decoder.decode = slow  # type: ignore[method-assign]
    try:
        asks = [tiles.show(0, 4, frame) for frame in frames[:10]]
        assert tiles.frames_dropped > 0, "the backlog was dropped, not queued"
        assert asks[-1], "and the slot is asked for a keyframe"
        keyframe = next(f for f in frames[1:] if f.keyframe)
        assert not tiles.show(0, 4, keyframe)
        deadline = asyncio.get_running_loop().time() + 5
        while decoder.tile is None:
            assert asyncio.get_running_loop().time() < deadline, "no picture after the keyframe"
            await asyncio.sleep(0.05)
    finally:
        await tiles.aclose()
