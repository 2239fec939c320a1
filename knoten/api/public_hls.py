"""The public HLS rendition of a live date, made to be served through an HTTP cache or CDN.

    GET /hls/{token}/index.m3u8       the live playlist (1 s segments, a window of 4)
    GET /hls/{token}/{segment}.ts     an MPEG-TS segment

``{token}`` is the date's signed public address (:mod:`knoten.public_hls`): the same for every
viewer, so a cache keys on the path and asks Knoten once per playlist update and once per
segment, however many viewers it serves. The cache headers say how:

- playlist: ``public, max-age=1`` (one segment; the playlist changes once a second) with an
  ``ETag`` and ``Last-Modified``; a conditional request that matches gets a 304;
- segment: ``public, max-age=31536000, immutable`` (a name is never reused, see
  :func:`streaming.live.hls.public_hls_output`), with aiohttp's ``ETag``/``Last-Modified``;
- 404 (not on air yet, segment gone): ``public, max-age=1``, so an audience waiting for the
  start costs one request per second per cache, and the stream is seen within a second of it;
- 410 (the address has expired, the date is over): ``public, max-age=60``;
- 401 (not an address Knoten signed): ``no-store``.

Errors are JSON. Nothing here logs the token. The files and their names are the media plane's
(:mod:`streaming.live.hls`); the seminar controller says whether and where the date writes it.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import Path

from aiohttp import web

from knoten.http.errors import ApiError
from knoten.http.ranges import MediaFileResponse
from knoten.keys import PUBLIC_HLS, SEMINAR_CONTROLLER
from knoten.public_hls import PublicHlsExpired
from streaming.live.hls import PLAYLIST, PLAYLIST_TYPE, SEGMENT_NAME, SEGMENT_TYPE, file_inside

PLAYLIST_CACHE = "public, max-age=1"
SEGMENT_CACHE = "public, max-age=31536000, immutable"
#: Short: a date that starts in a moment must not be hidden behind a cached 404 for long.
NOT_FOUND_CACHE = "public, max-age=1"
GONE_CACHE = "public, max-age=60"


def _not_found() -> ApiError:
    return ApiError(
        404,
        "not_found",
        "no live HLS stream at this address",
        headers={"Cache-Control": NOT_FOUND_CACHE},
    )


def _directory(request: web.Request) -> Path:
    """The public rendition's directory of the date the path's token names, if it is on air."""
    token = request.match_info["token"]
    try:
        occurrence_id = request.app[PUBLIC_HLS].occurrence(token, datetime.now(UTC))
    except PublicHlsExpired:
        raise ApiError(410, "expired", "this address has expired: the date is over",
                       field="token", headers={"Cache-Control": GONE_CACHE}) from None  # fmt: skip
    if occurrence_id is None:
        raise ApiError(401, "invalid_token", "not a public HLS address of this service",
                       field="token", headers={"Cache-Control": "no-store"})  # fmt: skip
    directory = request.app[SEMINAR_CONTROLLER].public_hls_directory(occurrence_id)
    if directory is None:
        raise _not_found()
    return directory


def _read(path: Path) -> tuple[bytes, float]:
    with path.open("rb") as file:
        # The open file's own time: the path may already name the next playlist.
        return file.read(), os.fstat(file.fileno()).st_mtime


async def get_playlist(request: web.Request) -> web.Response:
    path = file_inside(_directory(request), PLAYLIST)
    if path is None:
        raise _not_found()
    try:
        # FFmpeg replaces the playlist by renaming a temporary file: this reads a whole one.
        body, mtime = await asyncio.to_thread(_read, path)
    except OSError:
        raise _not_found() from None
    if not body.startswith(b"#EXTM3U"):
        raise _not_found()
    etag = f'"{hashlib.sha256(body).hexdigest()[:20]}"'
    headers = {
        "Cache-Control": PLAYLIST_CACHE,
        "ETag": etag,
        "Last-Modified": formatdate(mtime, usegmt=True),
    }
    if etag in {t.strip() for t in request.headers.get("If-None-Match", "").split(",")}:
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, content_type=PLAYLIST_TYPE, headers=headers)


async def get_segment(request: web.Request) -> web.FileResponse:
    name = request.match_info["segment"]
    if SEGMENT_NAME.fullmatch(name) is None:
        raise _not_found()
    path = file_inside(_directory(request), name)
    if path is None:
        raise _not_found()
    return MediaFileResponse(
        path, headers={"Content-Type": SEGMENT_TYPE, "Cache-Control": SEGMENT_CACHE}
    )


async def not_found(request: web.Request) -> web.Response:
    """Anything else under /hls/: a JSON 404, like the handlers' own refusals."""
    raise _not_found()


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(f"/hls/{{token}}/{PLAYLIST}", get_playlist)
    router.add_get("/hls/{token}/{segment}", get_segment)
    router.add_get("/hls/{tail:.*}", not_found)
