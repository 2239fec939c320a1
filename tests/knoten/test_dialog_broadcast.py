"""A remote speaker is heard by the partners and in the recording, only while on stage: the real
app runs a live, recorded date with an nginx-rtmp partner; a participant (aiortc, sending a
1 kHz tone as Opus) raises a hand, the host puts them on stage, they publish, and the host takes
them off again. FFmpeg measures the 1 kHz band in what the partner recorded and in the archived
recording: quiet before, loud while on stage, quiet after; the room's 440 Hz tone throughout."""

from __future__ import annotations

import asyncio
import fractions
import math
import time
from array import array
from pathlib import Path

import aiohttp
import av
import pytest
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection

from knoten.config import Config
from tests.streaming.test_live_mix import ROOM_HZ, VOICE_HZ, _tone_run, band_levels
from tests.support.app_fixtures import admin_session, make_config, serve
from tests.support.dialog_dates import speak, start_recorded_date, stop_and_archive
from tests.support.ports import free_tcp_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

ON_STAGE_S = 4.0


class Tone(MediaStreamTrack):
    """A microphone that hums 1 kHz: 20 ms frames of 48 kHz stereo, paced in real time."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._sent = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        samples = 960
        if self._start is None:
            self._start = time.monotonic()
        wait = self._start + self._sent / 48000 - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        pcm = array("h")
        for n in range(self._sent, self._sent + samples):
            value = round(8000 * math.sin(2 * math.pi * VOICE_HZ * n / 48000))
            pcm.extend((value, value))
        frame = av.AudioFrame(format="s16", layout="stereo", samples=samples)
        frame.planes[0].update(pcm.tobytes())
        frame.sample_rate = 48000
        frame.pts = self._sent
        frame.time_base = fractions.Fraction(1, 48000)
        self._sent += samples
        return frame


@pytest.fixture
def live_config(tmp_path: Path) -> Config:
    return make_config(tmp_path / "data", free_tcp_port(), KNOTEN_WEBRTC_HOST_ADDRESSES="127.0.0.1")


async def test_voice_reaches_partner_and_recording_only_while_on_stage(
    live_config: Config, nginx_partner
) -> None:
    async with serve(live_config) as running, admin_session(running, timeout=30) as api:
        occurrence = await start_recorded_date(api, nginx_partner.url("dialog"))
        await asyncio.sleep(3)  # room only: the "before"
        async with aiohttp.ClientSession() as client:
            peer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            peer.addTransceiver(Tone(), direction="sendonly")
            page, base = await speak(running, api, client, occurrence, peer)
            await asyncio.sleep(ON_STAGE_S)
            async with api.delete(f"{base}/stage") as response:  # the host takes Anna off
                assert response.status == 200
            await asyncio.sleep(1)
            await peer.close()
            await page.ws.close()
        await asyncio.sleep(4)  # room only: the "after"
        archived = await stop_and_archive(running, api, occurrence["id"])

    await nginx_partner.stop()
    for media in (nginx_partner.recordings("dialog")[0], archived):
        voice, room = band_levels(media, VOICE_HZ), band_levels(media, ROOM_HZ)
        first, last = _tone_run(voice)  # one contiguous loud stretch
        windows = (last - first + 1) * 0.5
        print(f"{media.name}: 1 kHz loud {windows:.1f} s (windows {first}..{last} of {len(voice)})")
        assert 2.0 <= windows <= ON_STAGE_S + 2.0, voice
        assert first >= 4 and last <= len(voice) - 5, "quiet before and after the speaker"
        assert min(room[1:-1]) > -35, room  # the room's own sound all along
