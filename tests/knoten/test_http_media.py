"""HTTP media semantics on real files through the real app (RFC 9110): HEAD answers like GET
without a body, ``bytes=-0`` is 416, several ranges get 200 and the whole file, and ``If-Range``
with a stale or weak validator gets 200 and the whole file; for the recording download and the
share media. The range decisions themselves are table-tested without a server.

Regression: aiohttp's FileResponse answered ``bytes=-0`` with 206 and the whole file, several
ranges with 416, ignored an entity tag in ``If-Range`` (sending a stale range), and the API's
media route had no HEAD (405)."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import Path

import pytest

from knoten.http.ranges import effective_range, file_etag
from knoten.keys import ARCHIVE_PATHS, FINALIZER, RECORDINGS
from tests.recordings.fixtures_media import make_recording

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("no_orphan_ffmpeg")]


def _stat(tmp_path: Path) -> os.stat_result:
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 1000)
    os.utime(path, (1_700_000_000.25, 1_700_000_000.25))
    return path.stat()


@pytest.mark.parametrize(
    ("range_header", "if_range", "expected"),
    [
        (None, None, None),
        ("bytes=0-99", None, "bytes=0-99"),
        ("bytes=10-", None, "bytes=10-"),
        ("bytes=-100", None, "bytes=-100"),
        ("BYTES = 0-9", None, "bytes=0-9"),
        ("bytes=-0", None, f"bytes={2**62}-"),  # unsatisfiable: FileResponse says 416
        ("bytes=0-9,20-29", None, None),
        ("bytes=0-0, -1", None, None),
        ("bytes=9-2", None, None),
        ("bytes=abc", None, None),
        ("items=0-5", None, None),
        ("bytes=0-9", "ETAG", "bytes=0-9"),
        ("bytes=0-9", '"stale"', None),
        ("bytes=0-9", "W/ETAG", None),
        ("bytes=0-9", "LASTMOD", "bytes=0-9"),
        ("bytes=0-9", "Mon, 01 Jan 2001 00:00:00 GMT", None),
        ("bytes=0-9", "not a date", None),
        ("bytes=-0", '"stale"', None),  # If-Range first: a stale validator means the whole file
    ],
)
def test_effective_range(tmp_path, range_header, if_range, expected):
    stat = _stat(tmp_path)
    validators = {"ETAG": f'"{file_etag(stat)}"', "W/ETAG": f'W/"{file_etag(stat)}"',
                  "LASTMOD": formatdate(1_700_000_001, usegmt=True)}  # fmt: skip
    if_range = validators.get(if_range, if_range)  # type: ignore[arg-type]
    assert effective_range(range_header, if_range, stat) == expected


async def _media_urls(knoten_app, api) -> tuple[bytes, list[str]]:
    app = knoten_app.app
    recording_id = await make_recording(app[RECORDINGS], app[ARCHIVE_PATHS], app[FINALIZER],
                                        seconds=1.0, started_at=datetime(2026, 3, 1, 18,
                                                                         tzinfo=UTC))  # fmt: skip
    async with api.post(f"/api/v1/recordings/{recording_id}/share", json={}) as response:
        share = await response.json()
    data = app[ARCHIVE_PATHS].media(recording_id).read_bytes()
    return data, [knoten_app.url(f"/api/v1/recordings/{recording_id}/media"), share["media_url"]]


async def test_head_ranges_and_if_range_on_recording_media(knoten_app, api):
    data, urls = await _media_urls(knoten_app, api)
    size = len(data)
    for url in urls:
        async with api.get(url) as response:
            assert response.status == 200
            get_headers = response.headers
            assert hashlib.sha256(await response.read()).digest() == hashlib.sha256(data).digest()
        async with api.head(url) as response:
            assert response.status == 200, url
            assert await response.read() == b""
            for name in ("Content-Type", "Content-Length", "ETag", "Last-Modified",
                         "Accept-Ranges", "Cache-Control"):  # fmt: skip
                assert response.headers[name] == get_headers[name], (url, name)
        async with api.head(url, headers={"Range": "bytes=0-9"}) as response:
            assert (response.status, response.headers["Content-Length"]) == (206, "10")
            assert response.headers["Content-Range"] == f"bytes 0-9/{size}"
        async with api.get(url, headers={"Range": "bytes=-0"}) as response:
            assert response.status == 416
            assert response.headers["Content-Range"] == f"bytes */{size}"
        for several in ("bytes=0-9,20-29", "bytes=0-0, -1"):
            async with api.get(url, headers={"Range": several}) as response:
                assert response.status == 200
                assert await response.read() == data
        etag = get_headers["ETag"]
        for validator, status in [(etag, 206), ('"0-0"', 200), (f"W/{etag}", 200),
                                  (get_headers["Last-Modified"], 206),
                                  ("Mon, 01 Jan 2001 00:00:00 GMT", 200)]:  # fmt: skip
            headers = {"Range": "bytes=10-19", "If-Range": validator}
            async with api.get(url, headers=headers) as response:
                body = await response.read()
                assert response.status == status, (url, validator)
                assert body == (data[10:20] if status == 206 else data)
