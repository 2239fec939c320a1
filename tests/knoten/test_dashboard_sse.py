"""The live panel's event stream (Server-Sent Events): the session cookie opens it, it carries the
API's occurrence JSON at once and again on every change, and it never holds the service up."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime, timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from playwright.async_api import Page, expect

from knoten.config import Config
from knoten.web.session import COOKIE
from tests.knoten.test_dashboard_browser import _script_errors, sign_in
from tests.support.accounts import staff_form
from tests.support.app_fixtures import TEST_TOKEN, RunningApp, make_config, serve
from tests.support.ports import free_tcp_port

pytestmark = pytest.mark.timeout(30)

BERLIN = ZoneInfo("Europe/Berlin")


async def _session_cookie(app: RunningApp, http: aiohttp.ClientSession) -> str:
    async with http.post(
        app.url("/signin"),
        data={**await staff_form(app), "next": "/dashboard"},
        allow_redirects=False,
    ) as response:
        assert response.status == 303
        return SimpleCookie(response.headers["Set-Cookie"])[COOKIE].value


async def _book(api: aiohttp.ClientSession) -> int:
    day = datetime.now(BERLIN).date() + timedelta(days=1)
    body = {
        "title": "Sprechstunde Datenbanken",
        "host": "Frau Nowak",
        "room_id": 1,
        "start": f"{day}T10:00:00",
        "end": f"{day}T11:00:00",
    }
    async with api.post("/api/v1/seminars", json=body) as response:
        assert response.status == 201
        return int((await response.json())["occurrences"][0]["id"])


async def _next_event(response: aiohttp.ClientResponse) -> tuple[str, dict[str, Any]]:
    """The next named event (comments and ``retry:`` skipped) as (name, parsed data)."""
    name, data = "message", ""
    while True:
        raw = await response.content.readline()
        assert raw, "the stream ended"
        line = raw.decode().rstrip("\r\n")
        if line == "":
            if data:
                return name, json.loads(data)
            name = "message"
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            name = value
        elif field == "data":
            data = value if not data else f"{data}\n{value}"


async def test_stream_sends_the_occurrence_then_its_changes(
    knoten_app: RunningApp, api: aiohttp.ClientSession, http: aiohttp.ClientSession
) -> None:
    occurrence_id = await _book(api)
    cookie = await _session_cookie(knoten_app, http)
    url = knoten_app.url(f"/dashboard/occurrences/{occurrence_id}/events")
    async with http.get(url, cookies={COOKIE: cookie}) as stream:
        assert stream.status == 200
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        assert stream.headers["Cache-Control"] == "no-store"
        async with asyncio.timeout(5):
            name, first = await _next_event(stream)
        assert name == "occurrence"
        async with api.get(f"/api/v1/occurrences/{occurrence_id}") as response:
            from_api = await response.json()
        assert first["load"] == {
            "level": "normal",
            "viewer_limit": None,
            "partner_profiles_reduced": False,
        }  # load shedding
        assert {k: v for k, v in first.items() if k not in ("viewers", "load")} == from_api
        assert first["state"] == "scheduled" and first["source"] is None

        async with api.post(f"/api/v1/occurrences/{occurrence_id}/start") as response:
            assert response.status == 200
        async with asyncio.timeout(10):
            while True:
                name, data = await _next_event(stream)
                assert name == "occurrence"
                if data["state"] == "live" and isinstance(data.get("source"), dict):
                    break
        assert data["source"]["state"] in {"starting", "standby", "live", "lost"}
        assert data.get("viewers", 0) == 0

        async with api.post(f"/api/v1/occurrences/{occurrence_id}/stop") as response:
            assert response.status == 200
        async with asyncio.timeout(10):
            while data["state"] != "ended":
                _, data = await _next_event(stream)


async def test_stream_needs_a_session_and_a_known_occurrence(
    knoten_app: RunningApp, api: aiohttp.ClientSession, http: aiohttp.ClientSession
) -> None:
    occurrence_id = await _book(api)
    url = knoten_app.url(f"/dashboard/occurrences/{occurrence_id}/events")
    async with http.get(url, allow_redirects=False) as response:
        assert response.status == 401
        assert not response.headers.get("Content-Type", "").startswith("text/event-stream")
    async with http.get(url, cookies={COOKIE: "not-a-session"}, allow_redirects=False) as response:
        assert response.status == 401
    # The admin token is for the API; this page-side stream wants the browser session.
    async with api.get(url, allow_redirects=False) as response:
        assert response.status == 401
    cookie = await _session_cookie(knoten_app, http)
    missing = knoten_app.url("/dashboard/occurrences/999999/events")
    async with http.get(missing, cookies={COOKIE: cookie}) as response:
        assert response.status == 404


async def test_stream_ends_when_the_session_is_signed_out(
    knoten_app: RunningApp, api: aiohttp.ClientSession, http: aiohttp.ClientSession
) -> None:
    occurrence_id = await _book(api)
    cookie = await _session_cookie(knoten_app, http)
    url = knoten_app.url(f"/dashboard/occurrences/{occurrence_id}/events")
    async with http.get(url, cookies={COOKIE: cookie}) as stream:
        async with asyncio.timeout(5):
            await _next_event(stream)
        async with http.get(knoten_app.url("/dashboard"), cookies={COOKIE: cookie}) as page:
            html = await page.text()
        csrf = html.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
        async with http.post(
            knoten_app.url("/signout"),
            data={"csrf_token": csrf},
            cookies={COOKIE: cookie},
            allow_redirects=False,
        ) as response:
            assert response.status == 303
        async with asyncio.timeout(5):
            assert await stream.content.read() == b"", "the stream ends cleanly"


def _stream_handlers() -> list[asyncio.Task[Any]]:
    """Server tasks still inside the event-stream handler (followed down their await chain)."""
    found = []
    for task in asyncio.all_tasks():
        if task is asyncio.current_task() or task.done():
            continue
        coro: Any = task.get_coro()
        while coro is not None:
            if getattr(coro, "__name__", "") == "occurrence_events":
                found.append(task)
                break
            coro = getattr(coro, "cr_await", None)
    return found


@pytest.fixture
def own_config(tmp_path: Path) -> Config:
    return make_config(tmp_path / "own", free_tcp_port())


async def test_closing_the_client_ends_the_handler(own_config: Config) -> None:
    async with serve(own_config) as app:
        async with aiohttp.ClientSession(
            base_url=app.base_url, headers={"Authorization": f"Bearer {TEST_TOKEN}"}
        ) as api:
            occurrence_id = await _book(api)
        async with aiohttp.ClientSession() as http:
            cookie = await _session_cookie(app, http)
            url = app.url(f"/dashboard/occurrences/{occurrence_id}/events")
            stream = await http.get(url, cookies={COOKIE: cookie})
            async with asyncio.timeout(5):
                await _next_event(stream)
            assert _stream_handlers(), "the handler runs while the client listens"
            stream.close()
        async with asyncio.timeout(3):
            while _stream_handlers():
                await asyncio.sleep(0.05)


async def test_shutdown_is_prompt_with_an_open_stream(own_config: Config) -> None:
    loop = asyncio.get_running_loop()
    http = aiohttp.ClientSession()
    try:
        async with serve(own_config) as app:
            async with aiohttp.ClientSession(
                base_url=app.base_url, headers={"Authorization": f"Bearer {TEST_TOKEN}"}
            ) as api:
                occurrence_id = await _book(api)
            cookie = await _session_cookie(app, http)
            url = app.url(f"/dashboard/occurrences/{occurrence_id}/events")
            stream = await http.get(url, cookies={COOKIE: cookie})
            async with asyncio.timeout(5):
                await _next_event(stream)
            assert _stream_handlers()
            started = loop.time()
        # serve() ran runner.cleanup() (shutdown_timeout=2) with the stream still open.
        took = loop.time() - started
        assert took < 2.0, f"shutdown waited {took:.1f} s for the event stream"
        assert not _stream_handlers()
        async with asyncio.timeout(2):
            assert await stream.content.read() == b"", "the client sees a clean end"
        stream.close()
    finally:
        await http.close()


# -- in the browser -----------------------------------------------------------------------------


@pytest.mark.browser
async def test_live_panel_follows_the_stream_and_closes_it_on_leaving(
    knoten_app: RunningApp, api: aiohttp.ClientSession, page: Page, request_log, console_log
) -> None:
    occurrence_id = await _book(api)
    await sign_in(page, knoten_app, f"/dashboard/occurrences/{occurrence_id}")
    state = page.get_by_test_id("live-state")
    await expect(state).to_have_text("Geplant")
    assert await page.evaluate("window.knotenLive.mode()") == "stream"
    await page.evaluate("window.__noReload = true")
    async with api.post(f"/api/v1/occurrences/{occurrence_id}/start") as response:
        assert response.status == 200
    await expect(state).to_have_text("Live", timeout=5000)
    await expect(page.get_by_test_id("source-state")).to_have_attribute(
        "data-state", re.compile(r"starting|standby|live|lost")
    )
    await expect(page.get_by_test_id("viewers")).to_have_text("0")
    assert await page.evaluate("window.__noReload === true")
    # No polling: the occurrence came over the stream, not from the API.
    assert request_log.matching(rf"/api/v1/occurrences/{occurrence_id}(/viewers)?$") == []
    assert len(request_log.matching(rf"/dashboard/occurrences/{occurrence_id}/events$")) == 1
    assert _stream_handlers()

    await page.goto("about:blank")  # pagehide closes the EventSource; the handler ends
    async with asyncio.timeout(5):
        while _stream_handlers():
            await asyncio.sleep(0.05)
    assert not _script_errors(console_log)


@pytest.mark.browser
async def test_live_panel_falls_back_to_polling_when_the_stream_fails(
    knoten_app: RunningApp, api: aiohttp.ClientSession, page: Page, console_log
) -> None:
    occurrence_id = await _book(api)
    await page.route(re.compile(r"/events$"), lambda route: route.abort("connectionreset"))
    await sign_in(page, knoten_app, f"/dashboard/occurrences/{occurrence_id}")
    state = page.get_by_test_id("live-state")
    await expect(state).to_have_text("Geplant")  # filled at once, while the stream retries
    async with asyncio.timeout(15):  # three failed connects (the browser retries after ~3 s)
        while await page.evaluate("window.knotenLive.mode()") != "polling":
            await asyncio.sleep(0.2)
    async with api.post(f"/api/v1/occurrences/{occurrence_id}/start") as response:
        assert response.status == 200
    await expect(state).to_have_text("Live", timeout=5000)
    await expect(page.locator("#live-message")).to_be_hidden()
