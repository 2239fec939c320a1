"""The host's sound and picture check in Chromium, in German: the live panel shows the room
microphone's level (also as a Prometheus gauge), the preview is muted until one click turns
the sound on, and a room that stays silent for 30 s while live is reported."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from playwright.async_api import Page, expect

from tests.knoten.test_dashboard_browser import sign_in
from tests.support.app_fixtures import RunningApp, admin_session, make_config, serve
from tests.support.bookings import book_date
from tests.support.page_checks import PageWalk
from tests.support.ports import free_tcp_port

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

BERLIN = ZoneInfo("Europe/Berlin")
CONNECTED = "() => window.knotenLive.preview()?.connectionState === 'connected'"
AUDIO_BYTES = """() => new Promise((resolve) => {
  const pc = window.knotenLive.preview();
  if (!pc) return resolve(-1);
  pc.getStats().then((stats) => {
    let bytes = 0;
    stats.forEach((r) => {
      if (r.type === "inbound-rtp" && r.kind === "audio") bytes += r.bytesReceived;
    });
    resolve(bytes);
  });
})"""


@pytest.fixture
async def live_app(tmp_path: Path) -> AsyncIterator[tuple[RunningApp, aiohttp.ClientSession]]:
    config = make_config(
        tmp_path / "data", free_tcp_port(), KNOTEN_WEBRTC_HOST_ADDRESSES="127.0.0.1"
    )
    async with serve(config) as running, admin_session(running) as api:
        yield running, api


async def _start(api: aiohttp.ClientSession, room_id: int, title: str) -> int:
    begin = datetime.now(BERLIN) + timedelta(minutes=3)
    date = await book_date(api, begin, title=title, room_id=room_id, record=False, start=True)
    return int(date["id"])


async def _gauge(api: aiohttp.ClientSession, name: str, oid: int) -> float | None:
    async with api.get("/metrics") as response:
        text = await response.text()
    found = re.search(rf'^{name}{{occurrence="{oid}"}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else None


async def test_level_meter_gauge_and_preview_sound(
    live_app: tuple[RunningApp, aiohttp.ClientSession], page: Page, artifacts_dir: Path
) -> None:
    app, api = live_app
    oid = await _start(api, 1, "Klangprobe")  # the test pattern: a 440 Hz tone
    await sign_in(page, app, f"/dashboard/occurrences/{oid}")
    await expect(page.get_by_test_id("live-state")).to_have_text("Live")
    block = page.get_by_test_id("audio-block")
    await expect(block).to_be_visible(timeout=20_000)
    await expect(block).to_contain_text("Mikrofon im Raum")
    await expect(page.get_by_test_id("audio-value")).to_have_text(re.compile(r"^-\d+ dB$"))
    level = float(await page.get_by_test_id("audio-meter").evaluate("m => m.value"))
    assert -40 < level < 0, level
    gauge = await _gauge(api, "knoten_live_audio_level_dbfs", oid)
    assert gauge is not None and -40 < gauge < 0, gauge
    assert await _gauge(api, "knoten_live_audio_silent_seconds", oid) == 0
    await expect(page.get_by_test_id("audio-silent")).to_be_hidden()

    await page.get_by_role("button", name="Vorschau anzeigen").click()
    sound = page.get_by_role("button", name="Ton an")
    await expect(sound).to_be_visible(timeout=15_000)
    await expect(page.get_by_test_id("preview-status")).to_have_text(re.compile("."))
    async with asyncio.timeout(15):  # the page CSP forbids wait_for_function's eval
        while not await page.evaluate(CONNECTED):
            await asyncio.sleep(0.2)
    assert await page.get_by_test_id("preview-video").evaluate("v => v.muted") is True
    await sound.click()
    off = page.get_by_role("button", name="Ton aus")
    await expect(off).to_have_attribute("aria-pressed", "true")
    assert await page.get_by_test_id("preview-video").evaluate("v => v.muted") is False
    async with asyncio.timeout(15):  # the room's sound arrives and keeps arriving
        while (first := await page.evaluate(AUDIO_BYTES)) <= 0:
            await asyncio.sleep(0.2)
        while await page.evaluate(AUDIO_BYTES) <= first:
            await asyncio.sleep(0.2)
    await page.screenshot(path=str(artifacts_dir / "01-sound-check.png"), full_page=True)
    walk = PageWalk(artifacts_dir)
    await walk.check(page, "live-sound-check")
    walk.assert_clean()
    await off.click()
    await expect(page.get_by_role("button", name="Ton an")).to_have_attribute(
        "aria-pressed", "false"
    )
    await page.get_by_role("button", name="Vorschau schließen").click()
    async with api.post(f"/api/v1/occurrences/{oid}/stop") as response:
        assert response.status == 200


async def test_a_room_silent_for_30_s_is_reported(
    live_app: tuple[RunningApp, aiohttp.ClientSession], page: Page, artifacts_dir: Path
) -> None:
    app, api = live_app
    clip = app.config.data_dir / "stumm.mp4"  # a camera without sound: Knoten adds silence
    made = await asyncio.create_subprocess_exec(
        "ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=15",
        "-t", "90", "-c:v", "libx264", "-preset", "ultrafast", "-g", "15", "-pix_fmt", "yuv420p",
        str(clip),
    )  # fmt: skip
    assert await made.wait() == 0
    async with api.post(
        "/api/v1/rooms", json={"name": "Stiller Raum", "source": "stumm.mp4"}
    ) as response:
        assert response.status == 201, await response.text()
        room = await response.json()
    oid = await _start(api, room["id"], "Ohne Mikrofon")
    await sign_in(page, app, f"/dashboard/occurrences/{oid}")
    await expect(page.get_by_test_id("audio-block")).to_be_visible(timeout=20_000)
    await expect(page.get_by_test_id("audio-value")).to_have_text("—")
    warning = page.get_by_test_id("audio-silent")
    await expect(warning).to_be_hidden()
    await expect(warning).to_have_text(
        re.compile(r"^Seit 3\d s kein Ton vom Mikrofon im Raum – ist es eingeschaltet\?$"),
        timeout=45_000,
    )
    silent = await _gauge(api, "knoten_live_audio_silent_seconds", oid)
    assert silent is not None and silent >= 30
    await page.screenshot(path=str(artifacts_dir / "01-silent-room.png"), full_page=True)
    walk = PageWalk(artifacts_dir)
    await walk.check(page, "live-silent-room")
    walk.assert_clean()
    async with api.post(f"/api/v1/occurrences/{oid}/stop") as response:
        assert response.status == 200
