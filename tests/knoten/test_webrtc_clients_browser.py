"""WebRTC clients nobody here wrote, from the npm registry, in Chromium on another origin:
Medooze's ``whip-whep`` (``WHEPClient`` and ``WHIPClient``, the ES modules the package ships,
served as they are by a stand-in partner site on a second loopback port).

- The WHEP player plays Knoten: frames advance and audio arrives (``getStats``). It trickles its
  candidates by PATCH after the offer: Knoten answers 405 with ``Allow`` and the connection
  still comes up (the browser's checks reach Knoten's candidates from the answer). ``stop()``
  closes the peer first and DELETEs after.
- The WHIP publisher sends Chromium's fake camera and microphone (H.264 from OpenH264, Opus) as
  a room's camera: the room goes from slate to camera, and a WHEP viewer receives the picture.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from knoten.keys import SEMINAR_CONTROLLER, WEBRTC, WHIP_INGEST
from schedules.ports import LoggingSessionRunner
from tests.knoten.test_whep import create_live_occurrence, feed_producer, post_offer, token_of
from tests.knoten.test_whip_ingest import free_udp_block
from tests.support.app_fixtures import admin_session, make_config, serve
from tests.support.browser import eval_with_timeout, wait_for_js
from tests.support.js_tools import js_module_file
from tests.support.ports import free_tcp_port
from tests.support.sites import other_origin_site
from tests.support.webrtc_peers import Client, until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(90),
    pytest.mark.usefixtures("no_orphan_ffmpeg"),
]

CLIENTS = ("whep.js", "whip.js")  # ES modules, as the package ships them

PAGE = """<!doctype html>
<html lang="de"><meta charset="utf-8"><title>Partner-Seite</title>
<video id="v" autoplay muted playsinline></video>
<script type="module">
import { WHEPClient } from "/whep.js";
import { WHIPClient } from "/whip.js";
window.play = async (url, token) => {
  const pc = new RTCPeerConnection();
  pc.addTransceiver("video", { direction: "recvonly" });
  pc.addTransceiver("audio", { direction: "recvonly" });
  pc.ontrack = (event) => { document.getElementById("v").srcObject = event.streams[0]
    || new MediaStream([event.track]); };
  window.pc = pc;
  window.whep = new WHEPClient();
  await window.whep.view(pc, url, token);
  return pc.connectionState;
};
window.publish = async (url, token) => {
  const media = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
  const pc = new RTCPeerConnection();
  for (const track of media.getTracks()) pc.addTransceiver(track, { direction: "sendonly" });
  window.pc = pc;
  window.whip = new WHIPClient();
  await window.whip.publish(pc, url, token);
  return pc.connectionState;
};
window.sent = async () => {
  const out = { state: window.pc.connectionState, frames: 0, codec: "" };
  const stats = await window.pc.getStats();
  for (const report of stats.values()) {
    if (report.type === "outbound-rtp" && report.kind === "video") {
      out.frames = report.framesEncoded || 0;
      out.codec = (stats.get(report.codecId) || {}).mimeType || "";
    }
  }
  return out;
};
window.counters = async () => {
  const out = { state: window.pc.connectionState, frames: 0, samples: 0, audioBytes: 0,
                width: document.getElementById("v").videoWidth };
  for (const report of (await window.pc.getStats()).values()) {
    if (report.type !== "inbound-rtp") continue;
    if (report.kind === "video") out.frames = report.framesDecoded || 0;
    if (report.kind === "audio") {
      out.samples = report.totalSamplesReceived || 0;
      out.audioBytes = report.bytesReceived || 0;
    }
  }
  return out;
};
</script>
"""


@pytest_asyncio.fixture
async def partner_site() -> AsyncIterator[str]:
    """A second loopback origin: the partner's page and the client modules from npm."""
    files = {f"/{name}": js_module_file(f"whip-whep/{name}").read_bytes() for name in CLIENTS}
    async with other_origin_site({"/": PAGE, **files}) as origin:
        yield origin


async def test_npm_whep_player_on_another_origin_plays(tmp_path, page, partner_site) -> None:
    config = make_config(
        tmp_path / "data",
        free_tcp_port(),
        KNOTEN_WEBRTC_HOST_ADDRESSES="127.0.0.1",
        KNOTEN_CORS_ORIGINS=partner_site,
    )
    statuses: dict[str, list[int]] = {}
    page.on(
        "response",
        lambda r: (
            statuses.setdefault(r.request.method, []).append(r.status)
            if "/whep/" in r.url
            else None
        ),
    )
    async with serve(config, session_runner=LoggingSessionRunner()) as app:
        async with admin_session(app, timeout=20) as admin:
            occurrence = await create_live_occurrence(admin)
        oid = occurrence["id"]
        registry = app.app[WEBRTC]
        async with feed_producer(tmp_path / "feed.sock", size="640x360") as feed:
            await registry.open(oid, feed, occurrence["title"])
            try:
                await page.goto(partner_site + "/")
                await eval_with_timeout(
                    page,
                    "([u, t]) => play(u, t)",
                    20,
                    [app.url(f"/whep/{oid}"), token_of(occurrence)],
                )
                first = await wait_for_js(page, "counters().then(c => c.frames > 0 && c)", 20)
                later = await wait_for_js(
                    page, f"counters().then(c => c.frames >= {first['frames']} + 30 && c)", 20
                )
                assert later["state"] == "connected" and later["width"] == 640, later
                assert later["samples"] > 0 and later["audioBytes"] > 0, later
                assert statuses["POST"] == [201]
                assert statuses.get("PATCH") and set(statuses["PATCH"]) == {405}, statuses

                # The player closes its peer, then DELETEs: the viewer has gone or goes now.
                await eval_with_timeout(page, "() => whep.stop()", 10)
                await until(lambda: bool(statuses.get("DELETE")) and registry.viewer_count() == 0)
                assert statuses["DELETE"][0] in (200, 204), statuses
            finally:
                await registry.close(oid)


async def test_npm_whip_publisher_in_chromium_becomes_the_room_camera(
    tmp_path, page, partner_site
) -> None:
    config = make_config(
        tmp_path / "data",
        free_tcp_port(),
        KNOTEN_WEBRTC_HOST_ADDRESSES="127.0.0.1",
        KNOTEN_CORS_ORIGINS=partner_site,
        KNOTEN_WHIP_PORT_BASE=str(free_udp_block()),
        KNOTEN_WEBRTC_WORKERS="0",
    )
    viewer = Client()
    async with serve(config) as app:
        async with admin_session(app, timeout=20) as admin:
            async with admin.patch("/api/v1/rooms/1", json={"source": "whip"}) as response:
                assert response.status == 200
            async with admin.get("/api/v1/rooms/1/ingest") as response:
                ingest = await response.json()
            occurrence = await create_live_occurrence(admin)
        session = app.app[SEMINAR_CONTROLLER].session(occurrence["id"])
        assert session is not None
        try:
            await page.goto(partner_site + "/")
            await eval_with_timeout(
                page, "([u, t]) => publish(u, t)", 20, [ingest["url"], ingest["passphrase"]]
            )
            sent = await wait_for_js(page, "sent().then(s => s.frames > 30 && s)", 20)
            assert sent["codec"] == "video/H264", sent
            await until(lambda: session.source_status().on_air == "camera", 30)
            assert app.app[WHIP_INGEST].publisher(1) is not None

            async with aiohttp.ClientSession() as http:
                status, _, body = await post_offer(
                    http, app.url(f"/whep/{occurrence['id']}"), token_of(occurrence),
                    await viewer.offer(),
                )  # fmt: skip
            assert status == 201, body
            await viewer.accept(body.decode())
            await until(lambda: viewer.frames["video"] >= 30 and viewer.frames["audio"] > 0, 20)
            assert viewer.size == (1280, 720)

            await eval_with_timeout(page, "() => whip.stop()", 10)
            await until(lambda: app.app[WHIP_INGEST].publisher(1) is None, 10)
        finally:
            await viewer.close()
