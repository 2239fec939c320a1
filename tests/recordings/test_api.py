"""The catalog API on the real app: listing/filters, PATCH/DELETE, media with Range and ETag,
share links, and bad input (404, 409, 416, 422) that changes nothing on disk."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from knoten.keys import ARCHIVE_PATHS, FINALIZER, RECORDINGS
from tests.recordings.fixtures_media import make_recording

pytestmark = pytest.mark.usefixtures("no_orphan_ffmpeg")
FIELDS = {"id", "occurrence_id", "seminar_id", "title", "started_at", "duration_s", "size_bytes",
          "width", "height", "video_codec", "audio_codec", "sha256", "status", "recovered",
          "keep", "poster_url", "media_url", "reason", "timezone"}  # fmt: skip


async def _recording(knoten_app, **kwargs) -> int:
    app = knoten_app.app
    kwargs.setdefault("started_at", datetime(2026, 3, 1, 18, tzinfo=UTC))
    return await make_recording(app[RECORDINGS], app[ARCHIVE_PATHS], app[FINALIZER], **kwargs)


def _tree(root: Path) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(root)), p.stat().st_size) for p in root.rglob("*"))


@pytest.mark.both_databases
async def test_catalog_filters_and_fields(knoten_app, api):
    first = await _recording(knoten_app, title="Stadtgeschichte 100% live", seminar_id=4,
                             occurrence_id=40)  # fmt: skip
    await _recording(knoten_app, title="Lesekreis", seminar_id=5, occurrence_id=50, seconds=2,
                     started_at=datetime(2026, 4, 1, 18, tzinfo=UTC))  # fmt: skip
    async with api.get("/api/v1/recordings") as response:
        rows = await response.json()
    assert [r["id"] for r in rows] == [first, first + 1]
    assert set(rows[0]) == FIELDS
    row = rows[0]
    assert (row["status"], row["recovered"], row["keep"]) == ("available", False, False)
    assert row["media_url"] == f"/api/v1/recordings/{first}/media"
    assert row["poster_url"] == f"/api/v1/recordings/{first}/poster"
    for query, expected in [
        ("seminar_id=5", [first + 1]), ("occurrence_id=40", [first]), ("q=100%25", [first]),
        ("q=lese", [first + 1]), ("from=2026-03-15T00:00:00Z", [first + 1]),
        ("to=2026-03-15T00:00:00Z", [first]), ("q=_", []),
    ]:  # fmt: skip
        async with api.get(f"/api/v1/recordings?{query}") as response:
            assert [r["id"] for r in await response.json()] == expected, query
    async with api.patch(f"/api/v1/recordings/{first}", json={"keep": True, "title": "Neu"}) as r:
        assert r.status == 200
        assert ((await r.json())["keep"], (await r.json())["title"]) == (True, "Neu")


async def test_media_range_etag_and_content_type(knoten_app, api):
    recording_id = await _recording(knoten_app)
    url = f"/api/v1/recordings/{recording_id}/media"
    media = knoten_app.app[ARCHIVE_PATHS].media(recording_id)
    data = media.read_bytes()
    async with api.get(url) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "video/mp4"
        assert response.headers["Accept-Ranges"] == "bytes"
        etag = response.headers["ETag"]
        body = await response.read()
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(data).hexdigest()
    async with api.get(url, headers={"Range": "bytes=0-99"}) as response:
        assert response.status == 206
        assert response.headers["Content-Range"] == f"bytes 0-99/{len(data)}"
        assert await response.read() == data[:100]
    async with api.get(url, headers={"Range": "bytes=-100"}) as response:
        assert response.status == 206
        assert await response.read() == data[-100:]
    async with api.get(url, headers={"Range": f"bytes={len(data) + 10}-"}) as response:
        assert response.status == 416
        assert response.headers["Content-Range"] == f"bytes */{len(data)}"
    for ignored in ("bytes=abc", "bytes=5-1", "items=0-1"):  # RFC 9110 §14.2: not a range
        async with api.get(url, headers={"Range": ignored}) as response:
            assert response.status == 200, ignored
            assert len(await response.read()) == len(data)
    async with api.get(url, headers={"If-None-Match": etag}) as response:
        assert response.status == 304
    for kind in ("poster", "thumbnails"):
        async with api.get(f"/api/v1/recordings/{recording_id}/{kind}") as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "image/jpeg"
            assert (await response.read())[:2] == b"\xff\xd8"
    async with api.get(url, headers={"Authorization": "Bearer wrong-token-xxxxxxxx"}) as r:
        assert r.status == 401


@pytest.mark.both_databases
async def test_bad_input_changes_nothing(knoten_app, api):
    app = knoten_app.app
    recording_id = await _recording(knoten_app)
    writing = await app[RECORDINGS].create(9, 9, "Läuft", datetime.now(UTC))
    root = app[ARCHIVE_PATHS].root
    before = _tree(root)
    cases = [
        ("GET", "/api/v1/recordings/999", None, 404),
        ("GET", "/api/v1/recordings/abc", None, 404),
        ("GET", "/api/v1/recordings/..%2F..%2Fetc%2Fpasswd/media", None, 404),
        ("DELETE", "/api/v1/recordings/999", None, 404),
        ("PATCH", f"/api/v1/recordings/{recording_id}", {"title": "../../etc/passwd"}, 422),
        ("PATCH", f"/api/v1/recordings/{recording_id}", {"title": "/etc/passwd"}, 422),
        ("PATCH", f"/api/v1/recordings/{recording_id}", {"title": "a\x00b"}, 422),
        ("PATCH", f"/api/v1/recordings/{recording_id}", {"path": "x"}, 422),
        ("GET", "/api/v1/recordings?q=../secret", None, 422),
        ("GET", "/api/v1/recordings?seminar_id=0", None, 422),
        ("DELETE", f"/api/v1/recordings/{writing.id}", None, 409),
        ("GET", f"/api/v1/recordings/{writing.id}/media", None, 409),
        ("POST", f"/api/v1/recordings/{writing.id}/share", {}, 409),
    ]
    for method, url, body, status in cases:
        async with api.request(method, url, json=body) as response:
            assert response.status == status, (method, url, await response.text())
            if status != 404 or url.startswith("/api/"):
                assert "error" in await response.json()
    assert _tree(root) == before
    assert (await app[RECORDINGS].get(recording_id)).title == "Lesung"
    async with api.delete(f"/api/v1/recordings/{recording_id}") as response:
        assert response.status == 204
    assert not app[ARCHIVE_PATHS].recording_dir(recording_id).exists()
    async with api.get(f"/api/v1/recordings/{recording_id}") as response:
        assert response.status == 404


async def test_share_link_serves_page_and_media_without_token(knoten_app, api, http):
    recording_id = await _recording(knoten_app)
    async with api.post(f"/api/v1/recordings/{recording_id}/share",
                        json={"expires_in_hours": 2}) as response:  # fmt: skip
        assert response.status == 201
        share = await response.json()
    async with http.get(share["url"]) as response:
        assert response.status == 200
        assert "<video" in await response.text()
        assert response.headers["Referrer-Policy"] == "no-referrer"
    async with http.get(share["media_url"], headers={"Range": "bytes=0-99"}) as response:
        assert response.status == 206
        assert len(await response.read()) == 100
    token = share["url"].rsplit("/", 1)[1]
    rid, expires, mac = token.split(".")
    forged = [f"{int(rid) + 1}.{expires}.{mac}", f"{rid}.{int(expires) + 3600}.{mac}",
              f"{rid}.{expires}.{mac[:-2]}AA", "../../etc/passwd", "x" * 300]  # fmt: skip
    for bad in forged:
        async with http.get(f"{knoten_app.base_url}/share/recordings/{bad}") as response:
            assert response.status == 404, bad
        async with http.get(f"{knoten_app.base_url}/share/recordings/{bad}/media") as response:
            assert response.status == 404, bad
