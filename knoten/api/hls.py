"""HLS pull for ``hls`` partners: the playlist and segments FFmpeg writes for a live occurrence.

    GET /live/{occurrence_id}/{partner_id}/index.m3u8?token=…
    GET /live/{occurrence_id}/{partner_id}/{segment}.ts?token=…

HEAD answers like GET without a body; segments take byte ranges (:mod:`knoten.http.ranges`).

The token is the partner's HLS pull token (checked in constant time by the partner repository)
or a per-date token of that partner (:mod:`knoten.partner_access`: valid only around its date);
a missing or wrong one is a 401, checked before anything about the occurrence is revealed. A
404 means the path names nothing that is on air: unknown or not running occurrence, a partner
not on its session, a segment name that is not one FFmpeg writes, or a file that is gone.
Errors are JSON whatever the app's JSON prefixes say.

The files, their names and the playlist rewriting (every relative URI carries ``?token=``) are
the media plane's (:mod:`streaming.live.hls`); the seminar controller says which directory, if
any, is on air for an occurrence and partner. Nothing here logs the token.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from aiohttp import web

from knoten.http.errors import ApiError
from knoten.http.ranges import MediaFileResponse
from knoten.keys import PARTNER_ACCESS, PARTNERS, SCHEDULE, SEMINAR_CONTROLLER
from knoten.partner_access import is_date_token
from schedules.errors import OccurrenceNotFound
from streaming.live.hls import (
    PLAYLIST,
    PLAYLIST_TYPE,
    SEGMENT_NAME,
    SEGMENT_TYPE,
    file_inside,
    rewrite_playlist,
)

#: Tokens are ``secrets.token_urlsafe(24)`` (32 characters); anything far longer is not one.
MAX_TOKEN_LENGTH = 256
#: Segments do not change once written; the window is 6 × 2 s, so a short lifetime is enough
#: and a segment rewritten after an output restart is not served stale for long.
SEGMENT_CACHE = "private, max-age=30"
_ID = re.compile(r"[1-9][0-9]{0,10}")
# Errors must never be cached: a 404 while FFmpeg starts up turns into a 200 seconds later.
_NO_STORE = {"Cache-Control": "no-store"}


def _not_found() -> ApiError:
    return ApiError(404, "not_found", "no live HLS stream at this address", headers=_NO_STORE)


def _id(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    if _ID.fullmatch(raw) is None:
        raise _not_found()
    return int(raw)


async def _check_token(request: web.Request, partner_id: int, occurrence_id: int) -> str:
    token = request.query.get("token", "")
    if not token:
        raise ApiError(401, "unauthorized", "missing token", field="token", headers=_NO_STORE)
    if len(token) <= MAX_TOKEN_LENGTH and is_date_token(token):
        await _check_date_token(request, token, partner_id, occurrence_id)
        return token
    if len(token) > MAX_TOKEN_LENGTH or not await request.app[PARTNERS].check_hls_token(
        partner_id, token
    ):
        raise ApiError(401, "unauthorized", "invalid token", field="token", headers=_NO_STORE)
    return token


async def _check_date_token(
    request: web.Request, token: str, partner_id: int, occurrence_id: int
) -> None:
    """A per-date pull token (:mod:`knoten.partner_access`): this partner, this date, and only
    within the date's window; the signature is checked before anything about the date."""
    access = request.app[PARTNER_ACCESS]
    if not access.signed_for(token, partner_id, occurrence_id):
        raise ApiError(401, "unauthorized", "invalid token", field="token", headers=_NO_STORE)
    try:
        row = await request.app[SCHEDULE].occurrence(occurrence_id)
    except OccurrenceNotFound:
        raise _not_found() from None
    if not access.admits(partner_id, row):
        raise ApiError(401, "outside_window", "this address is valid only around its date",
                       field="token", headers=_NO_STORE)  # fmt: skip


async def _on_air_file(request: web.Request, name: str) -> tuple[Path, str]:
    """The file ``name`` of the partner's HLS on a running session, and the (valid) token."""
    occurrence_id = _id(request, "occurrence_id")
    partner_id = _id(request, "partner_id")
    token = await _check_token(request, partner_id, occurrence_id)
    directory = request.app[SEMINAR_CONTROLLER].hls_directory(occurrence_id, partner_id)
    path = None if directory is None else file_inside(directory, name)
    if path is None:
        raise _not_found()
    return path, token


async def get_playlist(request: web.Request) -> web.Response:
    path, token = await _on_air_file(request, PLAYLIST)
    try:
        # FFmpeg replaces the playlist by renaming a temporary file: this reads a whole one.
        text = await asyncio.to_thread(path.read_text, encoding="utf-8", errors="replace")
    except OSError:
        raise _not_found() from None
    if not text.startswith("#EXTM3U"):
        raise _not_found()
    return web.Response(
        text=rewrite_playlist(text, token),
        content_type=PLAYLIST_TYPE,
        headers={"Cache-Control": "no-cache"},
    )


async def get_segment(request: web.Request) -> web.FileResponse:
    name = request.match_info["segment"]
    if SEGMENT_NAME.fullmatch(name) is None:
        raise _not_found()
    path, _token = await _on_air_file(request, name)
    return MediaFileResponse(
        path, headers={"Content-Type": SEGMENT_TYPE, "Cache-Control": SEGMENT_CACHE}
    )


async def not_found(request: web.Request) -> web.Response:
    """Anything else under /live/: a JSON 404, like the handlers' own refusals."""
    raise _not_found()


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(f"/live/{{occurrence_id}}/{{partner_id}}/{PLAYLIST}", get_playlist)
    router.add_get("/live/{occurrence_id}/{partner_id}/{segment}", get_segment)
    router.add_get("/live/{tail:.*}", not_found)
