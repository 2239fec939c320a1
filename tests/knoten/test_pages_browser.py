"""The start page in a real headless Chromium: it renders, switches language, and loads
nothing from anywhere but the service."""

from __future__ import annotations

import pytest

from tests.support.app_fixtures import RunningApp

pytestmark = pytest.mark.browser


async def test_start_page_renders_and_switches_language(
    knoten_app: RunningApp, page, request_log, artifacts_dir
) -> None:
    # Headless Chromium asks for English (Accept-Language: en-US); the link picks German.
    response = await page.goto(knoten_app.url("/?lang=de"))
    assert response is not None and response.status == 200
    assert await page.locator("html").get_attribute("lang") == "de"
    assert (await page.get_by_test_id("status").inner_text()).strip() == "Alles in Betrieb"
    assert await page.get_by_test_id("room").count() == 1
    assert "Seminarraum" in await page.get_by_test_id("room").inner_text()
    # The stylesheet is served and applied (the header bar gets its colour).
    colour = await page.eval_on_selector(".bar", "el => getComputedStyle(el).backgroundColor")
    assert colour == "rgb(11, 83, 148)"
    await page.screenshot(path=str(artifacts_dir / "start-de.png"))

    await page.get_by_role("link", name="English").click()
    await page.wait_for_load_state()
    assert await page.locator("html").get_attribute("lang") == "en"
    assert (await page.get_by_test_id("status").inner_text()).strip() == "All systems running"
    # The choice sticks (cookie) when the page is opened again without ?lang.
    await page.goto(knoten_app.url("/"))
    assert await page.locator("html").get_attribute("lang") == "en"
    await page.screenshot(path=str(artifacts_dir / "start-en.png"))

    assert request_log.non_loopback() == []
    assert any(url.endswith("/static/knoten.css") for url in request_log.urls)
