"""Speakers' camera tiles laid over the encode-once picture: a green 'camera' (H.264 from
PyAV's x264, as RTP payloads the way a browser packs them) shown in a video slot for a few
seconds is green in its tile region at the nginx-rtmp partner and in a recording of the master
only while it is shown; the rest of the picture is the room's test pattern throughout; no
FFmpeg command changes or restarts when tiles come and go; and a camera that stops sending
(a speaker gone without a goodbye) never stalls the room's picture, its tile just goes."""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import re
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import av
import pytest

from streaming.dialog.frames import NAL_FU_A, Frame
from streaming.dialog.tiles import STALE_S, TileLayout
from streaming.ffmpeg.registry import FfmpegProcesses
from streaming.live.plan import CameraSource, PartnerTarget, SessionPlan
from streaming.live.session import LiveSession
from tests.streaming.test_live_mix import _commands, _recorder, _wait
from tests.support.media_checks import largest_video_gap

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]

CAMERA_W, CAMERA_H = 320, 240
# Pure green in BT.601 limited range: far from anything the test pattern has in that corner.
GREEN_YUV = (145, 54, 34)
MTU_PAYLOAD = 1200
SHOW_S = 4.0


def rtp_payloads(access_unit: bytes, mtu: int = MTU_PAYLOAD) -> list[bytes]:
    """An Annex B access unit as RTP payloads (RFC 6184 mode 1): single NAL units, FU-A for
    the big ones — what a browser's packetizer sends."""
    nals = [n for n in re.split(b"\x00\x00\x00?\x01", access_unit) if n]
    payloads = []
    for nal in nals:
        if len(nal) <= mtu:
            payloads.append(nal)
            continue
        header, body = nal[0], nal[1:]
        chunks = [body[i : i + mtu] for i in range(0, len(body), mtu)]
        for index, chunk in enumerate(chunks):
            start = 0x80 if index == 0 else 0
            end = 0x40 if index == len(chunks) - 1 else 0
            fu = bytes([(header & 0xE0) | NAL_FU_A, start | end | (header & 0x1F)])
            payloads.append(fu + chunk)
    return payloads


def camera_frames(seconds: float, colour: tuple[int, int, int] = GREEN_YUV) -> list[Frame]:
    """``seconds`` of a 30 fps camera showing ``colour``, as received frames."""
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = CAMERA_W, CAMERA_H, "yuv420p"
    codec.time_base = fractions.Fraction(1, 30)
    codec.options = {"profile": "baseline", "tune": "zerolatency", "preset": "ultrafast",
                     "x264-params": "keyint=30:repeat-headers=1"}  # fmt: skip
    frames = []
    for index in range(int(seconds * 30)):
        picture = av.VideoFrame(CAMERA_W, CAMERA_H, "yuv420p")
        for plane, value in zip(picture.planes, colour, strict=True):
            plane.update(bytes([value]) * plane.buffer_size)
        picture.pts = index
        for packet in codec.encode(picture):
            payloads = rtp_payloads(bytes(packet))
            frames.append(
                Frame(payloads, index * 3000, packet.is_keyframe, sum(map(len, payloads)))
            )
    return frames


async def show(session: LiveSession, slot: int, frames: list[Frame], hide: bool = True) -> None:
    """Hand the frames to the tiles at 30 fps, as the stage's video slot would."""
    assert session.tiles is not None
    loop = asyncio.get_running_loop()
    started = loop.time()
    for index, frame in enumerate(frames):
        session.tiles.show(slot, 7, frame)
        await asyncio.sleep(max(0.0, started + (index + 1) / 30 - loop.time()))
    if hide:
        session.tiles.hide(slot)


def region_colour(media: Path, box: tuple[int, int, int, int]) -> list[tuple[float, ...]]:
    """Mean (Y, U, V) of ``box`` (x, y, w, h) in 0.5 s steps of ``media``'s picture."""
    x, y, w, h = box
    out = media.with_name(f"{media.name}.{x}-{y}.txt")
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(media),
         "-map", "0:v:0", "-vf",
         f"fps=2,crop={w}:{h}:{x}:{y},signalstats,"
         f"metadata=mode=print:file={out}",
         "-f", "null", "-"],
        check=True, timeout=60,
    )  # fmt: skip
    values: dict[str, list[float]] = {"YAVG": [], "UAVG": [], "VAVG": []}
    for key, value in re.findall(r"lavfi\.signalstats\.([YUV]AVG)=(\S+)", out.read_text()):
        values[key].append(float(value))
    return list(zip(values["YAVG"], values["UAVG"], values["VAVG"], strict=True))


def is_green(yuv: tuple[float, ...]) -> bool:
    return all(abs(a - b) < 12 for a, b in zip(yuv, GREEN_YUV, strict=True))


def green_runs(samples: list[tuple[float, ...]]) -> list[tuple[int, int]]:
    """(first, last) sample index of each contiguous stretch of green."""
    runs: list[tuple[int, int]] = []
    for index, sample in enumerate(samples):
        if not is_green(sample):
            continue
        if runs and runs[-1][1] == index - 1:
            runs[-1] = (runs[-1][0], index)
        else:
            runs.append((index, index))
    return runs


def tile_middle(layout: TileLayout, slot: int) -> tuple[int, int, int, int]:
    """The middle half of a tile (a 4:3 camera in a 16:9 tile: its sides stay transparent)."""
    tx, ty = layout.tile_origin(slot)
    return (tx + layout.tile_width // 4, ty + layout.tile_height // 4,
            layout.tile_width // 2, layout.tile_height // 2)  # fmt: skip


def check_picture(media: Path, layout: TileLayout) -> None:
    """Two stretches of green in slot 0's tile: SHOW_S (then hidden), and the camera that
    stopped (1 s, then gone after STALE_S); the room's picture before, between and after, and
    never green anywhere else."""
    samples = region_colour(media, tile_middle(layout, 0))
    runs = green_runs(samples)
    seconds = [(last - first + 1) / 2 for first, last in runs]
    print(f"{media.name}: tile green runs {runs} ({seconds} s) of {len(samples)} samples")
    assert len(runs) == 2, samples
    assert SHOW_S - 1.5 <= seconds[0] <= SHOW_S + 1.0, samples
    assert 0.5 <= seconds[1] <= 1.0 + STALE_S + 1.0, samples
    assert runs[0][0] >= 2 and runs[1][1] <= len(samples) - 3, "the room before and after"
    # Slot 1's tile and the rest of the picture never turn green: the room shows through.
    other = layout.tile_origin(1)
    for box in ((other[0] + 8, other[1] + 8, 32, 32), (40, 40, 64, 64)):
        assert not any(is_green(s) for s in region_colour(media, box)), box
    assert largest_video_gap(media) < 0.5, "the picture never stalled"


@contextlib.asynccontextmanager
async def on_air(
    tmp_path: Path, partner: Any, key: str
) -> AsyncIterator[tuple[LiveSession, FfmpegProcesses]]:
    """A live test-pattern session with tiles (no mix) at ``partner`` and a recorder of its
    master in ``tmp_path/master.ts``, once the partner receives; stopped at the end."""
    plan = SessionPlan(
        occurrence_id=41,
        title="Gespräch",
        start_label="18:00",
        camera=CameraSource("testsrc"),
        run_dir=tmp_path / "run",
        hls_dir=tmp_path / "hls",
        partners=(PartnerTarget(1, "Campus", "rtmp", "720p", partner.url(key)),),
        remote_audio=False,
    )
    processes = FfmpegProcesses()
    session = LiveSession(plan, processes)
    try:
        await session.start(live=True)
        assert session.tiles is not None
        recorder = _recorder("rec", session.master_feed, tmp_path / "master.ts")
        await processes.start(recorder)
        await _wait(lambda: session.outputs_status()[0].state == "live", 30, "partner live")
        yield session, processes
        await processes.remove(recorder.name)
    finally:
        await session.aclose()
        await processes.aclose()


async def test_tile_reaches_partner_and_recording_only_while_shown(
    tmp_path: Path, nginx_partner
) -> None:
    green = camera_frames(SHOW_S)
    async with on_air(tmp_path, nginx_partner, "tiles") as (session, processes):
        assert session.tiles is not None
        await asyncio.sleep(3)  # before: the room alone
        before = _commands(processes)
        await show(session, 0, green)
        await _wait(lambda: session.tiles.tiles_shown == (False, False), 1, "tile hidden")
        await asyncio.sleep(1)
        # A speaker's camera that just stops (killed browser, no goodbye): the tile goes
        # after STALE_S, the room's picture carries on.
        await show(session, 0, camera_frames(1.0), hide=False)
        await _wait(lambda: session.tiles.tiles_shown == (False, False), 5, "stale tile gone")
        await asyncio.sleep(3)  # after: the room alone again
        after = _commands(processes)
    assert before == after, "no FFmpeg command may change or restart for a tile"
    assert all(restarts == 0 for _, restarts, _ in after.values()), after

    await nginx_partner.stop()
    recorded = nginx_partner.recordings()
    assert len(recorded) == 1, "the partner connection never dropped"
    for media in (recorded[0], tmp_path / "master.ts"):
        check_picture(media, session.tiles.layout)


async def test_room_picture_carries_on_when_the_tiles_go_away(
    tmp_path: Path, nginx_partner
) -> None:
    """The tile input itself ending (its server gone) leaves the room's picture running in the
    same FFmpeg: overlay passes the picture through, nothing restarts, no gap."""
    async with on_air(tmp_path, nginx_partner, "gone") as (session, processes):
        assert session.tiles is not None
        await show(session, 0, camera_frames(2.0), hide=False)
        before = _commands(processes)
        await session.tiles.aclose()  # the canvas ends mid-stream, a tile still on it
        await asyncio.sleep(4)
        after = _commands(processes)
    assert before == after, "the camera's FFmpeg went on: no restart, same command"
    recording = tmp_path / "master.ts"
    samples = region_colour(recording, tile_middle(session.tiles.layout, 0))
    assert len(samples) >= 10, "the picture went on after the tiles ended"
    assert any(is_green(s) for s in samples), "the tile was there before"
    assert not any(is_green(s) for s in samples[-4:]), "and is gone with its input"
    assert largest_video_gap(recording) < 0.5, "the picture never stalled"
