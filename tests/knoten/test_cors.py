"""CORS for the public media doors on the real app: preflights answered with Allow, Accept-Post
and the grant for configured origins only, the grant on real answers (refusals included) and
nothing for the API; headless Chromium on another origin reads WHEP and share-media answers.

Regression: a player embedded on a partner's page failed on the preflight (405, no grant)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from knoten.config import ConfigError
from knoten.keys import ARCHIVE_PATHS, FINALIZER, RECORDINGS
from tests.recordings.fixtures_media import make_recording
from tests.support.app_fixtures import RunningApp, admin_session, make_config, serve
from tests.support.browser import eval_with_timeout
from tests.support.ports import free_tcp_port
from tests.support.sites import other_origin_site

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("no_orphan_ffmpeg")]

PARTNER = "http://partner.example:8443"
PREFLIGHT = {"Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization, content-type"}  # fmt: skip


@pytest.fixture
async def cors_app(tmp_path, request) -> AsyncIterator[RunningApp]:
    origins = getattr(request, "param", PARTNER)
    config = make_config(tmp_path / "data", free_tcp_port(), KNOTEN_CORS_ORIGINS=origins)
    async with serve(config) as running:
        yield running


async def _share(app: RunningApp) -> dict:
    recording_id = await make_recording(
        app.app[RECORDINGS], app.app[ARCHIVE_PATHS], app.app[FINALIZER], seconds=1.0,
        occurrence_id=1, seminar_id=1, started_at=datetime(2026, 3, 1, 18, tzinfo=UTC),
    )  # fmt: skip
    share_url = f"/api/v1/recordings/{recording_id}/share"
    async with admin_session(app) as api, api.post(share_url, json={}) as response:
        assert response.status == 201
        return await response.json()


async def test_whep_preflight_grants_configured_origin_only(cors_app, http):
    url = cors_app.url("/whep/1")
    async with http.options(url, headers={"Origin": PARTNER, **PREFLIGHT}) as response:
        assert response.status == 204
        headers = response.headers
    assert headers["Access-Control-Allow-Origin"] == PARTNER
    assert "POST" in headers["Access-Control-Allow-Methods"].split(", ")
    allowed = {h.strip().lower() for h in headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "if-match"} <= allowed
    assert headers["Accept-Post"] == "application/sdp"
    assert "Origin" in headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in headers

    async with http.options(url, headers={"Origin": "http://evil.example", **PREFLIGHT}) as r:
        # Answered (plain OPTIONS clients learn Allow), but without a grant: the browser refuses.
        assert r.status == 204 and r.headers["Accept-Post"] == "application/sdp"
        assert "Access-Control-Allow-Origin" not in r.headers
    session = cors_app.url("/whep/1/abc")
    async with http.options(session, headers={"Origin": PARTNER, **PREFLIGHT}) as response:
        methods = set(response.headers["Allow"].split(", "))
        assert {"DELETE", "PATCH", "OPTIONS"} <= methods and "POST" not in methods
        assert "Accept-Post" not in response.headers
    # The real request's refusal carries the grant, so the player's script can read its JSON.
    headers = {"Origin": PARTNER, "Content-Type": "application/sdp"}
    async with http.post(url, data=b"v=0\r\n", headers=headers) as response:
        assert response.status == 401
        assert response.headers["Access-Control-Allow-Origin"] == PARTNER
        assert "Location" in response.headers["Access-Control-Expose-Headers"]
        assert (await response.json())["error"]["code"]


async def test_api_and_pages_stay_same_origin(cors_app, http):
    for path in ("/api/v1/rooms", "/healthz", "/"):
        async with http.options(cors_app.url(path), headers={"Origin": PARTNER, **PREFLIGHT}) as r:
            assert "Access-Control-Allow-Origin" not in r.headers, path
        async with http.get(cors_app.url(path), headers={"Origin": PARTNER}) as r:
            assert "Access-Control-Allow-Origin" not in r.headers, path


@pytest.mark.parametrize("cors_app", ["*"], indirect=True)
async def test_star_for_hls_whip_and_share_media(cors_app, http):
    share = await _share(cors_app)
    hls = cors_app.url("/live/1/1/index.m3u8")
    async with http.options(hls, headers={"Origin": PARTNER, **PREFLIGHT}) as response:
        assert response.status == 204
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "GET" in response.headers["Access-Control-Allow-Methods"]
    async with http.get(hls + "?token=wrong", headers={"Origin": PARTNER}) as response:
        assert response.status == 401
        assert response.headers["Access-Control-Allow-Origin"] == "*"
    headers = {"Origin": "http://anyone.example", "Range": "bytes=0-9"}
    async with http.get(share["media_url"], headers=headers) as response:
        assert response.status == 206
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        exposed = response.headers["Access-Control-Expose-Headers"]
        assert "Content-Range" in exposed and "ETag" in exposed
    async with http.options(share["media_url"], headers={"Origin": PARTNER, **PREFLIGHT}) as r:
        assert r.headers["Access-Control-Allow-Origin"] == "*"
    # The share page itself is a page: same origin only.
    async with http.get(share["url"], headers={"Origin": PARTNER}) as response:
        assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize("cors_app", [""], indirect=True)
async def test_default_grants_no_other_origin(cors_app, http):
    url = cors_app.url("/whep/1")
    async with http.options(url, headers={"Origin": PARTNER, **PREFLIGHT}) as response:
        assert response.status == 204
        assert response.headers["Accept-Post"] == "application/sdp"
        assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize("bad", ["partner.example", "https://a.example/path", "ftp://a.example",
                                 "https://user@a.example"])  # fmt: skip
def test_bad_origins_stop_start_up(tmp_path, bad):
    with pytest.raises(ConfigError) as error:
        make_config(tmp_path, free_tcp_port(), KNOTEN_CORS_ORIGINS=bad)
    assert "cors_origins" in error.value.key and "KNOTEN_CORS_ORIGINS" in error.value.key


@pytest.mark.browser
async def test_chromium_on_another_origin(tmp_path, page):
    """Chromium's own CORS check: a preflighted WHEP POST and a ranged share-media GET from a
    page on another port; a page on an origin that is not configured gets no answer at all."""
    page_html = "<!doctype html><title>Partner</title>"
    async with other_origin_site({"/": page_html}) as origin:
        config = make_config(tmp_path / "cors-data", free_tcp_port(), KNOTEN_CORS_ORIGINS=origin)
        async with serve(config) as app:
            share = await _share(app)
            await page.goto(origin + "/")
            result = await eval_with_timeout(page, _FETCHES, 15, [app.url("/whep/1"),
                                                                  share["media_url"]])  # fmt: skip
            assert result["whep"] == {"status": 401, "code": "invalid_token"}, result
            assert result["media"]["status"] == 206, result
            assert result["media"]["range"].startswith("bytes 0-9/"), result
        other = make_config(tmp_path / "other-data", free_tcp_port(), KNOTEN_CORS_ORIGINS=PARTNER)
        async with serve(other) as app:
            result = await eval_with_timeout(page, _FETCHES, 15, [app.url("/whep/1"),
                                                                  app.url("/whep/1")])  # fmt: skip
            assert result["whep"] == {"error": "TypeError"}, result


_FETCHES = """async ([whep, media]) => {
  const out = {};
  try {
    const r = await fetch(whep, {method: 'POST', body: 'v=0\\r\\n',
      headers: {'Content-Type': 'application/sdp', 'Authorization': 'Bearer nope'}});
    out.whep = {status: r.status, code: (await r.json()).error.code};
  } catch (e) { out.whep = {error: e.name}; }
  try {
    const r = await fetch(media, {headers: {'Range': 'bytes=0-9'}});
    out.media = {status: r.status, range: r.headers.get('Content-Range') || ''};
  } catch (e) { out.media = {error: e.name}; }
  return out;
}"""
