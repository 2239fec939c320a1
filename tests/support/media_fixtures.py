"""Pytest plugin: real-media fixtures (nginx-rtmp partners, headless Chromium, test artifacts).

Owned by the media test harness; registered in tests/conftest.py via ``pytest_plugins``. The
machinery lives in ``nginx_rtmp.py``, ``browser.py``, ``ports.py`` and ``processes.py`` beside this
file; this module only wires it into fixtures with guaranteed teardown.

Fixtures:
- ``nginx_partner`` -> started ``NginxRtmpPartner`` (stopped at teardown)
- ``nginx_partner_factory`` -> ``await factory(**kwargs)`` for tests needing several partners
- ``artifacts_dir`` -> ``<repo>/test-artifacts/<sanitized nodeid>/`` (fresh per test)
- ``browser`` -> Playwright ``Browser`` on Debian's Chromium with ``CHROMIUM_ARGS``
- ``page`` -> ``Page`` in a fresh context; non-loopback requests aborted; screenshot, request and
  console logs saved to ``artifacts_dir`` at teardown
- ``request_log`` -> ``RequestLog`` of everything the ``page``'s context requested
- ``console_log`` -> list of "type: text" console messages and page errors
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, Route, async_playwright

from tests.support.browser import (
    CHROMIUM_ARGS,
    CHROMIUM_PATH,
    RequestLog,
    chromium_env,
    chromium_processes,
    is_loopback_url,
    sanitize_nodeid,
    save_page_artifacts,
    wait_until_gone,
)
from tests.support.nginx_rtmp import NginxRtmpPartner

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS_ROOT = Path(os.environ.get("KNOTEN_TEST_ARTIFACTS", REPO_ROOT / "test-artifacts"))

NginxPartnerFactory = Callable[..., Awaitable[NginxRtmpPartner]]


# -- nginx-rtmp partners ------------------------------------------------------------------------


@pytest_asyncio.fixture
async def nginx_partner_factory(tmp_path: Path) -> AsyncIterator[NginxPartnerFactory]:
    """``partner = await nginx_partner_factory(hls=False, stat=True)``: a started partner.

    Each gets its own prefix and ports; all are stopped (and reaped) at teardown.
    """
    partners: list[NginxRtmpPartner] = []

    async def make(**kwargs: Any) -> NginxRtmpPartner:
        partner = NginxRtmpPartner(tmp_path / f"nginx-partner-{len(partners)}", **kwargs)
        partners.append(partner)
        return await partner.start()

    try:
        yield make
    finally:
        for partner in partners:
            try:
                await partner.stop()
            finally:
                partner.kill_now()  # no-op after a clean stop; SIGKILL if stop() itself failed


@pytest_asyncio.fixture
async def nginx_partner(nginx_partner_factory: NginxPartnerFactory) -> NginxRtmpPartner:
    """A started nginx-rtmp partner on a free loopback port (``.url(key)`` to publish)."""
    return await nginx_partner_factory()


# -- artifacts ----------------------------------------------------------------------------------


@pytest.fixture
def artifacts_dir(request: pytest.FixtureRequest) -> Path:
    """``test-artifacts/<nodeid>/`` under the repo root (gitignored), emptied at the test's start
    so a stale screenshot from an earlier run can't be mistaken for this one's."""
    directory = ARTIFACTS_ROOT / sanitize_nodeid(request.node.nodeid)
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


# -- browser ------------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Browser]:
    """Headless Debian Chromium with the flags from MEDIA-NOTES; closed, and verified gone."""
    home = tmp_path / "chromium-home"
    playwright = await async_playwright().start()
    launched: list[int] = []
    try:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM_PATH,
            headless=True,
            args=CHROMIUM_ARGS,
            env=chromium_env(home),
            timeout=30_000,
        )
        try:
            yield browser
        finally:
            # Snapshot while the driver is alive: once it exits, Chromium is no longer our child.
            launched = chromium_processes(str(home))
            await asyncio.wait_for(browser.close(), 15)
    finally:
        await asyncio.wait_for(playwright.stop(), 15)
        # A leaked renderer keeps burning CPU in every later test: insist that none survives.
        if leftovers := await wait_until_gone(launched + chromium_processes(str(home))):
            pytest.fail(f"Chromium processes survived browser.close() (killed now): {leftovers}")


@pytest.fixture
def request_log() -> RequestLog:
    """Every URL requested by the ``page`` fixture's browser context."""
    return RequestLog()


@pytest.fixture
def console_log() -> list[str]:
    """Console messages ("log: ...", "error: ...") and uncaught page errors ("pageerror: ...")."""
    return []


@pytest_asyncio.fixture
async def page(
    browser: Browser,
    request_log: RequestLog,
    console_log: list[str],
    artifacts_dir: Path,
) -> AsyncIterator[Page]:
    """A page in a fresh context. Requests to anything but loopback are aborted and logged; at
    teardown a screenshot, requests.json and console.txt go to ``artifacts_dir``."""
    context = await browser.new_context(viewport={"width": 800, "height": 600})
    context.set_default_timeout(10_000)  # Playwright's own waits (goto, click...) never hang long
    context.on("request", request_log.on_request)
    context.on("requestfailed", request_log.on_request_failed)

    async def refuse(route: Route) -> None:
        request_log.blocked.append(route.request.url)
        await route.abort("addressunreachable")

    await context.route(lambda url: not is_loopback_url(url), refuse)
    page = await context.new_page()
    page.on("console", lambda msg: console_log.append(f"{msg.type}: {msg.text}"))
    page.on("pageerror", lambda exc: console_log.append(f"pageerror: {exc}"))
    try:
        yield page
    finally:
        try:
            await save_page_artifacts(page, artifacts_dir, request_log, console_log)
        finally:
            # Closing the context closes its pages and with them any RTCPeerConnection left open.
            await asyncio.wait_for(context.close(), 15)
