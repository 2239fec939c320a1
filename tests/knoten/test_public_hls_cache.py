"""The public HLS rendition behind a real HTTP cache: 500 viewers cost Knoten one request per
segment and about one per playlist update, and see the room about 2 s late.

A live date of the real app (test pattern camera, ``media.public_hls`` on) is served through
Debian's nginx with ``proxy_cache`` (:mod:`tests.support.nginx_cache`, the settings docs/live.md
recommends) to 500 simulated players in two processes (:mod:`tests.support.hls_clients`) for
20 s. Knoten's own access log counts what reached it. Also: the address's cache headers,
validators and refusals (401 forged, 404 not on air, 410 expired) straight from Knoten.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest

from foundation.signed_tokens import SignedTokens
from knoten.config import Config
from knoten.join import load_or_create_join_secret
from knoten.keys import SEMINAR_CONTROLLER
from knoten.public_hls import PURPOSE
from tests.support.app_fixtures import RunningApp, make_config
from tests.support.bookings import book_date
from tests.support.database_fixtures import database_env
from tests.support.hls_clients import parse_playlist
from tests.support.nginx_cache import NginxCache
from tests.support.ports import free_tcp_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

CLIENTS = 500
PROCESSES = 2
SECONDS = 20.0
ROOT = Path(__file__).resolve().parents[2]
_REQUEST = re.compile(r'"(?:GET|HEAD) (/hls/\S+) HTTP/[0-9.]+" ([0-9]{3})')


@pytest.fixture
def app_config(tmp_path: Path, database_backend: str, database_url: str) -> Config:
    env = database_env(database_backend, database_url)
    return make_config(tmp_path / "data", free_tcp_port(), KNOTEN_PUBLIC_HLS="true", **env)


class AccessLog(logging.Handler):
    """What reached Knoten under /hls/: aiohttp's access log of the in-process app."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.requests: list[tuple[float, str, int]] = []

    def emit(self, record: logging.LogRecord) -> None:
        match = _REQUEST.search(record.getMessage())
        if match:
            self.requests.append((time.time(), match[1], int(match[2])))


def _sequence(text: str) -> int:
    match = re.search(r"#EXT-X-MEDIA-SEQUENCE:([0-9]+)", text)
    assert match, text
    return int(match[1])


async def _public_url(api: aiohttp.ClientSession, occurrence_id: int) -> str:
    async with api.get(f"/api/v1/occurrences/{occurrence_id}") as response:
        body = await response.json()
    assert response.status == 200, body
    url: str = body["public_hls_url"]
    assert re.fullmatch(r"http://[^/]+/hls/[0-9]+\.[0-9]+\.[A-Za-z0-9_-]{22}/index\.m3u8", url)
    return url


async def _playlist(http: aiohttp.ClientSession, url: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        async with http.get(url) as response:
            text = await response.text()
            assert response.status in (200, 404), text
            if response.status == 200 and len(parse_playlist(text)[1]) >= 3:
                return text
        assert time.monotonic() < deadline, f"no public playlist within {timeout} s"
        await asyncio.sleep(0.25)


async def _check_headers(http: aiohttp.ClientSession, url: str, knoten_app: RunningApp) -> None:
    """Straight from Knoten: what a cache reads to decide how long to keep an answer."""
    text = await _playlist(http, url, 30)
    async with http.get(url) as response:
        assert response.headers["Cache-Control"] == "public, max-age=1"
        assert response.content_type == "application/vnd.apple.mpegurl"
        etag = response.headers["ETag"]
        assert response.headers["Last-Modified"].endswith(" GMT")
        text = await response.text()
    async with http.get(url, headers={"If-None-Match": etag}) as response:
        # The playlist changes once a second: either unchanged (304) or a new version.
        assert response.status in (200, 304)
        assert response.status == 200 or response.headers["ETag"] == etag
    target, segments = parse_playlist(text)
    assert target == 1 and 3 <= len(segments) <= 5, text
    assert all(re.fullmatch(r"index[0-9]{16,}\.ts", s.uri) for s in segments), text
    segment_url = url.rsplit("/", 1)[0] + "/" + segments[-1].uri
    async with http.get(segment_url) as response:
        assert response.status == 200 and response.content_type == "video/mp2t"
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert response.headers["ETag"] and response.headers["Last-Modified"]
        assert len(await response.read()) > 1000

    # Refusals: forged (401, never stored), another use's token, expired (410, kept briefly).
    base = knoten_app.url("/hls")
    token = url.split("/")[-2]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    async with http.get(f"{base}/{forged}/index.m3u8") as response:
        body = await response.json()
        assert response.status == 401 and body["error"]["field"] == "token"
        assert response.headers["Cache-Control"] == "no-store"
    secret = load_or_create_join_secret(knoten_app.config.data_dir)
    occurrence_id = int(token.split(".")[0])
    for purpose, status in (("knoten-join:v1", 401), (PURPOSE, 410)):
        signed = SignedTokens(secret, purpose, signature_bytes=16, min_secret_bytes=16)
        old = signed.issue(occurrence_id, int(time.time()) - 5)
        async with http.get(f"{base}/{old}/index.m3u8") as response:
            assert response.status == status, await response.text()
            assert (await response.json())["error"]["field"] == "token"
    async with http.get(f"{base}/{token}/..%2Fknoten.db") as response:
        assert response.status == 404
        assert response.headers["Cache-Control"] == "public, max-age=1"


async def _clients(url: str) -> list[dict]:
    argv = [sys.executable, "-m", "tests.support.hls_clients", url,
            "--clients", str(CLIENTS // PROCESSES), "--seconds", str(SECONDS)]  # fmt: skip
    procs = [
        await asyncio.create_subprocess_exec(
            *argv, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        for _ in range(PROCESSES)
    ]
    try:
        outputs = await asyncio.wait_for(
            asyncio.gather(*(p.communicate() for p in procs)), SECONDS + 25
        )
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    results = []
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
        results.append(json.loads(out))
    return results


def _own_cpu() -> float:
    """CPU seconds of this process: Knoten's HTTP handlers (the app runs in it) and the test."""
    times = os.times()
    return times.user + times.system


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def test_500_viewers_through_a_cache_cost_knoten_one_request_per_update(
    knoten_app: RunningApp, api: aiohttp.ClientSession, http: aiohttp.ClientSession,
    tmp_path: Path,
) -> None:  # fmt: skip
    date = await book_date(api, datetime.now() + timedelta(days=1), title="Lesung", start=True)
    url = await _public_url(api, date["id"])
    other = await book_date(api, datetime.now() + timedelta(days=2), title="Später")
    async with http.get(await _public_url(api, other["id"])) as response:
        assert response.status == 404  # not on air: briefly cacheable, so a waiting crowd
        assert response.headers["Cache-Control"] == "public, max-age=1"  # costs 1 req/s
    await _check_headers(http, url, knoten_app)

    playlist_file = knoten_app.app[SEMINAR_CONTROLLER].public_hls_directory(date["id"])
    assert playlist_file is not None
    access = AccessLog()
    logger = logging.getLogger("aiohttp.access")
    logger.addHandler(access)
    previous_level = logger.level
    logger.setLevel(logging.INFO)
    upstream = urlsplit(knoten_app.base_url).netloc
    try:
        async with NginxCache(tmp_path / "cache", upstream) as cache:
            cached_url = cache.url(urlsplit(url).path)
            first = _sequence((playlist_file / "index.m3u8").read_text())
            load_before = os.getloadavg()[0]
            cpu_before = _own_cpu()
            started = time.time()
            results = await _clients(cached_url)
            ended = time.time()
            knoten_cpu = _own_cpu() - cpu_before
            last = _sequence((playlist_file / "index.m3u8").read_text())
            load_after = os.getloadavg()[0]
            errors_in_log = [line for line in cache.error_log().splitlines() if "[error]" in line]
    finally:
        logger.removeHandler(access)
        logger.setLevel(previous_level)

    reached = [(path, status) for when, path, status in access.requests if started <= when]
    playlists = [p for p, _ in reached if p.endswith("/index.m3u8")]
    segments = Counter(p for p, _ in reached if p.endswith(".ts"))
    updates = last - first  # new segments, each one playlist update
    latencies = [v for r in results for v in r["latencies"]]
    fetched = sum(r["segments"] for r in results)
    names = {n for r in results for n in r["names"]}
    errors = Counter()
    for r in results:
        errors.update(r["errors"])
    p50, p95 = _p(latencies, 0.5), _p(latencies, 0.95)
    print(
        f"\npublic HLS via nginx proxy_cache: {CLIENTS} clients × {SECONDS:.0f} s, "
        f"{len(playlists)} playlist and {sum(segments.values())} segment requests reached "
        f"Knoten for {updates} playlist updates and {len(names)} segments; clients fetched "
        f"{sum(r['playlists'] for r in results)} playlists, {fetched} segments "
        f"({sum(r['bytes'] for r in results) / 1e6:.0f} MB) in {ended - started:.1f} s; "
        f"latency at the client p50 {p50:.2f} s, p95 {p95:.2f} s, max {max(latencies):.2f} s; "
        f"client CPU {sum(r['cpu_s'] for r in results):.1f} s; Knoten process CPU "
        f"{knoten_cpu:.2f} s; errors {dict(errors)}; "
        f"load average {load_before:.2f} → {load_after:.2f}"
    )
    assert not errors_in_log, errors_in_log[:5]
    assert sum(errors.values()) <= CLIENTS * 0.01, errors
    # Every viewer kept up: about one segment per second each.
    assert fetched >= CLIENTS * (SECONDS - 4), fetched
    # One request per segment per cache, whatever the audience…
    assert segments and max(segments.values()) == 1, segments.most_common(3)
    assert set(segments) <= {urlsplit(url).path.rsplit("/", 1)[0] + "/" + n for n in names}
    # …and at most one per playlist update (plus the one that was due when the run began).
    assert updates >= SECONDS - 3, (first, last)
    assert len(playlists) <= updates + 1, (len(playlists), updates)
    assert all(status in (200, 304) for _, status in reached), Counter(reached)
    assert p95 <= 4.0, (p50, p95)

    # Off air: the address answers 404 at once and the rendition's files are gone.
    async with api.post(f"/api/v1/occurrences/{date['id']}/stop") as response:
        assert response.status == 200, await response.text()
    async with http.get(url) as response:
        assert response.status == 404
    assert not playlist_file.exists()
