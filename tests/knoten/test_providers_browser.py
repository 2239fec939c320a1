"""The providers page in Chromium: staff add a provider and a host for it; the host signs in
and sees the calendar without the library's own pages. A host's request shows as "angefragt"
and staff confirm it on the seminar page."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from playwright.async_api import Page, expect

from knoten.accounts.principal import Role
from knoten.keys import ACCOUNTS, BEARER_AUTH, PROVIDERS
from tests.knoten.test_dashboard_browser import sign_in
from tests.support.accounts import ensure_account
from tests.support.app_fixtures import RunningApp

BERLIN = ZoneInfo("Europe/Berlin")

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]


async def test_staff_add_a_provider_and_its_host_who_then_signs_in(
    knoten_app: RunningApp, page: Page
) -> None:
    await sign_in(page, knoten_app, "/dashboard/providers")
    await expect(page.get_by_role("heading", name="Bildungsträger", exact=True)).to_be_visible()
    await expect(page.get_by_test_id("provider-row")).to_have_count(1)  # "Bibliothek"

    await page.get_by_label("Name").first.fill("DigitalLotsen")
    await page.get_by_label("Ansprechperson").fill("Frau Lotse, 03841 000")
    await page.get_by_label("Darf direkt buchen").check()
    await page.get_by_role("button", name="Speichern").click()
    row = page.get_by_test_id("provider-row").filter(has_text="DigitalLotsen")
    await expect(row).to_contain_text("Frau Lotse")
    direct = row.get_by_role("checkbox", name="Darf direkt buchen: DigitalLotsen")
    await expect(direct).to_be_checked()
    await direct.uncheck()  # its hosts' bookings become requests
    for _ in range(50):
        provider = await knoten_app.app[PROVIDERS].find("DigitalLotsen")
        if provider is not None and not provider.direct_booking:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("unchecking 'Darf direkt buchen' did not reach the provider")

    await page.get_by_label("Benutzername").fill("lotse")
    await page.get_by_label("Ihr Name").fill("Lea Lotse")
    await page.get_by_label("Rolle").select_option("host")
    await page.get_by_label("Bildungsträger", exact=True).select_option(label="DigitalLotsen")
    await page.get_by_label("Erstes Passwort").fill("kurz")
    await page.get_by_role("button", name="Konto anlegen").click()
    await expect(page.locator("#account-password-error")).to_contain_text("Mindestens 10")
    await page.get_by_label("Erstes Passwort").fill("lotsen-passwort-1")
    await page.get_by_role("button", name="Konto anlegen").click()
    await expect(row).to_contain_text("Lea Lotse (lotse)")

    # The host signs in: calendar yes, rooms, partners and providers no.
    await page.get_by_role("button", name="Abmelden").click()
    await page.goto(knoten_app.url("/dashboard"))
    await page.get_by_label("Benutzername").fill("lotse")
    await page.get_by_label("Passwort").fill("lotsen-passwort-1")
    await page.get_by_role("button", name="Anmelden").click()
    await expect(page.get_by_test_id("signed-in-as")).to_contain_text("Lea Lotse")
    nav = page.get_by_role("navigation", name="Bereiche")
    await expect(nav.get_by_role("link", name="Kalender")).to_be_visible()
    await expect(nav.get_by_role("link", name="Räume")).to_have_count(0)
    await expect(nav.get_by_role("link", name="Bildungsträger")).to_have_count(0)
    response = await page.goto(knoten_app.url("/dashboard/providers"))
    assert response is not None and response.status == 403


async def test_staff_confirm_a_request_on_the_seminar_page(
    knoten_app: RunningApp, page: Page
) -> None:
    provider = await knoten_app.app[PROVIDERS].create("Innovation Port")
    account_id = await ensure_account(knoten_app, "port", "port-passwort-1", Role.HOST,
                                      provider_id=provider.id)  # fmt: skip
    token, _ = await knoten_app.app[BEARER_AUTH].create(
        await knoten_app.app[ACCOUNTS].get(account_id), "test", None, 1
    )
    start = (datetime.now(BERLIN) + timedelta(days=2)).replace(hour=10, minute=0, second=0,
                                                              microsecond=0)  # fmt: skip
    body = {"title": "VR-Werkstatt", "room_id": 1, "start": start.isoformat(),
            "end": (start + timedelta(hours=2)).isoformat()}  # fmt: skip
    bearer = {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession(headers=bearer) as host,
        host.post(knoten_app.url("/api/v1/seminars"), json=body) as response,
    ):
        seminar = await response.json()
    assert seminar["requested"] is True

    await sign_in(page, knoten_app, f"/dashboard?view=list&week={start.date().isoformat()}")
    await expect(page.get_by_text("angefragt").first).to_be_visible()
    await page.goto(knoten_app.url(f"/dashboard/seminars/{seminar['id']}"))
    box = page.get_by_test_id("request-box")
    await expect(box).to_contain_text("fragt diese Termine an")
    await box.get_by_role("button", name="Bestätigen").click()
    await expect(box).to_contain_text("Bestätigt")
    series = page.get_by_label("Ein Teilnahme-Link für alle Termine")
    await expect(series).to_have_value(re.compile(rf"/join/series/{seminar['id']}\?t="))
    async with (
        aiohttp.ClientSession(headers=bearer) as host,
        host.get(knoten_app.url(f"/api/v1/seminars/{seminar['id']}")) as response,
    ):
        assert (await response.json())["occurrences"][0]["state"] == "scheduled"
