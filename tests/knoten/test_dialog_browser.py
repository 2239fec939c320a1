"""Dialog in headless Chromium with its fake microphone (a beep): a participant raises a hand, the
host sees it within a second and lets them on stage; the participant's page asks for the
microphone and publishes; the room display plays their voice (its audio energy rises) while the
speaker's own page receives nothing of their own voice; off stage, the microphone is released and
the room display falls silent. Only loopback, no third party."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from knoten.config import Config
from tests.knoten.test_conversation_socket import _join
from tests.knoten.test_dashboard_browser import sign_in
from tests.support.app_fixtures import RunningApp, admin_session, make_config, serve
from tests.support.ports import free_tcp_port

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

BERLIN = ZoneInfo("Europe/Berlin")

#: Received audio of one page's listening peer, per slot: packets and total audio energy.
LISTENER_STATS = """async (which) => {
  const listener = which === "display" ? window.knotenDisplay.listener()
    : which === "host" ? window.knotenHear.listener() : window.knotenSpeak.listener();
  const peer = listener && listener.peer();
  if (!peer) return null;
  const stats = await peer.getStats();
  const slots = [];
  stats.forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "audio")
      slots.push({packets: s.packetsReceived || 0, energy: s.totalAudioEnergy || 0});
  });
  return slots;
}"""


@pytest.fixture
def dialog_config(tmp_path: Path) -> Config:
    return make_config(tmp_path / "data", free_tcp_port(), KNOTEN_WEBRTC_HOST_ADDRESSES="127.0.0.1")


@contextlib.asynccontextmanager
async def _context(browser: Browser) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context(viewport={"width": 1000, "height": 900}, locale="de-DE")
    context.set_default_timeout(10_000)
    try:
        yield context
    finally:
        await asyncio.wait_for(context.close(), 15)


async def _date(app: RunningApp) -> dict[str, Any]:
    start = (datetime.now(BERLIN) + timedelta(hours=2)).replace(second=0, microsecond=0)
    body = {"title": "Sprechstunde Digitales", "room_id": 1, "record": False,
            "start": start.replace(tzinfo=None).isoformat(),
            "end": (start + timedelta(hours=1)).replace(tzinfo=None).isoformat()}  # fmt: skip
    async with admin_session(app) as api, api.post("/api/v1/seminars", json=body) as response:
        assert response.status == 201, await response.text()
        return (await response.json())["occurrences"][0]


async def _totals(page: Page, which: str) -> tuple[int, float]:
    slots = await page.evaluate(LISTENER_STATS, which) or []
    return sum(s["packets"] for s in slots), sum(s["energy"] for s in slots)


async def test_raise_hand_speak_be_heard_in_the_room_not_by_oneself(
    dialog_config: Config, browser: Browser
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        running = await stack.enter_async_context(serve(dialog_config))
        occurrence = await _date(running)
        anna_ctx = await stack.enter_async_context(_context(browser))
        host_ctx = await stack.enter_async_context(_context(browser))
        room_ctx = await stack.enter_async_context(_context(browser))

        anna = await anna_ctx.new_page()
        await anna.goto(occurrence["join_url"] + "&lang=de")
        await anna.get_by_test_id("chat-name").fill("Anna")
        await anna.get_by_test_id("chat-name").dispatch_event("change")
        await anna.wait_for_function("window.knotenChat && window.knotenChat.connected()")
        host = await host_ctx.new_page()
        await sign_in(host, running, f"/dashboard/occurrences/{occurrence['id']}")
        await host.wait_for_function("window.knotenChat && window.knotenChat.connected()")
        room = await room_ctx.new_page()
        async with admin_session(running) as api, api.get("/api/v1/rooms/1/display") as response:
            await room.goto((await response.json())["url"] + "&lang=de")
        await room.wait_for_function("window.knotenDisplay.listener().peer() !== null")

        # A hand goes up; the host sees it within a second, and lets Anna on stage.
        await anna.get_by_test_id("hand-button").click()
        await expect(host.get_by_test_id("hands-list")).to_have_text("Anna", timeout=1000)
        await expect(room.get_by_test_id("hands-list")).to_have_text("Anna")
        row = host.locator("[data-chat=participants] li", has_text="Anna")
        await row.get_by_role("button", name="Auf die Bühne").click()

        # Anna's page publishes the (fake) microphone and says so.
        await expect(anna.get_by_test_id("speaking")).to_be_visible()
        await expect(anna.get_by_test_id("speaking-status")).to_have_text(
            "Sie sind jetzt zu hören.", timeout=15_000
        )
        assert await anna.evaluate("window.knotenSpeak.capturing()")
        await expect(room.get_by_test_id("stage-list")).to_have_text("Anna")

        # The room hears Anna: packets and audio energy rise in the display's peer.
        packets, energy = await _totals(room, "display")
        await asyncio.sleep(2)
        later_packets, later_energy = await _totals(room, "display")
        assert later_packets - packets > 50, (packets, later_packets)
        assert later_energy > energy, (energy, later_energy)

        # Anna turns on her camera: the room display shows it as a tile (forwarded H.264).
        await anna.get_by_test_id("speak-camera").check()
        await expect(anna.get_by_test_id("speaking-status")).to_have_text(
            "Sie sind jetzt zu hören.", timeout=15_000
        )
        assert await anna.evaluate("window.knotenSpeak.cameraOn()")
        tile = room.locator("[data-listen=tiles] video.tile:not([hidden])")
        await expect(tile).to_have_count(1, timeout=15_000)
        size = await tile.evaluate("(v) => [v.videoWidth, v.videoHeight]")
        assert size[0] > 0 and size[1] > 0, size
        # The tile carries the speaker's name.
        caption = room.locator("[data-listen=tiles] .tile-box:not([hidden]) .tile-name")
        await expect(caption).to_have_text("Anna")
        await room.wait_for_function("window.knotenDisplay.listener().peer() !== null")

        # Muted by the host: still on stage, but the room hears nothing until unmuted.
        row = host.locator("[data-chat=participants] li", has_text="Anna")
        await row.get_by_role("button", name="Mikrofon stumm").click()
        await expect(anna.get_by_test_id("speaking-status")).to_have_text(
            "Die Kursleitung hat Ihr Mikrofon stummgeschaltet."
        )
        assert not await anna.evaluate("window.knotenSpeak.microphoneOn()")
        await asyncio.sleep(0.5)
        muted, _ = await _totals(room, "display")
        await asyncio.sleep(1.5)
        assert (await _totals(room, "display"))[0] - muted < 5
        await row.get_by_role("button", name="Mikrofon wieder an").click()
        await expect(anna.get_by_test_id("speaking-status")).to_have_text(
            "Sie sind jetzt zu hören."
        )
        await asyncio.sleep(1.5)
        assert (await _totals(room, "display"))[0] - muted > 30

        # The host can hear the speakers in the live panel too.
        await host.get_by_test_id("hear-stage").click()
        await host.wait_for_function(
            "window.knotenHear.listener() && window.knotenHear.listener().peer()"
        )
        await asyncio.sleep(2)
        assert (await _totals(host, "host"))[0] > 20

        # Anna listens too (to other speakers) but never hears herself.
        await anna.wait_for_function(
            "window.knotenSpeak.listener() && window.knotenSpeak.listener().peer()"
        )
        await asyncio.sleep(1)
        assert (await _totals(anna, "speaker"))[0] == 0

        # Off stage: the microphone is released and the room falls silent.
        row = host.locator("[data-chat=participants] li", has_text="Anna")
        await row.get_by_role("button", name="Von der Bühne").click()
        await expect(anna.get_by_test_id("speaking")).to_be_hidden()
        await anna.wait_for_function("!window.knotenSpeak.capturing()")
        await asyncio.sleep(1)
        quiet, _ = await _totals(room, "display")
        await asyncio.sleep(1.5)
        assert (await _totals(room, "display"))[0] - quiet < 5


async def test_a_fifth_speaker_is_refused_in_german(
    dialog_config: Config, browser: Browser
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        running = await stack.enter_async_context(serve(dialog_config))
        occurrence = await _date(running)
        client = await stack.enter_async_context(aiohttp.ClientSession())
        people = []
        for index in range(5):
            page = await _join(client, occurrence, name=f"Gast {index}")
            people.append((await page.next("welcome"))["participant"])
            stack.push_async_callback(page.ws.close)
        base = f"/api/v1/occurrences/{occurrence['id']}/participants"
        async with admin_session(running) as api:
            for participant in people[:4]:
                async with api.post(f"{base}/{participant}/stage") as response:
                    assert response.status == 200
        host_ctx = await stack.enter_async_context(_context(browser))
        host = await host_ctx.new_page()
        await sign_in(host, running, f"/dashboard/occurrences/{occurrence['id']}")
        await host.wait_for_function("window.knotenChat && window.knotenChat.connected()")
        row = host.locator("[data-chat=participants] li", has_text="Gast 4")
        await row.get_by_role("button", name="Auf die Bühne").click()
        await expect(host.get_by_test_id("chat-status")).to_have_text(
            "Auf der Bühne ist kein Platz mehr (höchstens 4 Personen)."
        )
        await expect(host.get_by_test_id("stage-list")).to_have_text(
            "Gast 0, Gast 1, Gast 2, Gast 3"
        )
