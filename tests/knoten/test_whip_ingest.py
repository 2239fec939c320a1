"""WHIP ingest: an aiortc peer publishes the room camera (H.264 + Opus, as OBS and browsers do)
to the real app; its picture becomes the room's picture that WebRTC viewers (WHEP) and an
nginx-rtmp partner receive, through the same encode-once pipeline as every camera. Wrong key
401, second publisher 409, publisher gone → slate, the next publisher on air again, DELETE
ends it.

The publisher sends aiortc's stock test picture: every pixel Y = U = V = 0, a dark green no
other source here shows (the slate is blue, the test pattern colourful), so "the viewer sees
the publisher" is a check of the chroma planes.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

from knoten.keys import SEMINAR_CONTROLLER, WHIP_INGEST
from streaming.ffmpeg.tools import ffprobe_json
from tests.knoten.test_whep import post_offer, token_of
from tests.support.app_fixtures import make_config, serve
from tests.support.bookings import add_rtmp_partner, book_date
from tests.support.ports import free_tcp_port
from tests.support.webrtc_peers import Client, LoopbackPeer

DATE = datetime(2027, 5, 4, 18, 0)  # booked far ahead and started by hand

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]


def free_udp_block(count: int = 4) -> int:
    """A first port of ``count`` consecutive UDP ports that were free a moment ago."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + count > 65000:
            continue
        with contextlib.ExitStack() as stack:
            try:
                for port in range(base, base + count):
                    sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
                    sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return base
    raise RuntimeError("no block of free UDP ports")


class Publisher(LoopbackPeer):
    """What OBS or a browser does: send one camera and one microphone."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.addTransceiver(VideoStreamTrack(), direction="sendonly")
        self.pc.addTransceiver(AudioStreamTrack(), direction="sendonly")


class ChromaClient(Client):
    """A WHEP viewer that keeps the mean U and V of the last decoded picture."""

    def __init__(self) -> None:
        super().__init__()
        self.chroma: tuple[float, float] | None = None

    def _on_track(self, track) -> None:  # type: ignore[no-untyped-def]
        if track.kind != "video":
            super()._on_track(track)
            return

        async def pull() -> None:
            with contextlib.suppress(Exception):
                while True:
                    frame = await track.recv()
                    self.frames["video"] += 1
                    self.size = (frame.width, frame.height)
                    if self.frames["video"] % 10 == 0:
                        self.chroma = chroma(frame.reformat(format="yuv420p", width=64, height=36))

        self.tasks.append(asyncio.create_task(pull()))


def chroma(frame) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    u, v = bytes(frame.planes[1]), bytes(frame.planes[2])
    return sum(u) / len(u), sum(v) / len(v)


def publisher_green(uv: tuple[float, float] | None) -> bool:
    return uv is not None and uv[0] < 60 and uv[1] < 60


async def until(what: str, predicate: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out: {what}"
        await asyncio.sleep(0.2)


def partner_chroma(url: str) -> tuple[float, float]:
    """Mean U and V of one picture the partner received, decoded by the ffmpeg CLI."""
    raw = subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-i", url,
         "-frames:v", "1", "-vf", "scale=64:36", "-pix_fmt", "yuv420p", "-f", "rawvideo", "-"],
        capture_output=True, timeout=30, check=True,
    ).stdout  # fmt: skip
    y, quarter = 64 * 36, 32 * 18
    u, v = raw[y : y + quarter], raw[y + quarter : y + 2 * quarter]
    return sum(u) / len(u), sum(v) / len(v)


async def test_whip_publisher_becomes_the_room_picture(tmp_path: Path, nginx_partner) -> None:
    config = make_config(
        tmp_path / "data",
        free_tcp_port(),
        KNOTEN_WEBRTC_HOST_ADDRESSES="127.0.0.1",
        KNOTEN_WHIP_PORT_BASE=str(free_udp_block()),
        KNOTEN_WEBRTC_WORKERS="0",
    )
    publishers: list[Publisher] = []
    viewer = ChromaClient()
    async with serve(config) as app, aiohttp.ClientSession() as http:
        admin = {"Authorization": f"Bearer {app.token}"}
        async with aiohttp.ClientSession(base_url=app.base_url, headers=admin) as api:
            async with api.patch("/api/v1/rooms/1", json={"source": "whip"}) as response:
                assert response.status == 200
            async with api.get("/api/v1/rooms/1/ingest") as response:
                ingest = await response.json()
            assert ingest["kind"] == "whip" and ingest["url"] == app.url("/whip/rooms/1")
            partner_id = await add_rtmp_partner(api, nginx_partner.url("c"))
            occurrence_id = (
                await book_date(
                    api,
                    DATE,
                    title="WHIP-Übertragung",
                    start=True,
                    partner_ids=[partner_id],
                    record=False,
                )
            )["id"]
            async with api.get(f"/api/v1/occurrences/{occurrence_id}") as response:
                join_token = token_of(await response.json())
        session = app.app[SEMINAR_CONTROLLER].session(occurrence_id)
        assert session is not None
        await until("slate", lambda: session.source_status().on_air == "slate", 20)
        endpoint, key = ingest["url"], ingest["passphrase"]
        async with http.options(endpoint) as response:  # RFC 9725 §4.1: what OBS may ask first
            assert response.status == 204 and response.headers["Accept-Post"] == "application/sdp"
            assert "POST" in response.headers["Allow"]
        try:
            first = Publisher()
            publishers.append(first)
            offer = await first.offer()
            status, _, body = await post_offer(http, endpoint, "falscher-schluessel", offer)
            assert status == 401 and b'"error"' in body
            status, headers, body = await post_offer(http, endpoint, key, offer)
            assert status == 201, body
            headers = {name.lower(): value for name, value in headers.items()}
            location = headers["location"]
            assert location.startswith("/whip/rooms/1/") and headers["etag"].startswith('"')
            await first.accept(body.decode())

            second = Publisher()
            publishers.append(second)
            status, _, body = await post_offer(http, endpoint, key, await second.offer())
            assert status == 409 and b"publisher_present" in body

            # The publisher's picture is the room's: at the partner and at a WHEP viewer.
            await until("camera", lambda: session.source_status().on_air == "camera", 30)
            status, _, body = await post_offer(
                http, app.url(f"/whep/{occurrence_id}"), join_token, await viewer.offer()
            )
            assert status == 201, body
            await viewer.accept(body.decode())
            await until("viewer sees the publisher", lambda: publisher_green(viewer.chroma), 20)
            assert viewer.size == (1280, 720) and viewer.frames["audio"] > 0
            probe = await ffprobe_json(nginx_partner.url("c"), timeout=20)
            video = next(s for s in probe["streams"] if s["codec_type"] == "video")
            assert (video["codec_name"], video["width"], video["height"]) == ("h264", 1280, 720)
            assert publisher_green(await asyncio.to_thread(partner_chroma, nginx_partner.url("c")))

            # Publisher gone without a DELETE (closed lid): the slate, as for a lost camera.
            await first.pc.close()
            await until("slate again", lambda: session.source_status().on_air == "slate", 30)
            await until("room free", lambda: app.app[WHIP_INGEST].publisher(1) is None, 15)
            await until("viewer sees the slate", lambda: not publisher_green(viewer.chroma), 20)
            auth = {"Authorization": f"Bearer {key}"}
            async with http.delete(app.url(location), headers=auth) as response:
                assert response.status == 204  # it had already gone

            # The room is free again and the next publisher on air; DELETE ends it, PATCH is 405.
            third = Publisher()
            publishers.append(third)
            status, headers, body = await post_offer(http, endpoint, key, await third.offer())
            assert status == 201, body
            await third.accept(body.decode())
            # Regression: the camera FFmpeg, still running, refused a second publisher's packets
            # ("bad cseq"): the room stayed on the slate.
            await until("camera back", lambda: session.source_status().on_air == "camera", 30)
            await until(
                "viewer sees the next publisher", lambda: publisher_green(viewer.chroma), 20
            )
            async with http.patch(app.url(headers["Location"]), headers=auth) as response:
                assert response.status == 405 and response.headers["Allow"] == "DELETE, OPTIONS"
            async with http.delete(app.url(headers["Location"]), headers=auth) as response:
                assert response.status == 200
            assert app.app[WHIP_INGEST].publisher(1) is None
        finally:
            await viewer.close()
            for publisher in publishers:
                await publisher.pc.close()
