"""Things a librarian looks for, in Chromium: saving a seminar says so, the room's calendar feed
is linked in the calendar with a copy button, and one date can be cancelled (and restored) from
the calendar's list and from the seminar page, not only from the live panel.

Regression: issue #16 — the feed existed but nothing linked it, saving was silent, and cancelling
one date needed the live view.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from playwright.async_api import Dialog, Page, expect

from knoten.web.dates import MONTHS
from tests.knoten.test_dashboard_browser import sign_in
from tests.support.app_fixtures import RunningApp

pytestmark = [pytest.mark.browser, pytest.mark.timeout(60)]

BERLIN = ZoneInfo("Europe/Berlin")


async def _states(api: aiohttp.ClientSession, seminar_id: int) -> list[str]:
    async with api.get(f"/api/v1/seminars/{seminar_id}") as response:
        return [o["state"] for o in (await response.json())["occurrences"]]


async def test_saved_feed_and_cancelling_one_date(
    knoten_app: RunningApp, api: aiohttp.ClientSession, page: Page, artifacts_dir
) -> None:
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    first = datetime.now(BERLIN).date() + timedelta(days=1)
    await sign_in(page, knoten_app, "/dashboard/seminars/new?room=1")
    await page.get_by_label("Titel").fill("Schreibwerkstatt")
    await page.get_by_label("Datum", exact=True).fill(first.isoformat())
    await page.get_by_label("Beginn").fill("17:00")
    await page.get_by_label("Ende", exact=True).fill("18:00")
    await page.get_by_label("Jede Woche").check()
    await page.locator("#count").fill("3")
    await page.get_by_role("button", name="Speichern").click()

    # Back in the calendar: it says the seminar is booked.
    await page.wait_for_url(lambda url: "/dashboard?" in url)
    await expect(
        page.get_by_role("status").filter(has_text="Das Seminar ist angelegt.")
    ).to_be_visible()
    assert "saved=" not in page.url  # a reload does not say it again

    # The room's feed, with a copy button; the address serves the seminar's dates.
    feed = page.get_by_test_id("feed-url")
    await expect(feed).to_have_value(knoten_app.url("/calendar/rooms/1.ics"))
    await page.get_by_role("button", name="Link kopieren").click()
    await expect(page.locator("#feed-status")).to_have_text("Kopiert.")
    assert await page.evaluate("() => navigator.clipboard.readText()") == await feed.input_value()
    async with aiohttp.ClientSession() as plain, plain.get(await feed.input_value()) as response:
        assert response.status == 200 and response.content_type == "text/calendar"
        assert "SUMMARY:Schreibwerkstatt" in await response.text()
    await page.screenshot(path=str(artifacts_dir / "01-calendar-saved-feed.png"), full_page=True)

    # Cancel the second date from the calendar's list.
    async with api.get("/api/v1/seminars") as response:
        seminar_id = (await response.json())[0]["id"]
    await page.get_by_role("button", name="Liste").click()
    accepted: list[str] = []

    async def accept(dialog: Dialog) -> None:
        accepted.append(dialog.message)
        await dialog.accept()

    page.on("dialog", accept)
    second = first + timedelta(days=7)
    name = re.compile(rf"^Absagen: Schreibwerkstatt, \w+\., {second.day}\. .*, 17:00$")
    await page.get_by_role("button", name=name).click()
    await expect(
        page.get_by_role("status").filter(has_text="Der Termin ist abgesagt.")
    ).to_be_visible()
    assert "17:00 Uhr absagen?" in accepted[0]
    assert await _states(api, seminar_id) == ["scheduled", "cancelled", "scheduled"]
    await expect(page.get_by_test_id("event").nth(1)).to_contain_text("Abgesagt")
    await page.screenshot(path=str(artifacts_dir / "02-list-cancelled.png"), full_page=True)

    # On the seminar page: cancel the third, restore the second.
    await page.goto(knoten_app.url(f"/dashboard/seminars/{seminar_id}"))
    items = page.locator("#occurrence-list li")
    await expect(items).to_have_count(3)
    await items.nth(2).get_by_role("button", name="Absagen").click()
    await expect(page.locator("#form-status")).to_have_text("Der Termin ist abgesagt.")
    await items.nth(1).get_by_role("button", name="Wiederherstellen").click()
    await expect(page.locator("#form-status")).to_have_text("Der Termin findet wieder statt.")
    assert await _states(api, seminar_id) == ["scheduled", "scheduled", "cancelled"]
    await expect(items.nth(2)).to_contain_text("Abgesagt")
    await page.screenshot(path=str(artifacts_dir / "03-seminar-dates.png"), full_page=True)


async def test_custom_rule_takes_german_weekdays(
    knoten_app: RunningApp, api: aiohttp.ClientSession, page: Page
) -> None:
    """Regression (issue #16): "BYDAY=DI" in the form failed with "invalid rule: invalid
    'BYDAY': DI"; German weekday abbreviations are what a German librarian types."""
    today = datetime.now(BERLIN).date()
    tuesday = today + timedelta(days=(1 - today.weekday()) % 7 or 7)  # the next Tuesday
    await sign_in(page, knoten_app, "/dashboard/seminars/new?room=1")
    await page.get_by_label("Titel").fill("Sprachcafé")
    await page.get_by_label("Datum", exact=True).fill((tuesday + timedelta(days=6)).isoformat())
    await page.get_by_label("Beginn").fill("16:00")
    await page.get_by_label("Ende", exact=True).fill("17:00")
    await page.get_by_label("Eigene Regel (RRULE)").check()
    await page.get_by_label("Regel", exact=True).fill("FREQ=WEEKLY;BYDAY=DI,DO")
    await page.locator("#count").fill("6")
    await page.get_by_role("button", name="Speichern").click()
    # A Monday does not fit "DI,DO": the sentence names the rule's first date in German.
    error = page.locator("#repeat-error")
    await expect(error).to_contain_text("Das Datum muss der erste Termin der Regel sein")
    after = tuesday + timedelta(days=7)
    named = f"Dienstag, {after.day}. {MONTHS['de'][after.month - 1]} {after.year}"
    await expect(error).to_contain_text(named)

    await page.get_by_label("Datum", exact=True).fill(tuesday.isoformat())
    await page.get_by_role("button", name="Speichern").click()
    await page.wait_for_url(lambda url: "/dashboard?" in url)
    async with api.get("/api/v1/seminars") as response:
        seminar_id = (await response.json())[0]["id"]
    async with api.get(f"/api/v1/seminars/{seminar_id}") as response:
        seminar = await response.json()
    assert seminar["recurrence"] == "FREQ=WEEKLY;BYDAY=TU,TH;COUNT=6"
    weekdays = {datetime.fromisoformat(o["start"]).weekday() for o in seminar["occurrences"]}
    assert weekdays == {1, 3}
    # Shown again with the German abbreviations.
    await page.goto(knoten_app.url(f"/dashboard/seminars/{seminar['id']}"))
    await expect(page.get_by_label("Regel", exact=True)).to_have_value("FREQ=WEEKLY;BYDAY=DI,DO")
