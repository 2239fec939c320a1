"""The partner HLS as third-party players meet it, on one live session of the real app: every
segment carries ``EXT-X-PROGRAM-DATE-TIME`` (wall clock, consecutive, near now), ``HEAD`` on the
playlist and a segment answers like ``GET`` without a body, segments take byte ranges, and
hls.js from npm plays it in headless Chromium on a page of another origin (a second loopback
port, allowed by ``server.cors_origins``): the picture advances.

Regression: partners' players could not line the stream up with the wall clock (no
PROGRAM-DATE-TIME), and a player on the partner's own web site failed on CORS."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import aiohttp
import pytest

from tests.support.app_fixtures import RunningApp, admin_session, make_config, serve
from tests.support.browser import wait_for_js
from tests.support.js_tools import js_module_file
from tests.support.ports import free_tcp_port
from tests.support.sites import other_origin_site

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.timeout(150),
    pytest.mark.usefixtures("no_orphan_ffmpeg"),
]

PAGE = """<!doctype html><html lang="de"><title>Partner</title>
<video id="v" muted autoplay playsinline width="427" height="240"></video>
<script src="/hls.min.js"></script></html>"""

PLAY = """(url) => {
  const video = document.getElementById('v');
  window.hlsErrors = [];
  const hls = new Hls({lowLatencyMode: false});
  // Non-fatal ones (a small gap skipped at the start) are hls.js recovering by itself.
  hls.on(Hls.Events.ERROR, (_, data) => { if (data.fatal) window.hlsErrors.push(data.details); });
  hls.loadSource(url);
  hls.attachMedia(video);
  hls.on(Hls.Events.MANIFEST_PARSED, () => video.play().catch(() => {}));
  window.hls = hls;
  return Hls.version;
}"""

PROGRESS = """() => {
  const v = document.getElementById('v');
  const q = v.getVideoPlaybackQuality();
  // hls.js maps the playhead to the wall clock through EXT-X-PROGRAM-DATE-TIME.
  const shown = window.hls.playingDate;
  const latency = shown ? (Date.now() - shown.getTime()) / 1000 : null;
  return {time: v.currentTime, frames: q.totalVideoFrames, width: v.videoWidth,
          errors: window.hlsErrors, latency_s: latency};
}"""


@pytest.fixture
async def partner_site() -> AsyncIterator[str]:
    """The partner's web site: a page and hls.js, on its own loopback port."""
    bundle = js_module_file("hls.js/dist/hls.min.js").read_bytes()
    async with other_origin_site({"/": PAGE, "/hls.min.js": bundle}) as origin:
        yield origin


@pytest.fixture
async def cors_app(tmp_path, partner_site) -> AsyncIterator[RunningApp]:
    config = make_config(tmp_path / "data", free_tcp_port(), KNOTEN_CORS_ORIGINS=partner_site)
    async with serve(config) as running:
        yield running


async def _live_playlist(app: RunningApp, http: aiohttp.ClientSession) -> tuple[str, str]:
    """Start a date with one HLS partner; the playlist URL and its first text with segments."""
    async with admin_session(app) as api:
        body = {"name": "Partner-Website", "kind": "hls", "profile": "480p"}
        async with api.post("/api/v1/partners", json=body) as response:
            partner = await response.json()
            assert response.status == 201, partner
        seminar = {"title": "HLS für Partner", "room_id": 1, "start": "2027-06-01T18:00:00",
                   "end": "2027-06-01T19:00:00", "partner_ids": [partner["id"]],
                   "record": False}  # fmt: skip
        async with api.post("/api/v1/seminars", json=seminar) as response:
            occurrence_id = (await response.json())["occurrences"][0]["id"]
        async with api.post(f"/api/v1/occurrences/{occurrence_id}/start") as response:
            assert response.status == 200, await response.text()
    url = app.url(f"/live/{occurrence_id}/{partner['id']}/index.m3u8?token={partner['hls_token']}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        async with http.get(url) as response:
            text = await response.text()
        if response.status == 200 and text.count("#EXTINF") >= 2:
            return url, text
        await asyncio.sleep(0.25)
    raise AssertionError("no playlist with two segments within 30 s")


def _program_date_times(playlist: str) -> list[tuple[datetime, float]]:
    """(PROGRAM-DATE-TIME, EXTINF duration) of each segment; fails if a segment has none."""
    found: list[tuple[datetime, float]] = []
    stamp: datetime | None = None
    duration = 0.0
    for line in playlist.splitlines():
        if line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            stamp = datetime.fromisoformat(line.split(":", 1)[1].replace("Z", "+00:00"))
        elif line.startswith("#EXTINF:"):
            duration = float(line.split(":", 1)[1].rstrip(",").split(",")[0])
        elif line and not line.startswith("#"):
            assert stamp is not None, f"segment {line} without PROGRAM-DATE-TIME:\n{playlist}"
            found.append((stamp, duration))
            stamp = None
    return found


async def test_partner_hls_for_third_party_players(cors_app, http, page, partner_site):
    url, playlist = await _live_playlist(cors_app, http)

    # EXT-X-PROGRAM-DATE-TIME on every segment: aware, consecutive by EXTINF, near now.
    stamps = _program_date_times(playlist)
    assert len(stamps) >= 2
    for (first, length), (second, _) in itertools.pairwise(stamps):
        assert first.tzinfo is not None
        assert abs((second - first).total_seconds() - length) < 0.5, playlist
    assert abs(datetime.now(UTC) - stamps[-1][0]) < timedelta(seconds=30)

    # HEAD like GET without a body, for the playlist and a segment; ranges on segments.
    segment_uri = next(line for line in playlist.splitlines() if line and line[0] != "#")
    segment_url = url.rsplit("/", 1)[0] + "/" + segment_uri
    async with http.head(url) as response:
        assert response.status == 200 and await response.read() == b""
        assert response.headers["Content-Type"].startswith("application/vnd.apple.mpegurl")
        assert int(response.headers["Content-Length"]) > 0
    async with http.get(segment_url) as response:
        segment = await response.read()
    async with http.head(segment_url) as response:
        assert response.status == 200 and await response.read() == b""
        assert response.headers["Content-Length"] == str(len(segment))
        assert response.headers["Content-Type"] == "video/mp2t"
    async with http.get(segment_url, headers={"Range": "bytes=0-187"}) as response:
        assert response.status == 206 and await response.read() == segment[:188]

    # hls.js on the partner's page (another origin) plays it: the picture advances.
    await page.goto(partner_site + "/")
    assert urlsplit(page.url).port != urlsplit(url).port
    version = await page.evaluate(PLAY, url)
    assert version.startswith("1.")
    first = await wait_for_js(page, f"(() => {{ const p = ({PROGRESS})(); "
                              "return p.frames > 0 && p.width > 0 ? p : null; })()",
                              40)  # fmt: skip
    await asyncio.sleep(2)
    later = await page.evaluate(PROGRESS)
    assert later["frames"] > first["frames"] + 20, (first, later)
    assert later["time"] > first["time"] + 1, (first, later)
    assert later["width"] == 854 and not later["errors"], later
    # The player reads the segments' wall clock: encode-to-display latency at the partner.
    assert later["latency_s"] is not None and 0 < later["latency_s"] < 30, later
    print(f"hls.js at the partner, PROGRAM-DATE-TIME to display: {later['latency_s']:.1f} s")
    await page.evaluate("() => window.hls.destroy()")
