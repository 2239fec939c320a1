"""Join link to first picture in Chromium: p50/p95 over fresh browser contexts (p95 ≤ 700 ms).

Rerun: ``.venv/bin/python -m bench join_browser`` (``python -m bench.bench_join_browser
[--joins 20]``; ``KNOTEN_BENCH_JOINS`` in ``make bench``), about 40 s.

The real service runs as ``knoten serve`` in its own process, as deployed (SQLite in a temporary
directory, its default viewer workers, INFO logging, ICE host candidates on 127.0.0.1 only). One
seminar is booked to have begun a minute ago in the default test-pattern room and started, so
the live pipeline runs (camera FFmpeg, master, WebRTC feed) exactly as on a seminar evening.

Debian's Chromium (``/usr/bin/chromium``, headless, the test suite's flags) is driven by
Playwright. Each join opens the date's join link in a **fresh browser context** (empty cache, no
connection to reuse: a participant's first visit) and waits for the page's own timeline
(``window.knotenJoin.timeline()``, ms since navigation start on the page's clock) to record
``frame``: the first video frame presented (``requestVideoFrameCallback``). One uncounted warm-up
join comes first; then the joins run one after the other, each one leaving (WHEP ``DELETE``) and
closing its context before the next begins.

The breakdown splits each join at the page's marks: page load (navigation start → join.js runs:
renderer, HTML, styles and scripts, parsing), script (→ it starts connecting), gather (→ offer
sent: the peer's ICE candidates), answer (→ WHEP answer: the service's handshake setup),
ICE + DTLS (→ connected), first frame (→ first frame presented: keyframe, decode, paint). The
load average is printed beside the figures:
Chromium, the service and its workers share this machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from playwright.async_api import Browser, async_playwright

from bench.common import Figure, percentile, print_table
from tests.support.app_fixtures import ServiceProcess, start_service, wait_healthy
from tests.support.browser import (
    CHROMIUM_ARGS,
    CHROMIUM_PATH,
    chromium_env,
    chromium_processes,
    is_loopback_url,
    wait_until_gone,
)
from tests.support.ports import free_tcp_port

TOKEN = "bench-join-admin-token-0123456789"
JOINS = 20
FRAME_TIMEOUT_S = 10.0
FEED_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
TARGET_P95_MS = 700
# Segments of a join, each ending at the page's timeline mark of that name.
SEGMENTS = (
    ("page load", "script"),
    ("script", "connect"),
    ("gather", "offer"),
    ("answer", "answer"),
    ("ICE + DTLS", "connected"),
    ("first frame", "frame"),
)

# Everything the page measured about itself once its first frame is presented.
READ_PAGE = """() => {
  const marks = window.knotenJoin ? window.knotenJoin.timeline() : [];
  const nav = performance.getEntriesByType("navigation")[0] || {};
  const resources = performance.getEntriesByType("resource").map((r) => [
    r.name.replace(location.origin, ""), Math.round(r.startTime), Math.round(r.responseEnd)]);
  return {
    marks,
    html: {request: Math.round(nav.requestStart || 0), response: Math.round(nav.responseEnd || 0),
           interactive: Math.round(nav.domInteractive || 0)},
    resources,
  };
}"""
HAS_FRAME = "() => window.knotenJoin && window.knotenJoin.timeline().some((m) => m[0] === 'frame')"


def _progress(text: str) -> None:
    print(f"[join_browser] {text}", file=sys.stderr, flush=True)


async def _book_running_date(base_url: str) -> tuple[str, int]:
    """A date that began a minute ago in the test-pattern room, started: (join link, id)."""
    async with aiohttp.ClientSession(
        base_url=base_url,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=aiohttp.ClientTimeout(total=30),
    ) as session:
        begin = datetime.now(ZoneInfo("Europe/Berlin")).replace(second=0, microsecond=0)
        begin = begin.replace(tzinfo=None) - timedelta(minutes=1)
        body = {
            "title": "Join benchmark",
            "room_id": 1,
            "start": begin.isoformat(),
            "end": (begin + timedelta(hours=1)).isoformat(),
            "record": False,
        }
        async with session.post("/api/v1/seminars", json=body) as response:
            if response.status != 201:
                raise RuntimeError(f"booking: {response.status} {await response.text()}")
            oid = (await response.json())["occurrences"][0]["id"]
        # The reconciler would start it within seconds; asking is quicker (409 = already live).
        async with session.post(f"/api/v1/occurrences/{oid}/start") as response:
            if response.status not in (200, 409):
                raise RuntimeError(f"start: {response.status} {await response.text()}")
        deadline = time.monotonic() + FEED_TIMEOUT_S
        while True:
            async with session.get(f"/api/v1/occurrences/{oid}/viewers") as response:
                feed = (await response.json()).get("feed") or {}
            if feed.get("keyframes", 0) >= 2:  # the pipeline's feed runs, past its first GOP
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"no WebRTC feed after {FEED_TIMEOUT_S:g} s: {feed}")
            await asyncio.sleep(0.2)
        async with session.get(f"/api/v1/occurrences/{oid}") as response:
            occurrence = await response.json()
    return occurrence["join_url"], oid


async def _join(browser: Browser, url: str) -> dict[str, Any]:
    """One participant's first visit: fresh context, open the link, wait for the first frame."""
    context = await browser.new_context(viewport={"width": 800, "height": 600})
    context.set_default_timeout(FRAME_TIMEOUT_S * 1000)
    requests: list[str] = []
    try:
        page = await context.new_page()
        page.on("request", lambda request: requests.append(request.url))
        await page.goto(url, wait_until="commit")
        try:
            await page.wait_for_function(HAS_FRAME, polling=100, timeout=FRAME_TIMEOUT_S * 1000)
        finally:
            seen = await asyncio.wait_for(page.evaluate(READ_PAGE), 5)
        await asyncio.wait_for(page.evaluate("window.knotenJoin.leave()"), 5)
        await page.wait_for_timeout(100)  # let the WHEP DELETE leave before the context closes
    finally:
        await asyncio.wait_for(context.close(), 15)
    seen["requests"] = requests
    return seen


def _segments(join: dict[str, Any]) -> dict[str, float]:
    marks: dict[str, float] = {}
    for name, at in join["marks"]:
        marks.setdefault(name, at)  # the first of each (a retry would add later ones)
    out: dict[str, float] = {}
    previous = 0.0
    for label, mark in SEGMENTS:
        out[label] = marks[mark] - previous
        previous = marks[mark]
    out["total"] = previous
    out["html"] = join["html"]["response"]
    return out


def _figures(
    joins: list[dict[str, float]], failures: int, load: tuple[float, float], example: dict
) -> list[Figure]:
    totals = [j["total"] for j in joins]
    figures = [
        Figure("machine cores (os.cpu_count)", os.cpu_count() or 0, "cores"),
        Figure("  load average (1 min) before", load[0], "runnable"),
        Figure("  load average (1 min) after", load[1], "runnable"),
        Figure("joins measured (fresh context each)", len(joins), "joins"),
        Figure("joins without a first frame", failures, "joins", "0"),
        Figure("link → first frame p50", percentile(totals, 50), "ms"),
        Figure("link → first frame p95", percentile(totals, 95), "ms", f"≤ {TARGET_P95_MS}"),
        Figure("link → first frame max", max(totals), "ms"),
        Figure("  HTML received (p50)", statistics.median(j["html"] for j in joins), "ms"),
    ]
    for label, _ in SEGMENTS:
        values = [j[label] for j in joins]
        figures.append(Figure(f"  {label} p50", statistics.median(values), "ms"))
        figures.append(Figure(f"  {label} p95", percentile(values, 95), "ms"))
    figures.append(Figure("requests per join (page, scripts, WHEP…)", example["count"], "requests"))
    return figures


async def _measure(url: str, joins: int, home: Path) -> tuple[list[dict], int, dict]:
    measured: list[dict[str, float]] = []
    failures = 0
    example: dict[str, Any] = {"count": 0}
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
            for index in range(joins + 1):  # the first is the warm-up
                try:
                    seen = await _join(browser, url)
                except Exception as exc:  # a join that never shows a picture is a figure too
                    failures += index > 0
                    _progress(f"join {index}: no first frame ({type(exc).__name__}: {exc})")
                    continue
                if outside := [u for u in seen["requests"] if not is_loopback_url(u)]:
                    raise RuntimeError(f"the page requested beyond loopback: {outside}")
                row = _segments(seen)
                _progress(
                    f"join {index}{' (warm-up)' if index == 0 else ''}: "
                    + ", ".join(f"{k} {v:.0f}" for k, v in row.items())
                    + f" ms; marks {seen['marks']}"
                )
                if os.environ.get("KNOTEN_BENCH_JOIN_VERBOSE"):
                    _progress(f"html {seen['html']}; resources {seen['resources']}")
                if index == 0:
                    _progress(f"requests: {[u.split('?')[0] for u in seen['requests']]}")
                    _progress(f"resources (path, start, end ms): {seen['resources']}")
                    continue
                example["count"] = len(seen["requests"])
                measured.append(row)
        finally:
            # Snapshot while the driver is alive: once it exits, Chromium is no longer our child.
            launched = chromium_processes(str(home))
            await asyncio.wait_for(browser.close(), 15)
    finally:
        await asyncio.wait_for(playwright.stop(), 15)
        if leftovers := await wait_until_gone(launched + chromium_processes(str(home))):
            _progress(f"Chromium processes survived close (killed): {leftovers}")
    return measured, failures, example


async def _stop_service(service: ServiceProcess) -> None:
    """SIGINT (the service stops its pipeline and workers), SIGKILL after STOP_TIMEOUT_S."""
    process = service.process
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            await asyncio.to_thread(process.wait, STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            _progress(f"service still running {STOP_TIMEOUT_S:g} s after SIGINT: killed")
            process.kill()
            await asyncio.to_thread(process.wait)


async def run(joins: int | None = None) -> list[Figure]:
    joins = joins or int(os.environ.get("KNOTEN_BENCH_JOINS", JOINS))
    with tempfile.TemporaryDirectory(prefix="knoten-bench-join-") as name:
        tmp = Path(name)
        port = free_tcp_port()
        service = start_service(
            tmp / "data",
            port,
            tmp / "service.log",
            KNOTEN_ADMIN_TOKEN=TOKEN,
            KNOTEN_LOG_LEVEL="INFO",
            KNOTEN_WEBRTC_HOST_ADDRESSES="127.0.0.1",
        )
        try:
            _progress(f"service pid {service.process.pid} on port {port}")
            await wait_healthy(service)
            url, oid = await _book_running_date(service.base_url)
            _progress(f"date {oid} live; {joins} joins after one warm-up")
            load_before = os.getloadavg()[0]
            measured, failures, example = await _measure(url, joins, tmp / "chromium-home")
            load_after = os.getloadavg()[0]
        finally:
            await _stop_service(service)
    if not measured:
        raise RuntimeError("no join showed a first frame")
    return _figures(measured, failures, (load_before, load_after), example)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_join_browser", description=__doc__)
    parser.add_argument("--joins", type=int, default=None, help=f"measured joins ({JOINS})")
    args = parser.parse_args(argv)
    figures = asyncio.run(run(args.joins))
    print_table(f"join_browser: {__doc__.strip().splitlines()[0]}", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
