"""The live panel's safe controls in Chromium, in German: "Jetzt starten" says what will happen
and offers to move a date that is far ahead; "Beenden" asks too; a date stopped by mistake is
resumed with "Fortsetzen"."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from playwright.async_api import Page, expect

from knoten.keys import SESSION_RUNNER
from tests.knoten.test_dashboard_browser import sign_in
from tests.support.app_fixtures import RunningApp, admin_session, make_config, serve
from tests.support.page_checks import PageWalk
from tests.support.ports import free_tcp_port

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
async def guarded(tmp_path: Path) -> AsyncIterator[tuple[RunningApp, aiohttp.ClientSession]]:
    """The app with the shipped guard: "start now" at most 60 min before the lead-in."""
    config = make_config(tmp_path / "data", free_tcp_port(), KNOTEN_EARLY_START_MINUTES="60")
    async with serve(config) as running, admin_session(running) as api:
        yield running, api


async def test_start_far_ahead_moves_to_now_stop_asks_and_resume_undoes(
    guarded: tuple[RunningApp, aiohttp.ClientSession],
    page: Page,
    artifacts_dir: Path,
    console_log: list[str],
) -> None:
    app, api = guarded
    async with api.post(
        "/api/v1/partners",
        json={"name": "Campus Nord", "kind": "rtmp", "url": "rtmp://127.0.0.1:9/live/key"},
    ) as response:
        assert response.status == 201, await response.text()
        partner = await response.json()
    begin = (datetime.now(BERLIN) + timedelta(days=1)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    body = {
        "title": "Digitale Sprechstunde",
        "room_id": 1,
        "start": begin.replace(tzinfo=None).isoformat(),
        "end": (begin + timedelta(minutes=90)).replace(tzinfo=None).isoformat(),
        "record": True,
        "partner_ids": [partner["id"]],
    }
    async with api.post("/api/v1/seminars", json=body) as response:
        assert response.status == 201, await response.text()
        oid = (await response.json())["occurrences"][0]["id"]
    # The partner is unreachable on purpose: its output retries, nothing else cares.
    await sign_in(page, app, f"/dashboard/occurrences/{oid}")
    state = page.get_by_test_id("live-state")
    await expect(state).to_have_text("Geplant")

    dialog = page.get_by_test_id("confirm-dialog")
    await page.get_by_role("button", name="Jetzt starten").click()
    await expect(dialog).to_be_visible()
    await expect(dialog.get_by_role("heading")).to_have_text("Jetzt starten?")
    await expect(page.get_by_test_id("confirm-early")).to_contain_text(
        "Dieser Termin beginnt erst am"
    )
    await expect(page.get_by_test_id("confirm-early")).to_contain_text("um 10:00 Uhr")
    what = page.get_by_test_id("confirm-what")
    await expect(what).to_contain_text("Die Kamera im Raum „Seminarraum“ geht auf Sendung")
    await expect(what).to_contain_text("Der Termin wird aufgezeichnet.")
    await expect(what).to_contain_text("Partner erhalten die Übertragung: Campus Nord.")
    until = (datetime.now(BERLIN) + timedelta(minutes=90)).strftime("%H:%M")
    await expect(what).to_contain_text("Läuft bis")
    await expect(what).to_contain_text("und endet dann von selbst.")
    assert until[:2] in await what.inner_text()  # ends 90 min from now, not tomorrow
    await expect(dialog.get_by_role("button", name="Abbrechen")).to_be_focused()
    await page.screenshot(path=str(artifacts_dir / "01-start-too-early.png"), full_page=True)
    walk = PageWalk(artifacts_dir)  # axe, English words, laptop and phone screenshots
    await walk.check(page, "live-start-too-early")

    # Cancel changes nothing.
    await dialog.get_by_role("button", name="Abbrechen").click()
    await expect(dialog).to_be_hidden()
    await expect(state).to_have_text("Geplant")
    assert oid not in app.app[SESSION_RUNNER].running()

    await page.get_by_role("button", name="Jetzt starten").click()
    await dialog.get_by_role("button", name="Auf jetzt verschieben und starten").click()
    await expect(state).to_have_text("Live")
    async with api.get(f"/api/v1/occurrences/{oid}") as response:
        moved = await response.json()
    assert moved["moved"] is True
    assert abs(datetime.fromisoformat(moved["start"]) - datetime.now(BERLIN)) < timedelta(minutes=1)
    await expect(page.locator("#live-when")).not_to_contain_text("10:00–11:30")

    # "Beenden" asks, Cancel keeps it running.
    await page.get_by_role("button", name="Beenden").click()
    await expect(dialog.get_by_role("heading")).to_have_text("Die Übertragung jetzt beenden?")
    await expect(what).to_contain_text("Kamera, Aufzeichnung und Partner werden gestoppt")
    await expect(what).to_contain_text("lässt sich der Termin fortsetzen")
    await page.screenshot(path=str(artifacts_dir / "02-stop-asks.png"), full_page=True)
    await walk.check(page, "live-stop-asks")
    await dialog.get_by_role("button", name="Abbrechen").click()
    await expect(state).to_have_text("Live")
    await page.get_by_role("button", name="Beenden").click()
    await dialog.get_by_role("button", name="Jetzt beenden").click()
    await expect(state).to_have_text("Beendet")
    assert oid not in app.app[SESSION_RUNNER].running()

    # The undo.
    resume = page.get_by_role("button", name="Fortsetzen")
    await expect(resume).to_be_visible()
    await expect(page.get_by_test_id("resume-hint")).to_contain_text("Aus Versehen beendet? Bis")
    await page.screenshot(path=str(artifacts_dir / "03-stopped-resume.png"), full_page=True)
    await walk.check(page, "live-resume")
    await resume.click()
    await expect(state).to_have_text("Live")
    await expect(resume).to_be_hidden()
    assert oid in app.app[SESSION_RUNNER].running()
    await page.screenshot(path=str(artifacts_dir / "04-resumed.png"), full_page=True)
    async with api.post(f"/api/v1/occurrences/{oid}/stop") as response:
        assert response.status == 200
    assert not [line for line in console_log if line.startswith("pageerror")]
    walk.assert_clean()
