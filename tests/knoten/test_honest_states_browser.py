"""Honest states in Chromium, in German: a camera that cannot be reached says so on the live
panel, with its address (never its credentials), that the stand-in picture is on air and when
Knoten tries again."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from playwright.async_api import Page, expect

from tests.knoten.test_dashboard_browser import sign_in
from tests.support.app_fixtures import RunningApp
from tests.support.ports import free_tcp_port

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]

BERLIN = ZoneInfo("Europe/Berlin")


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
    body = {
        "title": "Lesung im Saal",
        "room_id": room["id"],
        "start": begin.replace(microsecond=0, tzinfo=None).isoformat(),
        "end": (begin + timedelta(hours=1)).replace(microsecond=0, tzinfo=None).isoformat(),
        "record": False,
    }
    async with api.post("/api/v1/seminars", json=body) as response:
        assert response.status == 201, await response.text()
        oid = (await response.json())["occurrences"][0]["id"]
    async with api.post(f"/api/v1/occurrences/{oid}/start") as response:
        assert response.status == 200

    await sign_in(page, knoten_app, f"/dashboard/occurrences/{oid}")
    problem = page.get_by_test_id("source-problem")
    await expect(problem).to_be_visible(timeout=20_000)
    await expect(problem).to_contain_text(
        f"Kamera nicht erreichbar (rtsp://127.0.0.1:{port}/kamera): Ersatzbild läuft, "
    )
    await expect(problem).to_contain_text("neuer Versuch")
    await expect(page.get_by_test_id("source-on-air")).to_have_attribute("data-on-air", "slate")
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
