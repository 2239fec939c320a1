"""Every page and every form error in Chromium with ``lang=de``: no English word a person can
read, axe-core finds no serious or critical violation, and each page is photographed at
1280×800 and 375×667 (``test-artifacts/``).

Regression: issue #16 found "URL needs a scheme", "Input should be less than or equal to 60",
"invalid rule: invalid 'BYDAY': DI", UTC times and a bare "404: Not Found" on German pages, and
axe reported the join/share header contrast, past calendar dates and "Link teilen"'s name.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from playwright.async_api import Page, expect

from knoten.keys import ARCHIVE_PATHS, FINALIZER, RECORDINGS
from tests.knoten.test_dashboard_browser import sign_in
from tests.recordings.fixtures_media import make_recording
from tests.support.app_fixtures import RunningApp
from tests.support.browser import RequestLog
from tests.support.page_checks import PageWalk

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(240),
    pytest.mark.usefixtures("no_orphan_ffmpeg"),
]

BERLIN = ZoneInfo("Europe/Berlin")


def _today() -> date:
    return datetime.now(BERLIN).date()


async def _post(api: aiohttp.ClientSession, path: str, body: dict) -> dict:
    async with api.post(path, json=body) as response:
        assert response.status in (200, 201), (path, response.status, await response.text())
        return await response.json()


async def test_every_page_and_form_error_is_german_and_accessible(
    knoten_app: RunningApp,
    api: aiohttp.ClientSession,
    page: Page,
    artifacts_dir: Path,
    request_log: RequestLog,
) -> None:
    walk = PageWalk(artifacts_dir)
    today = _today()
    # A weekly series from tomorrow on, and a date of today that ran and ended (a past date).
    first = today + timedelta(days=1)
    seminar = await _post(api, "/api/v1/seminars", {
        "title": "Lesekreis Überäll", "host": "Frau Öztürk", "room_id": 1,
        "start": f"{first.isoformat()}T18:00:00", "end": f"{first.isoformat()}T19:30:00",
        "recurrence": "FREQ=WEEKLY;COUNT=4", "record": True,
    })  # fmt: skip
    coming = seminar["occurrences"][0]
    soon = datetime.now(BERLIN).replace(second=0, microsecond=0, tzinfo=None) + timedelta(hours=2)
    ran = await _post(api, "/api/v1/seminars", {
        "title": "Sprechstunde", "room_id": 1, "record": False,
        "start": soon.isoformat(), "end": (soon + timedelta(minutes=30)).isoformat(),
    })  # fmt: skip
    ran_id = ran["occurrences"][0]["id"]
    await _post(api, f"/api/v1/occurrences/{ran_id}/start", {})
    await _post(api, f"/api/v1/occurrences/{ran_id}/stop", {})
    app = knoten_app.app
    recording_id = await make_recording(
        app[RECORDINGS], app[ARCHIVE_PATHS], app[FINALIZER], seconds=2, title="Lesekreis Überäll",
        occurrence_id=coming["id"], seminar_id=seminar["id"],
        started_at=datetime(first.year, first.month, first.day, 18, tzinfo=BERLIN).astimezone(UTC),
    )  # fmt: skip
    share = await _post(api, f"/api/v1/recordings/{recording_id}/share", {})
    # A second one that failed: its badge's tooltip says why, in German.
    failed_id = await make_recording(
        app[RECORDINGS], app[ARCHIVE_PATHS], app[FINALIZER], seconds=1, title="Erzählcafé",
        occurrence_id=coming["id"], seminar_id=seminar["id"], started_at=datetime.now(UTC),
    )  # fmt: skip
    await app[RECORDINGS].set_status(failed_id, "failed", "exit 1: Conversion failed!")
    async with api.get(f"/api/v1/occurrences/{coming['id']}") as response:
        join_url = (await response.json())["join_url"]

    # Signed out: the sign-in page and its error.
    await page.goto(knoten_app.url("/signin?lang=de"))
    await walk.check(page, "01-signin")
    await page.locator("input[type=password]").fill("falsch")
    await page.get_by_role("button", name="Anmelden").click()
    await expect(page.get_by_role("alert")).to_be_visible()
    await walk.check(page, "02-signin-error")
    await sign_in(page, knoten_app)

    # The calendar in the week with the past date, and the list.
    await page.goto(knoten_app.url("/dashboard?room=1"))
    await expect(page.locator(".event.ended")).to_have_count(1)
    await walk.check(page, "03-calendar-past")
    await page.goto(knoten_app.url("/dashboard?room=1&view=list"))
    await expect(page.get_by_test_id("event").first).to_be_visible()
    await walk.check(page, "04-calendar-list")

    # The seminar form and the errors only the service finds.
    await page.goto(knoten_app.url("/dashboard/seminars/new?room=1"))
    await page.get_by_label("Titel").fill("Makerspace")
    await page.get_by_label("Datum", exact=True).fill((today + timedelta(days=30)).isoformat())
    await page.get_by_label("Beginn").fill("10:00")
    await page.get_by_label("Ende", exact=True).fill("11:00")
    await walk.check(page, "05-seminar-new")
    await page.get_by_label("Vorlauf (Minuten)").fill("999")
    await page.get_by_role("button", name="Speichern").click()
    lead_in_error = page.locator("#lead-in-error")
    await expect(lead_in_error).to_have_text("„Vorlauf (Minuten)“ darf höchstens 60 sein.")
    await walk.check(page, "06-seminar-error-lead-in")
    await page.get_by_label("Vorlauf (Minuten)").fill("5")
    await page.get_by_label("Eigene Regel (RRULE)").check()
    await page.get_by_label("Regel", exact=True).fill("FREQ=WEEKLY;BYDAY=XY")
    await page.locator("#count").fill("3")
    await page.get_by_role("button", name="Speichern").click()
    await expect(page.locator("#repeat-error")).to_contain_text("Wiederholungsregel ist ungültig")
    await walk.check(page, "07-seminar-error-rule")
    # A clash, with the other seminar's local time (18:00, not 17:00 or 16:00 UTC).
    await page.get_by_label("Einmalig").check()
    await page.get_by_label("Datum", exact=True).fill(coming["start"][:10])
    await page.get_by_label("Beginn").fill("18:30")
    await page.get_by_label("Ende", exact=True).fill("19:00")
    await page.get_by_role("button", name="Speichern").click()
    await expect(page.locator("#when-error")).to_contain_text("18:00–19:30")
    await walk.check(page, "08-seminar-error-conflict")

    await page.goto(knoten_app.url(f"/dashboard/seminars/{seminar['id']}"))
    await expect(page.locator("#occurrence-list li")).to_have_count(4)
    await walk.check(page, "09-seminar-edit")

    await page.goto(knoten_app.url(f"/dashboard/occurrences/{coming['id']}"))
    await expect(page.get_by_test_id("live-state")).to_have_text("Geplant")
    await walk.check(page, "10-live-panel")
    # Extending into the next booking: the clash is named in the room's time (20:00, not 19:00).
    await _post(api, "/api/v1/seminars", {
        "title": "Spieleabend", "room_id": 1, "record": False,
        "start": f"{first.isoformat()}T20:00:00", "end": f"{first.isoformat()}T21:00:00",
    })  # fmt: skip
    await page.locator("#extend-minutes").select_option("60")
    await page.get_by_role("button", name="Verlängern", exact=True).click()
    await expect(page.locator("#live-message")).to_contain_text("„Spieleabend“")
    await expect(page.locator("#live-message")).to_contain_text("20:00–21:00 Uhr")
    await walk.check(page, "10-live-panel-error")

    await page.goto(knoten_app.url("/dashboard/rooms"))
    await expect(page.get_by_test_id("room-row")).to_have_count(1)
    await walk.check(page, "11-rooms")
    await page.get_by_label("Name").fill("Lesesaal")
    await page.get_by_label("Kamera").fill("ftp://kamera.local/stream")
    await page.get_by_role("button", name="Speichern").click()
    await expect(page.locator("#room-source-error")).to_contain_text("Als Kamera sind möglich")
    await walk.check(page, "12-rooms-error")

    await page.goto(knoten_app.url("/dashboard/partners"))
    await walk.check(page, "13-partners")
    await page.get_by_label("Name").fill("Offener Kanal")
    await page.get_by_label("Ziel-Adresse mit Streamschlüssel").fill("example.org/live/key")
    await page.get_by_role("button", name="Speichern").click()
    await expect(page.locator("#partner-url-error")).to_contain_text("rtmp://")
    await walk.check(page, "14-partners-error")

    await page.goto(knoten_app.url("/dashboard/recordings"))
    await expect(page.get_by_test_id("recording-row").first).to_be_visible()
    # Recorded at 18:00 in Berlin: shown so, whatever zone the browser's machine has (UTC here).
    lesekreis = page.get_by_test_id("recording-row").filter(has_text="Lesekreis")
    await expect(lesekreis).to_contain_text("18:00")
    await expect(lesekreis).to_contain_text(re.compile(r"Größe: \d+,\d MB"))  # German decimals
    failed = page.get_by_test_id("recording-status")
    await expect(failed).to_have_attribute("title", "Die Aufzeichnung ist fehlgeschlagen.")
    await walk.check(page, "15-recordings")

    # The participants' pages: join (waiting), the share page and a mistyped share link.
    await page.goto(join_url + "&lang=de")
    await expect(page.get_by_test_id("message")).not_to_be_empty()
    await walk.check(page, "16-join-waiting")
    await page.goto(share["url"])
    await expect(page.get_by_test_id("player")).to_be_visible()
    await walk.check(page, "17-share")
    await page.goto(share["url"][:-6] + "xxxxxx")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("nicht gefunden")
    await walk.check(page, "18-share-mistyped")
    async with api.get("/api/v1/rooms/1/display") as response:
        display_url = (await response.json())["url"]
    await page.goto(display_url + "&lang=de")
    await walk.check(page, "20-room-display")
    await page.goto(knoten_app.url("/?lang=de"))
    await walk.check(page, "21-start-page")
    await page.goto(knoten_app.url("/share/recording/abc"))  # a letter missing in the path
    await expect(page.get_by_role("heading", level=1)).to_have_text("Seite nicht gefunden")
    await walk.check(page, "19-page-not-found")

    walk.assert_clean()
    assert request_log.non_loopback() == []  # axe-core and the pages load nothing from elsewhere
