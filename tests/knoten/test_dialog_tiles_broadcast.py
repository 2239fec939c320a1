"""A remote speaker's camera is seen by the partners and in the recording, as a tile, only while
they are on stage: the real app runs a live, recorded date with an nginx-rtmp partner; a
participant (aiortc, a green camera as H.264 and a 1 kHz microphone) is put on stage and
publishes; then their browser dies without a goodbye (the peer just closes, still on stage).
FFmpeg measures slot 0's tile region in what the partner recorded and in the archived
recording: the room's picture before, green while the speaker is there, the room's picture
again after, and the rest of the picture never green."""

from __future__ import annotations

import asyncio
import fractions
from pathlib import Path

import aiohttp
import av
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender
from aiortc.mediastreams import VideoStreamTrack

from knoten.config import Config
from streaming.dialog.tiles import TileLayout
from tests.knoten.test_dialog_broadcast import Tone
from tests.streaming.test_live_tiles import (
    GREEN_YUV,
    green_runs,
    is_green,
    region_colour,
    tile_middle,
)
from tests.support.app_fixtures import admin_session, make_config, serve
from tests.support.dialog_dates import speak, start_recorded_date, stop_and_archive
from tests.support.ports import free_tcp_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

ON_STAGE_S = 5.0


class GreenCamera(VideoStreamTrack):
    """A camera showing plain green, 30 frames a second (aiortc encodes it)."""

    async def recv(self) -> av.VideoFrame:  # type: ignore[override]
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame(320, 240, "yuv420p")
        for plane, value in zip(frame.planes, GREEN_YUV, strict=True):
            plane.update(bytes([value]) * plane.buffer_size)
        frame.pts = pts
        frame.time_base = fractions.Fraction(time_base)
        return frame


@pytest.fixture
def live_config(tmp_path: Path) -> Config:
    return make_config(tmp_path / "data", free_tcp_port(), KNOTEN_WEBRTC_HOST_ADDRESSES="127.0.0.1")


async def test_camera_tile_reaches_partner_and_recording_only_while_on_stage(
    live_config: Config, nginx_partner
) -> None:
    async with serve(live_config) as running, admin_session(running, timeout=30) as api:
        occurrence = await start_recorded_date(api, nginx_partner.url("tiles"))
        await asyncio.sleep(3)  # the room only: the "before"
        async with aiohttp.ClientSession() as client:
            peer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            peer.addTransceiver(Tone(), direction="sendonly")
            camera = GreenCamera()
            video = peer.addTransceiver(camera, direction="sendonly")
            video.setCodecPreferences(
                [c for c in RTCRtpSender.getCapabilities("video").codecs
                 if c.mimeType.lower() == "video/h264"]
            )  # fmt: skip
            page, _ = await speak(running, api, client, occurrence, peer)
            await asyncio.sleep(ON_STAGE_S)
            # The browser dies: no DELETE, no stage change — the peer simply goes away.
            camera.stop()
            await peer.close()
            await asyncio.sleep(4)  # the room only: the "after" (Anna is still on stage)
            await page.ws.close()
        archived = await stop_and_archive(running, api, occurrence["id"])

    await nginx_partner.stop()
    tile = tile_middle(TileLayout(1280, 720), 0)
    for media in (nginx_partner.recordings("tiles")[0], archived):
        samples = region_colour(media, tile)
        runs = green_runs(samples)
        print(f"{media.name}: green tile runs {runs} of {len(samples)} samples (0.5 s each)")
        assert len(runs) == 1, samples
        first, last = runs[0]
        assert ON_STAGE_S - 2.5 <= (last - first + 1) / 2 <= ON_STAGE_S + 2.5, samples
        assert first >= 4 and last <= len(samples) - 5, "the room's picture before and after"
        assert not any(is_green(s) for s in region_colour(media, (40, 40, 64, 64)))
