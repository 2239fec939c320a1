"""Honest states in Chromium, in German: a camera that cannot be reached says so on the live
panel, with its address (never its credentials), that the stand-in picture is on air and when
Knoten tries again; the join page says "Gleich geht es los" during the lead-in; a stopped
service shows "Verbindung unterbrochen" on the join page and the live panel within 3 s."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from playwright.async_api import Browser, Locator, Page, expect

from knoten.config import Config
from tests.knoten.test_dashboard_browser import sign_in
from tests.knoten.test_join_page import wait_for_feed
from tests.support.app_fixtures import RunningApp, admin_session, make_config, serve
from tests.support.bookings import book_date
from tests.support.page_checks import PageWalk
from tests.support.ports import free_tcp_port

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def app_config(app_config: Config) -> Config:
    """The camera test on save is on here: the suite turns it off, these cameras are local."""
    media = app_config.media.model_copy(update={"check_camera_on_save": True})
    return app_config.model_copy(update={"media": media})


async def test_a_lost_camera_says_what_is_wrong_and_what_knoten_does(
    knoten_app: RunningApp,
    api: aiohttp.ClientSession,
    page: Page,
    artifacts_dir: Path,
) -> None:
    port = free_tcp_port()  # nothing listens there: the camera "is unplugged"
    async with api.post(
        "/api/v1/rooms",
        json={
            "name": "Saal 2",
            "source": f"rtsp://hausmeister:geheim123@127.0.0.1:{port}/kamera",
            "timezone": "Europe/Berlin",
        },
    ) as response:
        assert response.status == 201, await response.text()
        room = await response.json()
    begin = datetime.now(BERLIN) + timedelta(minutes=2)
    date = await book_date(
        api, begin, title="Lesung im Saal", room_id=room["id"], record=False, start=True
    )
    oid = date["id"]

    await sign_in(page, knoten_app, f"/dashboard/occurrences/{oid}")
    problem = page.get_by_test_id("source-problem")
    await expect(problem).to_be_visible(timeout=20_000)
    await expect(problem).to_contain_text(
        f"Kamera nicht erreichbar (rtsp://127.0.0.1:{port}/kamera): Ersatzbild läuft, "
    )
    await expect(problem).to_contain_text("neuer Versuch")
    await expect(page.get_by_test_id("source-on-air")).to_have_attribute("data-on-air", "slate")
    walk = PageWalk(artifacts_dir)
    await walk.check(page, "live-camera-lost")  # FFmpeg's own words only on demand
    walk.assert_clean()
    await page.locator("#source-problem summary").click()
    await expect(page.locator("#source-problem-detail")).to_contain_text("Meldung:")
    text = await page.locator("main").inner_text()
    assert "geheim123" not in text and "hausmeister" not in text
    await page.screenshot(path=str(artifacts_dir / "01-camera-lost.png"), full_page=True)
    async with api.get(f"/api/v1/occurrences/{oid}") as response:
        source = (await response.json())["source"]
    assert source["address"] == f"rtsp://127.0.0.1:{port}/kamera"
    assert source["problem"] and "geheim123" not in source["problem"]
    async with api.post(f"/api/v1/occurrences/{oid}/stop") as response:
        assert response.status == 200


async def test_lead_in_says_gleich_and_an_outage_shows_within_3_s(
    tmp_path: Path, browser: Browser, page: Page, artifacts_dir: Path
) -> None:
    """Regression: during the lead-in the join page said "Live"; when the service stopped it
    kept showing a frozen "Live" (and the live panel its last state)."""
    config = make_config(
        tmp_path / "data", free_tcp_port(), KNOTEN_WEBRTC_HOST_ADDRESSES="127.0.0.1"
    )
    stack = contextlib.AsyncExitStack()
    running = await stack.enter_async_context(serve(config))
    join_context = await browser.new_context(viewport={"width": 800, "height": 600})
    try:
        api = await stack.enter_async_context(admin_session(running, timeout=20))
        begin = datetime.now(BERLIN) + timedelta(minutes=10)
        # The lead-in has begun: the pipeline runs, the slate shows.
        occurrence = await book_date(
            api, begin, title="Offene Werkstatt", record=False, lead_in_minutes=15
        )
        oid = occurrence["id"]
        await wait_for_feed(api, oid)

        viewer = await join_context.new_page()
        await viewer.goto(occurrence["join_url"] + "&lang=de")
        message = viewer.get_by_test_id("message")
        await expect(message).to_have_text("Gleich geht es los", timeout=15_000)
        await viewer.screenshot(path=str(artifacts_dir / "01-join-lead-in.png"))
        walk = PageWalk(artifacts_dir)
        await walk.check(viewer, "join-lead-in")
        async with api.post(f"/api/v1/occurrences/{oid}/start") as response:
            assert response.status == 200
        await expect(message).to_have_text("Live", timeout=10_000)

        await sign_in(page, running, f"/dashboard/occurrences/{oid}")
        await expect(page.get_by_test_id("live-state")).to_have_text("Live")
        panel_notice = page.locator("#live-message")
        await expect(panel_notice).to_be_hidden()

        # Stop the service under both pages.
        stopped_at = time.monotonic()
        stopping = asyncio.create_task(stack.aclose())
        seen: dict[str, float] = {}

        async def until(name: str, locator: Locator) -> None:
            await expect(locator).to_contain_text("Verbindung unterbrochen", timeout=10_000)
            seen[name] = time.monotonic() - stopped_at

        await asyncio.gather(until("join", message), until("panel", panel_notice))
        await viewer.screenshot(path=str(artifacts_dir / "02-join-outage.png"))
        await page.screenshot(path=str(artifacts_dir / "03-panel-outage.png"))
        await stopping
        print(f"outage shown after: join {seen['join']:.2f} s, panel {seen['panel']:.2f} s")
        assert seen["join"] <= 3.0 and seen["panel"] <= 3.0, seen
        await walk.check(viewer, "join-outage")
        await walk.check(page, "live-outage")
        walk.assert_clean()
    finally:
        await join_context.close()
        await stack.aclose()


async def test_a_camera_address_is_tested_when_the_room_is_saved(
    knoten_app: RunningApp, page: Page, artifacts_dir: Path
) -> None:
    clip = knoten_app.config.data_dir / "kamera.mp4"
    made = await asyncio.create_subprocess_exec(
        "ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=10",
        "-t", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(clip),
    )  # fmt: skip
    assert await made.wait() == 0
    await sign_in(page, knoten_app, "/dashboard/rooms")
    notice = page.locator("#rooms-message")

    await page.get_by_label("Name").fill("Werkstatt")
    await page.get_by_label("Kamera").fill("kamera.mp4")
    await page.get_by_role("button", name="Speichern").click()
    await expect(notice).to_have_text(
        "Gespeichert. Kamera getestet: erreichbar, Bild 640×360 (h264)."
    )

    port = free_tcp_port()
    await page.get_by_label("Name").fill("Saal 2")
    await page.get_by_label("Kamera").fill(f"rtsp://technik:pw4711@127.0.0.1:{port}/live")
    started = time.monotonic()
    await page.get_by_role("button", name="Speichern").click()
    await expect(notice).to_contain_text(
        f"Gespeichert. Kamera getestet: rtsp://127.0.0.1:{port}/live ist nicht erreichbar – "
        "der Raum ist trotzdem gespeichert."
    )
    assert time.monotonic() - started < 8, "the test has a short timeout"
    assert "pw4711" not in await page.locator("main").inner_text()
    await expect(page.get_by_test_id("room-row")).to_have_count(3)  # saved anyway
    await page.screenshot(
        path=str(artifacts_dir / "01-room-camera-unreachable.png"), full_page=True
    )
    walk = PageWalk(artifacts_dir)
    await walk.check(page, "rooms-camera-check", german=False)  # ffprobe's words are quoted
    walk.assert_clean()
