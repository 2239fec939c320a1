"""The host dashboard in headless Chromium, driven as a librarian would: sign in, book a weekly
seminar, find it in the calendar, run into a conflict, start and stop a date from the live panel;
and a cross-site page that tries to post forms with the staff's cookie is refused."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import Page, expect

from tests.support.accounts import TEST_PASSWORD, staff_form
from tests.support.app_fixtures import RunningApp
from tests.support.ports import free_tcp_port

pytestmark = [pytest.mark.browser, pytest.mark.timeout(60)]

BERLIN = ZoneInfo("Europe/Berlin")


def _today() -> date:
    return datetime.now(BERLIN).date()


async def sign_in(page: Page, app: RunningApp, path: str = "/dashboard") -> None:
    """Sign in through the form, in German (Chromium asks for English; the link sets a cookie)."""
    await page.goto(app.url("/signin?lang=de"))
    await page.goto(app.url(path))
    await expect(page).to_have_url(re.compile(r"/signin"))
    await page.get_by_label("Benutzername").fill((await staff_form(app))["username"])
    await page.get_by_label("Passwort").fill(TEST_PASSWORD)
    await page.get_by_role("button", name="Anmelden").click()
    await page.wait_for_url(app.url(path))


def _script_errors(console_log: list[str]) -> list[str]:
    """Console errors except the browser's note on each non-2xx answer (a 409 is expected)."""
    return [
        line
        for line in console_log
        if line.startswith(("error", "pageerror")) and "Failed to load resource" not in line
    ]


def _same_origin_only(urls: list[str], base_url: str) -> list[str]:
    origin = urlsplit(base_url)
    return [u for u in urls if urlsplit(u)[:2] != origin[:2]]


async def test_host_books_a_weekly_seminar_sees_it_and_a_conflict(
    knoten_app: RunningApp, page: Page, request_log, artifacts_dir: Path, console_log
) -> None:
    first = _today() + timedelta(days=7)
    await sign_in(page, knoten_app)
    await expect(page.get_by_role("heading", name="Kalender", exact=True)).to_be_visible()
    await expect(page.locator(".day.today")).to_have_count(1)
    await page.screenshot(path=str(artifacts_dir / "01-calendar-empty.png"), full_page=True)

    await page.get_by_role("link", name="Neues Seminar").click()
    await page.get_by_label("Titel").fill("Einführung in den 3D-Druck")
    await page.get_by_label("Beschreibung").fill("Vom Modell zum fertigen Teil.")
    await page.get_by_label("Kursleitung").fill("Frau Berger")
    await page.get_by_label("Datum", exact=True).fill(first.isoformat())
    await page.get_by_label("Beginn").fill("18:00")
    await page.get_by_label("Ende", exact=True).fill("19:30")
    await page.get_by_label("Jede Woche").check()
    await page.locator("#count").fill("4")
    await page.screenshot(path=str(artifacts_dir / "02-seminar-form.png"), full_page=True)
    await page.get_by_role("button", name="Speichern").click()

    # Back in the calendar, on the week of the first date.
    await page.wait_for_url(lambda url: "/dashboard?" in url and "week=" in url)
    event = page.get_by_test_id("event").filter(has_text="Einführung in den 3D-Druck")
    await expect(event).to_have_count(1)
    await expect(event).to_contain_text("18:00–19:30")
    await page.screenshot(path=str(artifacts_dir / "03-calendar-week.png"), full_page=True)
    await page.set_viewport_size({"width": 1280, "height": 720})
    await page.screenshot(path=str(artifacts_dir / "03-calendar-week-wide.png"))
    await page.set_viewport_size({"width": 800, "height": 600})
    await page.get_by_role("button", name="Nächste Woche").click()
    await expect(event).to_have_count(1)
    await page.get_by_role("button", name="Liste").click()
    await expect(page.get_by_test_id("event")).to_have_count(3)  # dates 2–4 from this week on
    await page.screenshot(path=str(artifacts_dir / "04-calendar-list.png"), full_page=True)

    # A one-off booking on the second date overlaps: the form names the clashing seminar.
    await page.goto(knoten_app.url("/dashboard/seminars/new"))
    await page.get_by_label("Titel").fill("Makerspace-Sprechstunde")
    await page.get_by_label("Datum", exact=True).fill((first + timedelta(days=7)).isoformat())
    await page.get_by_label("Beginn").fill("19:00")
    await page.get_by_label("Ende", exact=True).fill("20:00")
    await page.get_by_role("button", name="Speichern").click()
    error = page.get_by_test_id("when-error")
    await expect(error).to_contain_text("Einführung in den 3D-Druck")
    await expect(error).to_contain_text("18:00–19:30")
    await expect(page.locator("#date")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#date")).to_be_focused()
    await page.screenshot(path=str(artifacts_dir / "05-conflict.png"), full_page=True)

    # A local mistake is caught before asking the service.
    await page.get_by_label("Ende", exact=True).fill("18:30")
    await page.get_by_label("Beginn").fill("19:00")
    await page.get_by_role("button", name="Speichern").click()
    await expect(error).to_have_text("Das Ende muss nach dem Beginn liegen.")

    assert request_log.non_loopback() == []
    assert _same_origin_only(request_log.urls, knoten_app.base_url) == []
    assert not _script_errors(console_log)


async def test_live_panel_starts_early_and_stops_without_reload(
    knoten_app: RunningApp,
    api: aiohttp.ClientSession,
    page: Page,
    request_log,
    artifacts_dir: Path,
    console_log,
) -> None:
    day = _today() + timedelta(days=1)
    body = {
        "title": "Digitale Sprechstunde",
        "host": "Herr Yılmaz",
        "room_id": 1,
        "start": f"{day.isoformat()}T10:00:00",
        "end": f"{day.isoformat()}T11:00:00",
    }
    async with api.post("/api/v1/seminars", json=body) as response:
        assert response.status == 201
        occurrence_id = (await response.json())["occurrences"][0]["id"]

    path = f"/dashboard/occurrences/{occurrence_id}"
    await sign_in(page, knoten_app, path)
    state = page.get_by_test_id("live-state")
    await expect(state).to_have_text("Geplant")
    await expect(page.get_by_test_id("countdown")).to_contain_text("Beginnt in")
    async with api.get(f"/api/v1/occurrences/{occurrence_id}") as response:
        link = (await response.json())["join_url"]
    assert link.startswith(f"{knoten_app.base_url}/join/{occurrence_id}")
    await expect(page.get_by_test_id("join-url")).to_have_value(link)
    qr_width = await page.eval_on_selector("#join-qr", "img => img.complete && img.naturalWidth")
    assert qr_width and qr_width > 0, "the QR code image loaded"
    await page.screenshot(path=str(artifacts_dir / "01-live-scheduled.png"), full_page=True)

    # A marker in the window survives only if the page is never reloaded.
    await page.evaluate("window.__noReload = true")
    await page.get_by_role("button", name="Jetzt starten").click()
    await page.get_by_test_id("confirm-dialog").get_by_role("button", name="Starten").click()
    await expect(state).to_have_text("Live")
    await expect(page.get_by_role("button", name="Beenden")).to_be_focused()
    await expect(page.get_by_test_id("countdown")).to_contain_text("Läuft seit")
    await page.screenshot(path=str(artifacts_dir / "02-live-running.png"), full_page=True)

    await page.get_by_role("button", name="Beenden").click()
    await page.get_by_role("button", name="Jetzt beenden").click()
    await expect(state).to_have_text("Beendet")
    assert await page.evaluate("window.__noReload === true")
    async with api.get(f"/api/v1/occurrences/{occurrence_id}") as response:
        assert (await response.json())["state"] == "ended"
    await page.screenshot(path=str(artifacts_dir / "03-live-ended.png"), full_page=True)

    # Polling: a change made elsewhere (here: through the API) shows up without a reload.
    other = {
        **body,
        "title": "Zweiter Termin",
        "start": f"{day}T14:00:00",
        "end": f"{day}T15:00:00",
    }
    async with api.post("/api/v1/seminars", json=other) as response:
        second = (await response.json())["occurrences"][0]["id"]
    await page.goto(knoten_app.url(f"/dashboard/occurrences/{second}"))
    await expect(state).to_have_text("Geplant")
    await page.evaluate("window.__noReload = true")
    async with api.post(f"/api/v1/occurrences/{second}/start") as response:
        assert response.status == 200
    await expect(state).to_have_text("Live", timeout=5000)
    assert await page.evaluate("window.__noReload === true")

    assert request_log.non_loopback() == []
    assert _same_origin_only(request_log.urls, knoten_app.base_url) == []
    assert not _script_errors(console_log)


@pytest.fixture
async def attacker_site() -> AsyncIterator[tuple[int, list[str]]]:
    """A tiny "other site" on its own loopback port. ``/attack?target=URL&kind=api|signout``
    serves a page whose form posts to ``target`` as soon as it loads (inline script: this is
    the attacker's page, not ours)."""
    pages: list[str] = []

    async def attack(request: web.Request) -> web.Response:
        target = request.query["target"]
        if request.query["kind"] == "api":
            # The classic JSON-via-form trick: text/plain body that parses as JSON.
            fields = '<input type="hidden" name=\'{"name":"Gekapert","x":"\' value=\'"}\'>'
            enctype = "text/plain"
        else:
            fields = '<input type="hidden" name="csrf_token" value="guessed">'
            enctype = "application/x-www-form-urlencoded"
        html = (
            f'<!doctype html><form id="f" method="post" action="{target}" enctype="{enctype}">'
            f"{fields}</form><script>document.getElementById('f').submit()</script>"
        )
        pages.append(str(request.url))
        return web.Response(text=html, content_type="text/html")

    app = web.Application()
    app.router.add_get("/attack", attack)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_tcp_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield port, pages
    finally:
        await runner.cleanup()


async def test_cross_site_form_posts_are_refused_and_change_nothing(
    knoten_app: RunningApp,
    api: aiohttp.ClientSession,
    page: Page,
    attacker_site: tuple[int, list[str]],
    artifacts_dir: Path,
) -> None:
    port, _ = attacker_site
    await sign_in(page, knoten_app, "/dashboard/recordings")
    sent_cookie: dict[str, bool] = {}

    async def note(request) -> None:  # type: ignore[no-untyped-def]
        if request.method == "POST":
            headers = await request.all_headers()
            sent_cookie[request.url] = "knoten_session" in headers.get("cookie", "")

    page.on("request", note)
    # localhost:<port> is another *site* (SameSite keeps the cookie home); 127.0.0.1:<port>
    # is the same site but another *origin*: the cookie goes along, the checks must hold.
    cases = [
        (f"http://localhost:{port}", "api", "/api/v1/rooms"),
        (f"http://127.0.0.1:{port}", "api", "/api/v1/rooms"),
        (f"http://127.0.0.1:{port}", "signout", "/signout"),
    ]
    for number, (attacker, kind, target_path) in enumerate(cases, 1):
        target = knoten_app.url(target_path)
        async with page.expect_response(
            lambda r, target=target: r.url == target and r.request.method == "POST"
        ) as info:
            await page.goto(f"{attacker}/attack?kind={kind}&target={target}")
        response = await info.value
        assert response.status == 403, (attacker, kind, response.status)
        await page.screenshot(path=str(artifacts_dir / f"0{number}-refused-{kind}.png"))

    assert sent_cookie[knoten_app.url("/signout")], "the same-site post did carry the cookie"
    async with api.get("/api/v1/rooms") as rooms:
        assert [room["name"] for room in await rooms.json()] == ["Seminarraum"]

    # Still signed in: the forged sign-out did nothing. The rooms page works as usual.
    await page.goto(knoten_app.url("/dashboard/rooms"))
    await expect(page.get_by_test_id("room-row")).to_have_count(1)
    await page.get_by_label("Name").fill("Lesesaal")
    await page.get_by_role("button", name="Speichern").click()
    await expect(page.get_by_test_id("room-row")).to_have_count(2)
    await page.get_by_role("button", name="Bearbeiten: Lesesaal").click()
    await expect(page.get_by_label("Name")).to_be_focused()
    await page.get_by_label("Name").fill("Großer Lesesaal")
    await page.get_by_role("button", name="Speichern").click()
    renamed = page.get_by_test_id("room-row").filter(has_text="Großer Lesesaal")
    await expect(renamed).to_have_count(1)
    await page.screenshot(path=str(artifacts_dir / "04-rooms.png"), full_page=True)

    # The real sign-out (from our own page, with the form token) works, in English too.
    await page.get_by_role("link", name="English").click()
    await expect(page.get_by_role("heading", name="Rooms")).to_be_visible()
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_text("You are signed out.")).to_be_visible()
    await page.screenshot(path=str(artifacts_dir / "05-signed-out.png"), full_page=True)
    await page.goto(knoten_app.url("/dashboard"))
    await expect(page).to_have_url(re.compile(r"/signin"))
