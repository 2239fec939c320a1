"""Headless Chromium for tests: launch flags, request logging and JS helpers with timeouts.

Owned by the media test harness; the pytest fixtures built on this live in
``tests/support/media_fixtures.py``. Debian's Chromium is driven through Playwright's async API
(never ``playwright install``: it downloads). Flags are the ones measured in shared/MEDIA-NOTES.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Page, Request

from tests.support.processes import all_pids, children_of, cmdline, is_alive, kill_all, read_stat

CHROMIUM_PATH = os.environ.get("KNOTEN_CHROMIUM", "/usr/bin/chromium")

CHROMIUM_ARGS: list[str] = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-default-apps",
    "--disable-extensions",
    # Fake camera/microphone and auto-granted permission: getUserMedia works without prompts.
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    # Without this a loopback RTCPeerConnection never connects (measured).
    "--allow-loopback-in-peer-connection",
    # Real host candidates instead of *.local mDNS names, which nothing resolves here.
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# Schemes that never leave the browser process.
LOCAL_SCHEMES = frozenset({"data", "blob", "about", "chrome", "chrome-extension"})


def chromium_env(home: Path) -> dict[str, str]:
    """Environment for one Chromium launch with its own config/cache home.

    Chromium's crashpad handlers double-fork away from our process tree and take their database
    path from XDG_CONFIG_HOME, so a private home (a) keeps them out of ~/.config and (b) puts a
    unique tag in their command line by which teardown can find them.
    """
    return {
        **os.environ,
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(home / "cache"),
    }


def chromium_processes(tag: str) -> list[int]:
    """Running Chromium processes of this test: descendants of this process whose comm starts with
    "chrom" plus anything whose command line carries ``tag`` (the private home, see above)."""
    found = set()
    for pid in children_of(os.getpid()):
        stat = read_stat(pid)
        if stat is not None and stat.comm.startswith("chrom"):
            found.add(pid)
    found.update(pid for pid in all_pids() if tag in cmdline(pid))
    return sorted(pid for pid in found if pid != os.getpid() and is_alive(pid))


async def wait_until_gone(pids: list[int], timeout_s: float = 5.0) -> list[int]:
    """Wait for ``pids`` to stop running; SIGKILL and return those still running at the deadline.

    Zombies count as gone: crashpad handlers are reparented to PID 1, and reaping them is PID 1's
    business (in our sandbox that takes about a second after they exit).
    """
    deadline = time.monotonic() + timeout_s
    while True:
        # Polling: these are not our children (no wait() possible) and /proc has no events.
        alive = [pid for pid in pids if is_alive(pid)]
        if not alive or time.monotonic() >= deadline:
            kill_all(alive)
            return alive
        await asyncio.sleep(0.02)


def is_loopback_url(url: str) -> bool:
    """True for URLs that stay on this machine (loopback hosts or browser-internal schemes)."""
    parts = urlsplit(url)
    if parts.scheme in LOCAL_SCHEMES:
        return True
    return parts.hostname in LOOPBACK_HOSTS


@dataclass
class RequestLog:
    """Every URL the browser context requested, in order, plus the ones we refused.

    The ``page`` fixture aborts non-loopback requests (there is no network here, and a test page
    that reaches out is a bug); they land in ``blocked`` as well as in ``urls``.
    """

    urls: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def on_request(self, request: Request) -> None:
        self.urls.append(request.url)

    def on_request_failed(self, request: Request) -> None:
        self.failed.append(f"{request.url} ({request.failure})")

    def non_loopback(self) -> list[str]:
        return [url for url in self.urls if not is_loopback_url(url)]

    def matching(self, pattern: str) -> list[str]:
        return [url for url in self.urls if re.search(pattern, url)]


class JsTimeoutError(TimeoutError):
    """A page script did not settle in time."""


async def eval_with_timeout(page: Page, js: str, timeout_s: float, arg: Any = None) -> Any:
    """``page.evaluate(js, arg)`` bounded by ``timeout_s`` (evaluate itself waits forever).

    On timeout the promise keeps running inside the page; only our wait is abandoned.
    """
    try:
        return await asyncio.wait_for(page.evaluate(js, arg), timeout_s)
    except TimeoutError:
        snippet = " ".join(js.split())[:120]
        raise JsTimeoutError(f"page script did not settle in {timeout_s} s: {snippet}") from None


async def wait_for_js(
    page: Page,
    js: str,
    timeout_s: float,
    *,
    arg: Any = None,
    interval_s: float = 0.1,
    step_timeout_s: float = 5.0,
) -> Any:
    """Poll ``js`` (may return a promise) until it yields something truthy; return that value.

    Raises ``JsTimeoutError`` with the last value seen, which usually explains the failure.
    """
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            snippet = " ".join(js.split())[:120]
            raise JsTimeoutError(
                f"condition not met in {timeout_s} s: {snippet}; last value: {last!r}"
            )
        last = await eval_with_timeout(page, js, min(step_timeout_s, remaining), arg)
        if last:
            return last
        await asyncio.sleep(interval_s)


def sanitize_nodeid(nodeid: str) -> str:
    """A test node id as a single safe directory name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")[:150]


def _write_logs(directory: Path, log: RequestLog, console: list[str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "requests.json").write_text(
        json.dumps({"urls": log.urls, "blocked": log.blocked, "failed": log.failed}, indent=1)
    )
    (directory / "console.txt").write_text("\n".join(console) + "\n")


async def save_page_artifacts(
    page: Page, directory: Path, log: RequestLog, console: list[str], timeout_s: float = 5.0
) -> None:
    """Screenshot + request and console logs for post-mortems. Never raises: teardown must go on."""
    await asyncio.to_thread(_write_logs, directory, log, console)
    if page.is_closed():
        return
    try:
        await asyncio.wait_for(
            page.screenshot(path=str(directory / "screenshot.png"), timeout=timeout_s * 1000),
            timeout_s + 1,
        )
    except Exception as exc:  # a wedged page must not turn a failure into a hang
        await asyncio.to_thread((directory / "screenshot-error.txt").write_text, repr(exc))
