"""Proves the headless-Chromium fixtures (harness self-tests).

A tiny aiohttp page on a loopback port runs a loopback WebRTC call inside Chromium (fake camera ->
RTCPeerConnection -> RTCPeerConnection -> <video>): if the launch flags were wrong (no fake device,
loopback candidates hidden or forbidden) no frame would ever be decoded. The request log must see
only 127.0.0.1, and a request to anywhere else must be refused and logged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from playwright.async_api import Page

from tests.support.browser import RequestLog, eval_with_timeout, wait_for_js
from tests.support.ports import free_tcp_port

pytestmark = [pytest.mark.browser, pytest.mark.timeout(60)]

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>loopback call</title></head>
<body>
<video id="remote" autoplay muted playsinline></video>
<script src="/call.js"></script>
</body></html>
"""

# Both peers live in the page; candidates are handed over directly (no signalling server).
CALL_JS = """
window.pcs = [];
window.localStream = null;
window.startCall = async () => {
  window.localStream = await navigator.mediaDevices.getUserMedia(
    {video: {width: 320, height: 240}, audio: true});
  const sender = new RTCPeerConnection({iceServers: []});
  const receiver = new RTCPeerConnection({iceServers: []});
  window.pcs.push(sender, receiver);
  sender.onicecandidate = (e) => { if (e.candidate) receiver.addIceCandidate(e.candidate); };
  receiver.onicecandidate = (e) => { if (e.candidate) sender.addIceCandidate(e.candidate); };
  receiver.ontrack = (e) => { document.getElementById("remote").srcObject = e.streams[0]; };
  for (const track of window.localStream.getTracks()) sender.addTrack(track, window.localStream);
  await sender.setLocalDescription();
  await receiver.setRemoteDescription(sender.localDescription);
  await receiver.setLocalDescription();
  await sender.setRemoteDescription(receiver.localDescription);
  return true;
};
window.inboundVideo = async () => {
  if (window.pcs.length < 2) return null;
  const stats = await window.pcs[1].getStats();
  let found = null;
  stats.forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "video") {
      const codec = r.codecId ? stats.get(r.codecId) : null;
      found = {framesDecoded: r.framesDecoded || 0, mimeType: codec ? codec.mimeType : null};
    }
  });
  return found;
};
window.closeCall = () => {
  for (const pc of window.pcs) pc.close();
  if (window.localStream) for (const t of window.localStream.getTracks()) t.stop();
  return window.pcs.map((pc) => pc.connectionState);
};
"""


@pytest_asyncio.fixture
async def call_site() -> AsyncIterator[str]:
    """Serve the test page on a free 127.0.0.1 port (getUserMedia needs a secure context, and
    http://127.0.0.1 counts as one; about:blank does not)."""

    async def index(_request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    async def call_js(_request: web.Request) -> web.Response:
        return web.Response(text=CALL_JS, content_type="application/javascript")

    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_get("/call.js", call_js)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_tcp_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_loopback_webrtc_call_decodes_frames(
    page: Page, call_site: str, request_log: RequestLog, artifacts_dir: Path
) -> None:
    await page.goto(call_site + "/")
    try:
        assert await eval_with_timeout(page, "window.startCall()", 10) is True

        first = await wait_for_js(
            page, "window.inboundVideo().then(s => s && s.framesDecoded > 0 && s)", 10
        )
        # Growing, not just non-zero: the call keeps flowing (≈30 fps from the fake camera).
        later = await wait_for_js(
            page,
            "(n) => window.inboundVideo().then(s => s && s.framesDecoded >= n + 10 && s)",
            5,
            arg=first["framesDecoded"],
        )
        assert later["mimeType"].startswith("video/")
        width, height = await wait_for_js(
            page,
            """() => { const v = document.getElementById("remote");
                       return v.videoWidth > 0 && [v.videoWidth, v.videoHeight]; }""",
            5,
        )
        assert width > 0 and height > 0
        # The teardown screenshot comes after closeCall() (black video): keep one of the live call.
        await page.screenshot(path=str(artifacts_dir / "live-call.png"), timeout=5_000)
    finally:
        # Close both peers explicitly: an open call keeps encoding until ICE consent expires.
        states = await eval_with_timeout(page, "window.closeCall()", 5)
    assert states == ["closed", "closed"]

    assert request_log.urls == [call_site + "/", call_site + "/call.js"]
    assert request_log.non_loopback() == [] and request_log.blocked == []


async def test_non_loopback_requests_are_refused_and_logged(
    page: Page, call_site: str, request_log: RequestLog
) -> None:
    await page.goto(call_site + "/")
    # 192.0.2.0/24 is TEST-NET-1: never routable, so even an unguarded request could not leak.
    outcome = await eval_with_timeout(
        page,
        """fetch("http://192.0.2.1/leak", {mode: "no-cors"})
             .then(() => "reached", (e) => "failed: " + e.message)""",
        5,
    )
    assert outcome.startswith("failed")
    assert request_log.blocked == ["http://192.0.2.1/leak"]
    assert request_log.non_loopback() == ["http://192.0.2.1/leak"]
    assert all(
        url.startswith(call_site) for url in request_log.urls if url not in request_log.blocked
    )
