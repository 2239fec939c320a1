"""The join page in headless Chromium against the real app and a real FFmpeg feed.

1. Live: within 2 s of opening the join link the video has the source's size, framesDecoded
   grows at the source rate (30 fps) and audio bytes arrive; leaving closes the server's peer.
2. Waiting: before the start the page says when it begins, then connects by itself once the
   occurrence goes live.
Only loopback requests are made (no CDN, no STUN).
"""

# ruff: noqa: F811 - the fixtures imported from test_whep are requested as arguments

from __future__ import annotations

import time
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Page

from knoten.keys import WEBRTC
from tests.knoten.test_whep import (  # noqa: F401 - fixtures
    admin,
    create_live_occurrence,
    feed_producer,
    webrtc_app,
)
from tests.support.app_fixtures import RunningApp
from tests.support.browser import RequestLog, eval_with_timeout, wait_for_js

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(60)]

INBOUND = """async () => {
  const pc = window.knotenJoin.peer();
  if (!pc) return null;
  const stats = await pc.getStats();
  const out = {framesDecoded: 0, audioBytes: 0, mimeType: null};
  stats.forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "video") {
      out.framesDecoded = r.framesDecoded || 0;
      const codec = r.codecId ? stats.get(r.codecId) : null;
      out.mimeType = codec ? codec.mimeType : null;
      out.diag = {pli: r.pliCount, nack: r.nackCount, lost: r.packetsLost, recv: r.framesReceived,
                  key: r.keyFramesDecoded, dropped: r.framesDropped, pkts: r.packetsReceived,
                  jb: r.jitterBufferDelay, jbe: r.jitterBufferEmittedCount};
    }
    if (r.type === "inbound-rtp" && r.kind === "audio") out.audioBytes = r.bytesReceived || 0;
  });
  const v = document.getElementById("player");
  out.width = v.videoWidth; out.height = v.videoHeight;
  return out;
}"""


FIRST_FRAME = """async (limitMs) => {
  const video = document.getElementById("player");
  const t0 = performance.now();
  let decodedAt = null, sizedAt = null;
  while (performance.now() - t0 < limitMs) {
    const pc = window.knotenJoin.peer();
    if (pc && decodedAt === null) {
      const stats = await pc.getStats();
      stats.forEach((r) => {
        if (r.type === "inbound-rtp" && r.kind === "video" && r.framesDecoded > 0) decodedAt = performance.now();
      });
    }
    if (sizedAt === null && video.videoWidth > 0) sizedAt = performance.now();
    if (decodedAt !== null && sizedAt !== null) {
      const s = await (""" + INBOUND + """)();
      return {...s, decodedAt: Math.round(decodedAt), sizedAt: Math.round(sizedAt)};
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return null;
}"""


async def _close_page_peer(page: Page) -> None:
    # An open page peer keeps the server sending until ICE consent expires (MEDIA-NOTES).
    if not page.is_closed():
        await eval_with_timeout(page, "window.knotenJoin && window.knotenJoin.leave()", 5)


async def test_join_link_plays_live_and_leaving_closes_the_peer(
    page: Page,
    webrtc_app: RunningApp,
    admin: aiohttp.ClientSession,
    request_log: RequestLog,
    tmp_path: Path,
) -> None:
    registry = webrtc_app.app[WEBRTC]
    occurrence = await create_live_occurrence(admin)
    oid = occurrence["id"]
    async with feed_producer(tmp_path / "feed.sock") as feed:
        await registry.open(oid, feed, occurrence["title"])
        await registry._feeds[oid].hub.has_keyframe.wait()  # the feed is flowing
        try:
            opened = time.monotonic()
            await page.goto(occurrence["join_url"])
            assert await page.locator("h1").text_content() == "Offene Werkstatt"
            first = await eval_with_timeout(page, FIRST_FRAME, 6, 5000)
            elapsed = time.monotonic() - opened
            timeline = await eval_with_timeout(page, "window.knotenJoin.timeline()", 5)
            print("timeline (ms since navigation)", timeline, "first frame", elapsed, first)
            print("server", registry.stats(oid), [v.stats() for v in registry._feeds[oid].viewers.values()])
            assert elapsed < 2.0, f"first decoded frame after {elapsed:.2f} s: {timeline}"
            assert (first["width"], first["height"]) == (1280, 720)
            assert first["mimeType"] == "video/H264"
            # Rate: measured over 2 s after the start burst (the last GOP) has been decoded.
            await page.wait_for_timeout(500)
            a = await eval_with_timeout(page, f"({INBOUND})()", 5)
            t_a = time.monotonic()
            await page.wait_for_timeout(2000)
            b = await eval_with_timeout(page, f"({INBOUND})()", 5)
            fps = (b["framesDecoded"] - a["framesDecoded"]) / (time.monotonic() - t_a)
            assert 25 <= fps <= 35, fps
            assert b["audioBytes"] > a["audioBytes"] > 0
            assert await page.get_by_test_id("message").text_content() == "Live"
            assert registry.viewer_count(oid) == 1

            await eval_with_timeout(page, "window.knotenJoin.leave()", 5)
            deadline = time.monotonic() + 5
            while registry.viewer_count(oid) and time.monotonic() < deadline:
                await page.wait_for_timeout(50)
            assert registry.viewer_count(oid) == 0, "the server-side peer was not closed"
        finally:
            await _close_page_peer(page)
            await registry.close(oid)
    assert request_log.non_loopback() == [] and request_log.blocked == []


async def test_page_waits_then_connects_when_live(
    page: Page,
    webrtc_app: RunningApp,
    admin: aiohttp.ClientSession,
    request_log: RequestLog,
    tmp_path: Path,
) -> None:
    registry = webrtc_app.app[WEBRTC]
    occurrence = await create_live_occurrence(admin, start=False, minutes_ahead=90)
    oid = occurrence["id"]
    try:
        # Chromium asks for English; the German texts are the default people get.
        await page.goto(occurrence["join_url"] + "&lang=de")
        message = await wait_for_js(
            page, "document.getElementById('message').textContent || null", 5
        )
        start_local = occurrence["start"][11:16]
        assert f"beginnt um {start_local} Uhr" in message
        assert await eval_with_timeout(page, "window.knotenJoin.peer() === null", 5)

        async with admin.post(f"/api/v1/occurrences/{oid}/start") as response:
            assert response.status == 200
        async with feed_producer(tmp_path / "feed.sock", size="640x360") as feed:
            await registry.open(oid, feed, occurrence["title"])
            live = await wait_for_js(
                page, f"({INBOUND})().then(s => s && s.framesDecoded > 10 && s)", 10
            )
            assert (live["width"], live["height"]) == (640, 360)
            assert registry.viewer_count(oid) == 1
            await _close_page_peer(page)
            await registry.close(oid)
    finally:
        await _close_page_peer(page)
    assert request_log.non_loopback() == []
