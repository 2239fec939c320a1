"""WHEP as clients nobody here wrote speak it: GStreamer-shaped offers, RSA certificates, players
that close first and DELETE after, players that try trickle ICE. Real aiortc peers against the
real app and a real FFmpeg feed; offers aiortc cannot produce are rewritten from its own.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from knoten.keys import WEBRTC
from schedules.ports import LoggingSessionRunner
from tests.knoten.test_whep import create_live_occurrence, feed_producer, post_offer, token_of
from tests.support.app_fixtures import RunningApp, admin_session, make_config, serve
from tests.support.ports import free_tcp_port
from tests.support.webrtc_peers import Client, until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]


def bundle_only_audio(offer: str) -> str:
    """``offer`` as GStreamer's webrtcbin shapes it (max-bundle): the audio section carries port
    0, ``a=bundle-only`` and no candidates of its own; it travels on the video's transport."""
    head, *sections = re.split(r"(?=^m=)", offer, flags=re.M)
    shaped = []
    for section in sections:
        if section.startswith("m=audio"):
            section = re.sub(r"^m=audio \d+", "m=audio 0", section)
            section = re.sub(r"^a=(candidate|end-of-candidates).*\r?\n", "", section, flags=re.M)
            section = section.replace("a=mid:", "a=bundle-only\r\na=mid:", 1)
        shaped.append(section)
    return head + "".join(shaped)


def section(sdp: str, kind: str) -> str:
    return next(s for s in re.split(r"(?=^m=)", sdp, flags=re.M) if s.startswith(f"m={kind}"))


@pytest_asyncio.fixture
async def live(tmp_path: Path) -> AsyncIterator[tuple[RunningApp, int, str]]:
    """The real app with a live occurrence whose WebRTC feed runs: ``(app, id, join token)``."""
    config = make_config(
        tmp_path / "data",
        free_tcp_port(),
        KNOTEN_WEBRTC_HOST_ADDRESSES="127.0.0.1",
        KNOTEN_WEBRTC_CONNECT_TIMEOUT_S="10",
    )
    async with serve(config, session_runner=LoggingSessionRunner()) as running:
        async with admin_session(running, timeout=20) as admin:
            occurrence = await create_live_occurrence(admin)
        registry = running.app[WEBRTC]
        async with feed_producer(tmp_path / "feed.sock", size="640x360") as feed:
            await registry.open(occurrence["id"], feed, occurrence["title"])
            try:
                yield running, occurrence["id"], token_of(occurrence)
            finally:
                await registry.close(occurrence["id"])


async def join(
    http: aiohttp.ClientSession, app: RunningApp, oid: int, token: str, client: Client, offer: str
) -> tuple[str, str]:
    """POST ``offer`` for ``client``, accept the answer: ``(answer, Location)``."""
    status, headers, body = await post_offer(http, app.url(f"/whep/{oid}"), token, offer)
    assert status == 201, body
    await client.accept(body.decode())
    return body.decode(), headers["Location"]


async def test_bundle_only_audio_and_audio_only_offers_get_audio(
    live: tuple[RunningApp, int, str], http: aiohttp.ClientSession
) -> None:
    """Regression: a GStreamer webrtcbin offer (audio ``a=bundle-only``, port 0) had its audio
    answered ``inactive``; an offer with audio only was a 400."""
    app, oid, token = live
    gstreamer, listener = Client(), Client(("audio",))
    try:
        offer = bundle_only_audio(await gstreamer.offer())
        assert "m=audio 0 " in offer and "a=bundle-only" in offer
        answer, _ = await join(http, app, oid, token, gstreamer, offer)
        audio = section(answer, "audio")
        assert "a=sendonly" in audio and "opus" in audio.lower(), audio
        assert "a=inactive" not in answer

        answer, _ = await join(http, app, oid, token, listener, await listener.offer())
        assert "m=video" not in answer and "a=sendonly" in section(answer, "audio")

        await until(lambda: gstreamer.frames["video"] >= 30 and gstreamer.frames["audio"] >= 20)
        await until(lambda: listener.frames["audio"] >= 20)
        assert listener.frames["video"] == 0
    finally:
        await gstreamer.close()
        await listener.close()


@pytest.mark.parametrize("offered_setup", ["actpass", "passive"])
async def test_peer_with_rsa_certificate(
    live: tuple[RunningApp, int, str], http: aiohttp.ClientSession, offered_setup: str
) -> None:
    """Regression: with a peer whose DTLS certificate is RSA the handshake failed with "no
    shared cipher" (Knoten answered ``active``, i.e. was the client, offering ECDSA suites
    only). Now Knoten answers ``passive`` when the offer lets it choose, and as the client
    (the offer insists on ``passive``) it offers RSA suites too."""
    app, oid, token = live
    peer = Client(rsa=True)
    try:
        offer = (await peer.offer()).replace("a=setup:actpass", f"a=setup:{offered_setup}")
        answer, _ = await join(http, app, oid, token, peer, offer)
        expected = "a=setup:passive" if offered_setup == "actpass" else "a=setup:active"
        assert expected in answer
        await until(lambda: peer.frames["video"] >= 30 and peer.frames["audio"] >= 10, 20)
        assert peer.pc.connectionState == "connected"
    finally:
        await peer.close()


async def test_patch_is_405_with_allow_and_delete_after_close_is_204(
    live: tuple[RunningApp, int, str], http: aiohttp.ClientSession
) -> None:
    """Regression: PATCH answered 405 without ``Allow``; DELETE after the player had closed its
    peer answered 404."""
    app, oid, token = live
    registry = app.app[WEBRTC]
    auth = {"Authorization": f"Bearer {token}"}
    first, second = Client(), Client()
    try:
        _, location = await join(http, app, oid, token, first, await first.offer())
        await until(lambda: first.frames["video"] >= 5)
        fragment = "a=ice-ufrag:x\r\na=ice-pwd:y\r\na=candidate:1 1 udp 1 127.0.0.1 9 typ host\r\n"
        trickle = {**auth, "Content-Type": "application/trickle-ice-sdpfrag"}
        async with http.patch(app.url(location), data=fragment, headers=trickle) as response:
            assert response.status == 405
            assert response.headers["Allow"] == "DELETE, OPTIONS"
            assert (await response.json())["error"]["code"] == "method_not_allowed"

        # A player that closes its peer first, then deletes the session.
        await first.close()
        await until(lambda: registry.viewer_count(oid) == 0, 15)
        async with http.delete(app.url(location), headers=auth) as response:
            assert response.status == 204

        # A live session: 200, then 204 for the repeated DELETE; ids we never issue: 404.
        _, location = await join(http, app, oid, token, second, await second.offer())
        async with http.delete(app.url(location), headers=auth) as response:
            assert response.status == 200
        assert registry.viewer_count(oid) == 0
        async with http.delete(app.url(location), headers=auth) as response:
            assert response.status == 204
        async with http.delete(app.url(f"/whep/{oid}/nonsense"), headers=auth) as response:
            assert response.status == 404
        async with http.delete(app.url(location)) as response:
            assert response.status == 401  # the join token is still required
    finally:
        await first.close()
        await second.close()
