"""WHEP conformance with a real aiortc client against the real app and a real FFmpeg feed.

Each status of the endpoint (201, 400, 401, 403, 404, 409, 413, 415, 503, DELETE) is exercised,
20 hostile offers are refused while an existing viewer keeps receiving, and the viewer count and
counters show up in the status API and in /metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
import pytest_asyncio

from knoten.keys import WEBRTC
from schedules.ports import LoggingSessionRunner
from streaming.live.feed import FeedHub
from streaming.webrtc.shards import ShardedRegistry
from tests.support.app_fixtures import RunningApp, admin_session, make_config, serve
from tests.support.ports import free_tcp_port
from tests.support.webrtc_feeds import feed_argv
from tests.support.webrtc_peers import Client, until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]


@contextlib.asynccontextmanager
async def feed_producer(path: Path, size: str = "1280x720") -> AsyncIterator[Path]:
    """The stand-in for the pipeline's WebRTC feed: FFmpeg pushing into the pipeline's feed hub,
    which serves every reader (each viewer worker reads the feed itself)."""
    hub = FeedHub("webrtc", path, path.with_name("feed-in.sock"))
    await hub.start()
    args = feed_argv(size, listen=False)
    # Started once, killed and reaped in finally.
    process = subprocess.Popen(  # noqa: ASYNC220
        [*args, f"unix:{hub.input_path}"], stdin=subprocess.DEVNULL
    )
    try:
        yield path
    finally:
        process.kill()
        process.wait(timeout=5)
        await hub.aclose()


async def create_live_occurrence(
    api: aiohttp.ClientSession, *, start: bool = True, minutes_ahead: int = 60
) -> dict:
    begin = datetime.now(ZoneInfo("Europe/Berlin")).replace(microsecond=0, tzinfo=None)
    begin += timedelta(minutes=minutes_ahead)
    body = {
        "title": "Offene Werkstatt",
        "room_id": 1,
        "start": begin.isoformat(),
        "end": (begin + timedelta(hours=1)).isoformat(),
    }
    async with api.post("/api/v1/seminars", json=body) as response:
        seminar = await response.json()
        assert response.status == 201, seminar
    occurrence = seminar["occurrences"][0]
    # The occurrence API carries the signed join link.
    async with api.get(f"/api/v1/occurrences/{occurrence['id']}") as response:
        occurrence = await response.json()
    if start:
        async with api.post(f"/api/v1/occurrences/{occurrence['id']}/start") as response:
            occurrence = await response.json()
            assert response.status == 200, occurrence
    return occurrence


def token_of(occurrence: dict) -> str:
    return occurrence["join_url"].split("?t=", 1)[1]


@pytest_asyncio.fixture
async def webrtc_app(tmp_path: Path) -> AsyncIterator[RunningApp]:
    """The real app, loopback host candidates, a viewer limit of 2, no real media pipeline."""
    config = make_config(
        tmp_path / "data",
        free_tcp_port(),
        KNOTEN_WEBRTC_HOST_ADDRESSES="127.0.0.1",
        KNOTEN_WEBRTC_MAX_VIEWERS="2",
        KNOTEN_WEBRTC_CONNECT_TIMEOUT_S="5",
    )
    async with serve(config, session_runner=LoggingSessionRunner()) as running:
        yield running


@pytest_asyncio.fixture
async def admin(webrtc_app: RunningApp) -> AsyncIterator[aiohttp.ClientSession]:
    async with admin_session(webrtc_app, timeout=20) as session:
        yield session


async def post_offer(
    http: aiohttp.ClientSession, url: str, token: str | None, body: bytes | str, **headers: str
) -> tuple[int, dict[str, str], bytes]:
    all_headers = {"Content-Type": "application/sdp", **headers}
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    async with http.post(url, data=body, headers=all_headers) as response:
        return response.status, dict(response.headers), await response.read()


async def test_whep_statuses_with_aiortc_clients(
    webrtc_app: RunningApp,
    admin: aiohttp.ClientSession,
    http: aiohttp.ClientSession,
    tmp_path: Path,
) -> None:
    registry = webrtc_app.app[WEBRTC]
    live = await create_live_occurrence(admin)
    other = await create_live_occurrence(admin, start=False, minutes_ahead=180)
    oid, token = live["id"], token_of(live)
    url = webrtc_app.url(f"/whep/{oid}")
    clients: list[Client] = []
    try:
        first = Client()
        clients.append(first)
        offer = await first.offer()

        # 409 before the pipeline opened the feed, although the occurrence is marked live.
        status, _, body = await post_offer(http, url, token, offer)
        assert status == 409 and b"not_live" in body
        # 401 without/with a forged token, 403 with the token of another date, 404 unknown.
        assert (await post_offer(http, url, None, offer))[0] == 401
        assert (await post_offer(http, url, token[:-2] + "xx", offer))[0] == 401
        assert (await post_offer(http, url, token_of(other), offer))[0] == 403
        missing = webrtc_app.url("/whep/999999")
        assert (await post_offer(http, missing, token.replace(f"{oid}.", "999999.", 1), offer))[
            0
        ] == 401  # a token is only ever signed for a real occurrence: 401 before 404
        assert (await post_offer(http, webrtc_app.url("/whep/abc"), token, offer))[0] == 404
        assert (await post_offer(http, url, token, offer, **{"Content-Type": "text/plain"}))[
            0
        ] == 415

        async with feed_producer(tmp_path / "feed.sock") as feed:
            await registry.open(oid, feed, live["title"])
            status, headers, body = await post_offer(http, url, token, offer)
            assert status == 201, body
            assert headers["Content-Type"].startswith("application/sdp")
            location = headers["Location"]
            assert location.startswith(f"/whep/{oid}/")
            answer = body.decode()
            assert "H264" in answer and "VP8" not in answer and "opus" in answer
            await first.accept(answer)
            await until(lambda: first.frames["video"] >= 30 and first.frames["audio"] >= 20)
            assert first.size == (1280, 720)
            viewer = await registry.viewer_stats(oid, location.rsplit("/", 1)[1])
            assert viewer is not None
            # Sent by Knoten's own RTP path (GCM negotiated with aiortc), not aiortc's loop,
            # from one of the viewer workers (the default: two of them).
            assert isinstance(registry, ShardedRegistry) and viewer["worker"] in (0, 1)
            assert viewer["send_path"] == {
                "video": "direct/aes-gcm",
                "audio": "direct/aes-gcm",
            }

            # 400: offers without usable video; 413: too large. The viewer keeps receiving.
            before = first.frames["video"]
            for index, bad in enumerate(hostile_offers(offer)):
                status, _, body = await post_offer(http, url, token, bad)
                assert status in (400, 413), (index, status, body[:80])
                assert b'"error"' in body
            await until(lambda: first.frames["video"] >= before + 20)

            # Second viewer fits, the third hits the limit of 2: 503 + Retry-After.
            second = Client()
            clients.append(second)
            status, _, body = await post_offer(http, url, token, await second.offer())
            assert status == 201
            await second.accept(body.decode())
            third = Client()
            clients.append(third)
            status, headers, body = await post_offer(http, url, token, await third.offer())
            assert status == 503 and int(headers["Retry-After"]) > 0
            assert b"viewer_limit" in body

            stats: dict = {}
            for _ in range(40):  # the workers report their counters once a second
                async with admin.get(f"/api/v1/occurrences/{oid}/viewers") as response:
                    stats = await response.json()
                if stats.get("packets"):
                    break
                await asyncio.sleep(0.1)
            assert stats["live"] is True and stats["viewers"] == 2 and stats["packets"] > 0
            async with http.get(webrtc_app.url("/metrics")) as response:
                metrics = await response.text()
            assert "knoten_webrtc_viewers 2.0" in metrics
            assert "knoten_webrtc_time_to_first_frame_seconds_count" in metrics

            # DELETE ends the viewer on the server; a second DELETE finds it gone: 204.
            async with http.delete(
                webrtc_app.url(location), headers={"Authorization": f"Bearer {token}"}
            ) as response:
                assert response.status == 200
            assert registry.viewer_count(oid) == 1
            async with http.delete(
                webrtc_app.url(location), headers={"Authorization": f"Bearer {token}"}
            ) as response:
                assert response.status == 204
            await registry.close(oid)
            assert registry.viewer_count() == 0
    finally:
        for client in clients:
            await client.close()


def hostile_offers(good: str) -> list[bytes]:
    """20 malformed or hostile offers, each answerable only with a 4xx."""
    video_only = good.split("m=audio")[0]
    audio_only = (
        good.split("m=video")[0]
        if good.index("m=audio") < good.index("m=video")
        else (good.split("m=video")[0] + "m=audio" + good.split("m=audio")[1])
    )
    # Audio-only viewers are answered (tests/knoten/test_whep_interop.py); an audio section
    # without Opus, or one that only sends, is nothing a viewer can receive.
    no_media = good.split("m=")[0]
    return [
        b"",
        b"   \r\n",
        bytes(range(256)) * 4,
        b"v=0\r\n" + b"a=x\r\n" * 200_000,  # ≈ 1 MB
        b"hello world",
        no_media.encode(),
        re.sub(r"opus/48000/2", "FOO/48000/2", audio_only, flags=re.I).encode(),
        good.replace("H264", "FOO").replace("VP8", "BAR").encode(),
        good.replace("packetization-mode=1", "packetization-mode=0").replace("VP8", "X").encode(),
        good.replace("a=ice-ufrag:", "a=ice-ufrag-gone:").encode(),
        good.replace("a=fingerprint:", "a=fingerprint-gone:").encode(),
        audio_only.replace("a=recvonly", "a=sendonly").encode(),
        good.replace("a=candidate:", "a=candidate:bogus ").encode(),
        good.replace(
            "a=candidate:", "a=candidate:1 1 udp notanumber 999.1.1.1 x typ host\r\na=candidate:"
        ).encode(),
        good.replace("v=0", "v=1").encode(),
        ("\x00" + good).encode(),
        good.encode("utf-16"),
        re.sub(r"m=video (\d+) UDP/TLS/RTP/SAVPF [\d ]+", r"m=video \1 RTP/AVP 31", good).encode(),
        (video_only.replace("a=recvonly", "a=sendonly")).encode(),
        ("v=0\r\n" + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n" * 3).encode(),
    ]
