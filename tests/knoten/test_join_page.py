"""The join page in headless Chromium against the real app and its real live pipeline.

The occurrence is started through the API with the default test-pattern room, so the WebRTC feed
comes from the live session (master video copied, Opus audio), exactly as in production.

1. Live: within 2 s of opening the join link the video has the source's size, framesDecoded
   grows at the source rate (30 fps) and audio bytes arrive; leaving closes the server's peer.
2. Waiting: before the start the page says when it begins, then connects by itself once the
   occurrence goes live.
Only loopback requests are made (no CDN, no STUN).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from playwright.async_api import Page, expect

from knoten.keys import WEBRTC
from knoten.web.dates import MONTHS, WEEKDAYS
from tests.knoten.test_whep import create_live_occurrence
from tests.support.app_fixtures import RunningApp, admin_session, make_config, serve
from tests.support.browser import RequestLog, eval_with_timeout, wait_for_js
from tests.support.ports import free_tcp_port

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(60)]

WEEKDAYS_DE, MONTHS_DE = WEEKDAYS["de"], MONTHS["de"]

INBOUND = """async () => {
  const pc = window.knotenJoin.peer();
  if (!pc) return null;
  const stats = await pc.getStats();
  const out = {framesDecoded: 0, framesDropped: 0, audioBytes: 0, mimeType: null};
  stats.forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "video") {
      out.framesDecoded = r.framesDecoded || 0;
      out.framesDropped = r.framesDropped || 0;
      out.pli = r.pliCount; out.nack = r.nackCount; out.lost = r.packetsLost;
      const codec = r.codecId ? stats.get(r.codecId) : null;
      out.mimeType = codec ? codec.mimeType : null;
    }
    if (r.type === "inbound-rtp" && r.kind === "audio") out.audioBytes = r.bytesReceived || 0;
  });
  const v = document.getElementById("player");
  out.width = v.videoWidth; out.height = v.videoHeight;
  return out;
}"""

# Polls inside the page every 10 ms (a round trip per poll from the test would add its own
# latency) until the video decoded a frame and the element knows its size; times are
# performance.now(), i.e. ms since navigation, like the page's own timeline.
FIRST_FRAME = (
    """async (limitMs) => {
  const video = document.getElementById("player");
  let decodedAt = null, sizedAt = null;
  while (performance.now() < limitMs) {
    const pc = window.knotenJoin.peer();
    if (pc && decodedAt === null) {
      const stats = await pc.getStats();
      stats.forEach((r) => {
        if (r.type === "inbound-rtp" && r.kind === "video" && r.framesDecoded > 0) {
          decodedAt = performance.now();
        }
      });
    }
    if (sizedAt === null && video.videoWidth > 0) sizedAt = performance.now();
    if (decodedAt !== null && sizedAt !== null) {
      const s = await ("""
    + INBOUND
    + """)();
      return {...s, decodedAt: Math.round(decodedAt), sizedAt: Math.round(sizedAt)};
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return null;
}"""
)


@pytest_asyncio.fixture
async def live_app(tmp_path: Path) -> AsyncIterator[RunningApp]:
    """The real app with its real live pipeline (test-pattern room), loopback ICE only."""
    config = make_config(
        tmp_path / "data", free_tcp_port(), KNOTEN_WEBRTC_HOST_ADDRESSES="127.0.0.1"
    )
    async with serve(config) as running:
        yield running


@pytest_asyncio.fixture
async def admin(live_app: RunningApp) -> AsyncIterator[aiohttp.ClientSession]:
    async with admin_session(live_app, timeout=20) as session:
        yield session


async def wait_for_feed(admin: aiohttp.ClientSession, oid: int, timeout: float = 25) -> dict:
    """Wait until the pipeline's WebRTC feed delivered a keyframe; return the occurrence."""
    deadline = time.monotonic() + timeout
    while True:
        async with admin.get(f"/api/v1/occurrences/{oid}/viewers") as response:
            stats = await response.json()
        async with admin.get(f"/api/v1/occurrences/{oid}") as response:
            occurrence = await response.json()
        source = occurrence.get("source") or {}
        if (stats.get("feed") or {}).get("keyframes", 0) >= 1 and source.get("width"):
            return occurrence
        assert time.monotonic() < deadline, f"no WebRTC feed: {stats} {source}"
        await asyncio.sleep(0.1)


async def _close_page_peer(page: Page) -> None:
    # An open page peer keeps the server sending until ICE consent expires (MEDIA-NOTES).
    if not page.is_closed():
        await eval_with_timeout(page, "window.knotenJoin && window.knotenJoin.leave()", 5)


async def _source_rate(page: Page) -> tuple[float, dict, dict]:
    """framesDecoded per second over 2 s, after the start burst has been decoded."""
    await page.wait_for_timeout(500)
    a = await eval_with_timeout(page, f"({INBOUND})()", 5)
    t_a = time.monotonic()
    await page.wait_for_timeout(2000)
    b = await eval_with_timeout(page, f"({INBOUND})()", 5)
    return (b["framesDecoded"] - a["framesDecoded"]) / (time.monotonic() - t_a), a, b


async def test_join_link_plays_live_and_leaving_closes_the_peer(
    page: Page,
    live_app: RunningApp,
    admin: aiohttp.ClientSession,
    request_log: RequestLog,
) -> None:
    registry = live_app.app[WEBRTC]
    occurrence = await create_live_occurrence(admin)  # started: the pipeline opens the feed
    oid = occurrence["id"]
    try:
        source = (await wait_for_feed(admin, oid))["source"]
        size = (source["width"], source["height"])
        opened = time.monotonic()
        await page.goto(occurrence["join_url"])
        assert await page.locator("h1").text_content() == "Offene Werkstatt"
        first = await eval_with_timeout(page, FIRST_FRAME, 8, 6000)
        elapsed = time.monotonic() - opened
        timeline = dict(await eval_with_timeout(page, "window.knotenJoin.timeline()", 5))
        assert first is not None, f"no decoded frame: {timeline}"
        shown = max(first["decodedAt"], first["sizedAt"])
        print(
            f"\nfirst frame: {elapsed:.2f} s after goto; offer→decoded "
            f"{first['decodedAt'] - timeline['offer']} ms; timeline {timeline}; {first}"
        )
        # Navigation start precedes goto() by a little, so the page's own clock is the bound.
        assert elapsed < 2.0 or shown < 2000, f"first frame after {elapsed:.2f} s: {timeline}"
        assert (first["width"], first["height"]) == size
        assert first["mimeType"] == "video/H264"
        fps, a, b = await _source_rate(page)
        assert 25 <= fps <= 35, (fps, a, b)
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
    assert request_log.non_loopback() == [] and request_log.blocked == []


async def test_page_waits_then_connects_when_live(
    page: Page,
    live_app: RunningApp,
    admin: aiohttp.ClientSession,
    request_log: RequestLog,
) -> None:
    registry = live_app.app[WEBRTC]
    occurrence = await create_live_occurrence(admin, start=False, minutes_ahead=90)
    oid = occurrence["id"]
    try:
        # Chromium asks for English; the German texts are the default people get.
        await page.goto(occurrence["join_url"] + "&lang=de")
        message = await wait_for_js(
            page, "document.getElementById('message').textContent || null", 5
        )
        start_local = occurrence["start"][11:16]
        assert f"um {start_local} Uhr" in message
        # The day is named too ("… beginnt am Dienstag, 16. März um 18:00 Uhr"), in German.
        day = datetime.fromisoformat(occurrence["start"])
        weekday = WEEKDAYS_DE[day.weekday()]
        assert f"beginnt am {weekday}, {day.day}. {MONTHS_DE[day.month - 1]} um" in message
        assert await eval_with_timeout(page, "window.knotenJoin.peer() === null", 5)

        async with admin.post(f"/api/v1/occurrences/{oid}/start") as response:
            assert response.status == 200
        source = (await wait_for_feed(admin, oid))["source"]
        live = await wait_for_js(
            page, f"({INBOUND})().then(s => s && s.framesDecoded > 10 && s)", 15
        )
        assert (live["width"], live["height"]) == (source["width"], source["height"])
        assert await page.get_by_test_id("message").text_content() == "Live"
        assert registry.viewer_count(oid) == 1
        await _close_page_peer(page)
        deadline = time.monotonic() + 5
        while registry.viewer_count(oid) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert registry.viewer_count(oid) == 0
    finally:
        await _close_page_peer(page)
    assert request_log.non_loopback() == []


async def test_busy_reply_shows_connecting_and_the_page_comes_back(
    page: Page,
    live_app: RunningApp,
    admin: aiohttp.ClientSession,
) -> None:
    """Many viewers connecting at once: the service answers 503 "busy" with a short
    Retry-After. The page says it is connecting (not that the room is full) and offers again
    after the wait; the second offer reaches the service and plays. The first answer is made
    by the browser's request routing (a real burst of handshakes is the benchmark's job)."""
    occurrence = await create_live_occurrence(admin)
    oid = occurrence["id"]
    offers: list[float] = []

    async def busy_once(route) -> None:  # type: ignore[no-untyped-def]
        offers.append(time.monotonic())
        if len(offers) == 1:
            await route.fulfill(
                status=503,
                headers={"Retry-After": "1", "Content-Type": "application/json"},
                body='{"error": {"code": "busy", "message": "too many viewers connecting"}}',
            )
        else:
            await route.continue_()

    await page.route(f"**/whep/{oid}", busy_once)
    # Every text the status line shows, in order.
    await page.add_init_script(
        """document.addEventListener("DOMContentLoaded", () => {
  const m = document.getElementById("message");
  window.__messages = [];
  new MutationObserver(() => window.__messages.push(m.textContent))
    .observe(m, {childList: true, characterData: true, subtree: true});
});"""
    )
    try:
        await wait_for_feed(admin, oid)
        await page.goto(occurrence["join_url"])
        live = await wait_for_js(
            page, f"({INBOUND})().then(s => s && s.framesDecoded > 10 && s)", 15
        )
        assert live["framesDecoded"] > 10
        assert len(offers) == 2 and offers[1] - offers[0] >= 0.7  # Retry-After 1 s, ± jitter
        messages = await eval_with_timeout(page, "window.__messages", 5)
        assert "Connecting …" in messages and messages[-1] == "Live"
        assert not [m for m in messages if "places are taken" in m], messages
    finally:
        await _close_page_peer(page)


# The browser refuses to start with sound (autoplay policy), as many do on a first visit.
REFUSE_SOUND = """
  const play = HTMLMediaElement.prototype.play;
  HTMLMediaElement.prototype.play = function () {
    if (!this.muted && !window.__soundAllowed) {
      return Promise.reject(new DOMException("no sound without a gesture", "NotAllowedError"));
    }
    return play.call(this);
  };
"""


async def test_muted_start_offers_one_sound_button_and_leaving_offers_to_rejoin(
    page: Page,
    live_app: RunningApp,
    admin: aiohttp.ClientSession,
    artifacts_dir: Path,
) -> None:
    """Regression (issue #16): a browser that starts muted showed a small "Ton einschalten"
    among other buttons, and after "Verlassen" the page offered no way back in."""
    registry = live_app.app[WEBRTC]
    occurrence = await create_live_occurrence(admin)
    oid = occurrence["id"]
    await page.add_init_script(REFUSE_SOUND)
    try:
        await wait_for_feed(admin, oid)
        await page.goto(occurrence["join_url"] + "&lang=de")
        sound = page.get_by_role("button", name="Ton einschalten")
        await expect(sound).to_be_visible(timeout=10_000)
        await expect(page.get_by_text("ohne Ton gestartet")).to_be_visible()
        box = await sound.bounding_box()
        assert box and box["height"] >= 48, box  # a large target, also on a phone
        assert await page.evaluate("document.getElementById('player').muted")
        await page.screenshot(path=str(artifacts_dir / "01-muted.png"), full_page=True)
        await page.evaluate("window.__soundAllowed = true")
        await sound.click()
        await expect(sound).to_be_hidden()
        assert not await page.evaluate("document.getElementById('player').muted")

        await page.get_by_role("button", name="Verlassen").click()
        await expect(page.get_by_test_id("message")).to_have_text(
            "Sie haben die Übertragung verlassen."
        )
        rejoin = page.get_by_role("button", name="Wieder teilnehmen")
        await expect(rejoin).to_be_focused()
        deadline = time.monotonic() + 5
        while registry.viewer_count(oid) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert registry.viewer_count(oid) == 0
        await page.screenshot(path=str(artifacts_dir / "02-left.png"), full_page=True)

        await rejoin.click()
        await expect(page.get_by_test_id("message")).to_have_text("Live", timeout=10_000)
        await expect(rejoin).to_be_hidden()
        await wait_for_js(page, f"({INBOUND})().then(s => s && s.framesDecoded > 10 && s)", 10)
        assert registry.viewer_count(oid) == 1
    finally:
        await _close_page_peer(page)
