"""The conversation in headless Chromium: the host's live panel and two participants' join pages
on one recorded date, and a room display. Messages arrive on every page within a second and in
order; a question with two votes comes first; what the host hides disappears everywhere; names
and messages that look like HTML stay text; the rate limit speaks German; after a restart of the
service every page reconnects and shows what it missed, without duplicates. Consent: nobody
writes before acknowledging the recording notice; an unrecorded date shows no notice."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from knoten.config import Config
from knoten.keys import CONVERSATIONS
from tests.knoten.test_dashboard_browser import sign_in
from tests.support.app_fixtures import RunningApp, admin_session, serve

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

BERLIN = ZoneInfo("Europe/Berlin")
XSS_NAME = '<img src=x onerror="window.hacked=1">'
XSS_TEXT = "<b>fett</b><script>window.hacked=2</script>"


async def _seminar(app: RunningApp, *, record: bool) -> dict[str, Any]:
    # In two hours: the room display shows the room's next date of the coming hours.
    start = (datetime.now(BERLIN) + timedelta(hours=2)).replace(second=0, microsecond=0)
    body = {"title": "Einführung in den 3D-Druck", "room_id": 1,
            "start": start.replace(tzinfo=None).isoformat(),
            "end": (start + timedelta(hours=2)).replace(tzinfo=None).isoformat(),
            "record": record}  # fmt: skip
    async with admin_session(app) as api, api.post("/api/v1/seminars", json=body) as response:
        assert response.status == 201, await response.text()
        return (await response.json())["occurrences"][0]


@contextlib.asynccontextmanager
async def _context(browser: Browser, errors: list[str]) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context(viewport={"width": 900, "height": 900}, locale="de-DE")
    context.set_default_timeout(10_000)
    context.on("weberror", lambda error: errors.append(str(error.error)))
    try:
        yield context
    finally:
        await asyncio.wait_for(context.close(), 15)


async def _participant(context: BrowserContext, occurrence: dict[str, Any], name: str) -> Page:
    page = await context.new_page()
    await page.goto(occurrence["join_url"] + "&lang=de")
    await page.get_by_test_id("chat-name").fill(name)
    await page.get_by_test_id("chat-name").dispatch_event("change")
    await page.wait_for_function("window.knotenChat && window.knotenChat.connected()")
    return page


async def _say(page: Page, text: str, question: bool = False) -> None:
    await page.get_by_test_id("chat-input").fill(text)
    if question:
        await page.get_by_test_id("chat-question").check()
    await page.get_by_test_id("chat-send").click()


def _texts(page: Page) -> Any:
    return page.evaluate("window.knotenChat.messages().map((m) => m.text)")


async def test_host_and_two_participants_talk_and_it_survives_a_restart(
    app_config: Config, browser: Browser
) -> None:
    errors: list[str] = []
    service = serve(app_config)
    running = await service.__aenter__()
    try:
        async with contextlib.AsyncExitStack() as stack:
            anna_ctx = await stack.enter_async_context(_context(browser, errors))
            ben_ctx = await stack.enter_async_context(_context(browser, errors))
            host_ctx = await stack.enter_async_context(_context(browser, errors))
            occurrence = await _seminar(running, record=True)
            anna = await _participant(anna_ctx, occurrence, XSS_NAME)
            ben = await _participant(ben_ctx, occurrence, "Ben")
            host = await host_ctx.new_page()
            await sign_in(host, running, f"/dashboard/occurrences/{occurrence['id']}")
            await host.wait_for_function("window.knotenChat && window.knotenChat.connected()")
            await _talk(running, anna, ben, host, host_ctx)

            # The service restarts; what is said meanwhile reaches every page once it is back.
            before = await _texts(anna)
            await service.__aexit__(None, None, None)
            service = serve(app_config)
            running = await service.__aenter__()
            hub = running.app[CONVERSATIONS]
            await hub.say(await hub.conversation(occurrence["id"]), None, "Wir sind zurück!")
            for page in (anna, ben):
                await expect(page.get_by_test_id("chat-list")).to_contain_text(
                    "Wir sind zurück!", timeout=20_000
                )
                assert await _texts(page) == [*before, "Wir sind zurück!"]  # nothing twice
    finally:
        await service.__aexit__(None, None, None)
    assert not errors, errors


async def _talk(
    running: RunningApp, anna: Page, ben: Page, host: Page, host_ctx: BrowserContext
) -> None:
    # Recorded: the notice is there before anything plays, and nobody writes before consent.
    notice = anna.get_by_test_id("recording-notice")
    await expect(notice).to_contain_text("Diese Veranstaltung wird aufgezeichnet")
    await expect(anna.get_by_test_id("chat-input")).to_be_disabled()
    await expect(anna.locator("[data-chat=hint]")).to_contain_text("Hinweis")
    for page in (anna, ben):
        await page.get_by_test_id("consent-button").click()
        await expect(page.get_by_test_id("chat-input")).to_be_enabled()

    # Within a second on every page, in order, and as text.
    await _say(anna, XSS_TEXT)
    for page in (ben, host):
        await expect(page.get_by_test_id("chat-list")).to_contain_text(XSS_TEXT, timeout=1000)
        await expect(page.get_by_test_id("chat-list")).to_contain_text(XSS_NAME)
        assert await page.locator("[data-chat=list] img, [data-chat=list] b").count() == 0
    for word in ("eins", "zwei", "drei"):
        await _say(anna, word)
    await expect(ben.get_by_test_id("chat-list")).to_contain_text("drei", timeout=1000)
    assert (await _texts(ben))[1:] == ["eins", "zwei", "drei"]
    assert (await _texts(host)) == (await _texts(ben))

    # Two questions; the later one gets two votes and comes first for everyone.
    await _say(ben, "Welches Filament für Anfänger?", question=True)
    await _say(anna, "Wie lange dauert ein Druck?", question=True)
    for page in (ben, anna):
        question = page.locator("[data-chat=questions] li", has_text="Wie lange")
        await question.get_by_role("button", name="+1").click()
        await expect(question.get_by_role("button", name="✓ abgestimmt")).to_be_visible()
    first = host.locator("[data-chat=questions] li").first
    await expect(first).to_contain_text("Wie lange dauert ein Druck?")
    await expect(first).to_contain_text("2 Stimmen")

    # The host answers it (the room display shows it) and hides a message for everyone.
    display = await host_ctx.new_page()
    async with admin_session(running) as api, api.get("/api/v1/rooms/1/display") as response:
        display_url = (await response.json())["url"]
    await display.goto(display_url + "&lang=de")
    await expect(display.get_by_test_id("display-title")).to_contain_text("3D-Druck")
    await expect(display.get_by_test_id("sign-recording")).to_be_hidden()  # not live yet
    await display.wait_for_function("window.knotenChat && window.knotenChat.connected()")
    await first.get_by_role("button", name="Jetzt beantworten").click()
    for page in (anna, display):
        await expect(page.get_by_test_id("chat-current")).to_contain_text("Wie lange dauert")
    await (
        host.locator("[data-chat=list] li", has_text="zwei")
        .get_by_role("button", name="Ausblenden")
        .click()
    )
    for page in (anna, ben, display):
        await expect(page.get_by_test_id("chat-list")).not_to_contain_text("zwei")
    assert await anna.evaluate("window.hacked") is None

    # Too fast: a German sentence, not silence.
    for i in range(7):
        await _say(ben, f"schnell {i}")
    await expect(ben.get_by_test_id("chat-status")).to_contain_text("Bitte etwas langsamer")


async def test_unrecorded_date_has_no_notice_and_writes_at_once(
    knoten_app: RunningApp, browser: Browser
) -> None:
    errors: list[str] = []
    occurrence = await _seminar(knoten_app, record=False)
    async with _context(browser, errors) as context:
        page = await _participant(context, occurrence, "Clara")
        assert await page.get_by_test_id("recording-notice").count() == 0
        await expect(page.get_by_test_id("consent-button")).to_be_hidden()
        await _say(page, "Guten Abend!")
        await expect(page.get_by_test_id("chat-list")).to_contain_text("Guten Abend!")
    assert not errors, errors


async def test_display_link_is_required(
    knoten_app: RunningApp, http: aiohttp.ClientSession
) -> None:
    forged = "/display/1?t=1.4102444800.AAAAAAAAAAAAAAAAAAAAAA&lang=de"
    async with http.get(knoten_app.url(forged)) as r:
        assert r.status == 403 and "Raumanzeige ist ungültig" in await r.text()
    async with admin_session(knoten_app) as api, api.get("/api/v1/rooms/1/display") as response:
        url = (await response.json())["url"]
    async with http.get(url + "&lang=de") as response:
        assert response.status == 200
        body = await response.text()
    assert "Seminarraum" in body and "keine Veranstaltung" in body
    async with http.get(url.replace("/display/1?", "/display/2?")) as response:
        assert response.status == 403  # a room's link opens only that room
