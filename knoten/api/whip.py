"""WHIP (RFC 9725) for the room camera: ``POST /whip/rooms/{room_id}`` → 201 + answer.

OBS (≥ 30) or a browser publishes a room whose source is ``whip``; the bearer token is the
room's stream key (``GET /api/v1/rooms/{id}/ingest``). ``DELETE`` on the returned ``Location``
ends the publishing (200; 204 when it had already ended), ``PATCH`` (trickle ICE, ICE restart)
is 405 with ``Allow``. Errors are JSON: 400 bad offer, 401 key, 404 room, 409 not a WHIP room or
a publisher already there, 413, 415. The handlers only check and translate; the publishers
belong to :class:`~streaming.webrtc.whip.WhipIngest`.
"""

from __future__ import annotations

import re
import secrets

from aiohttp import web

from knoten.api.whep import SESSION_METHODS, ice_links
from knoten.http.errors import ApiError
from knoten.http.requests import SDP, bearer, path_int, read_sdp
from knoten.keys import ROOMS, WHIP_INGEST
from schedules.rooms import Room
from streaming.sources import WHIP

#: Publisher ids are ``secrets.token_urlsafe(12)``: 16 URL-safe characters.
_PUBLISHER_ID = re.compile(r"[A-Za-z0-9_-]{16}")


async def _room_with_key(request: web.Request) -> Room:
    """The room of the path (404) if the bearer token is its stream key (401)."""
    room = await request.app[ROOMS].get(path_int(request, "room_id"))
    token = bearer(request) or ""
    key = await request.app[ROOMS].stream_key(room.id)
    if not secrets.compare_digest(token.encode(), key.encode()):
        raise ApiError(
            401,
            "unauthorized",
            "the bearer token must be the room's stream key",
            headers={"WWW-Authenticate": 'Bearer realm="knoten-whip"'},
        )
    return room


async def post_offer(request: web.Request) -> web.Response:
    room = await _room_with_key(request)
    if room.source != WHIP:
        raise ApiError(409, "not_a_whip_room", "the room's camera source is not 'whip'", "source")
    offer = await read_sdp(request)
    publisher_id, answer = await request.app[WHIP_INGEST].publish(room.id, offer)
    response = web.Response(status=201, body=answer.encode(), content_type=SDP)
    response.headers["Location"] = f"/whip/rooms/{room.id}/{publisher_id}"
    # RFC 9725 §4.3.1: the ETag names this ICE session (an ICE restart would change it).
    response.headers["ETag"] = f'"{publisher_id}"'
    for link in ice_links(request):
        response.headers.add("Link", link)
    return response


async def delete_publisher(request: web.Request) -> web.Response:
    room = await _room_with_key(request)
    publisher_id = request.match_info["publisher_id"]
    if _PUBLISHER_ID.fullmatch(publisher_id) is None:
        raise ApiError(404, "not_found", "no such publisher")
    ended = await request.app[WHIP_INGEST].unpublish(room.id, publisher_id)
    return web.Response(status=200 if ended else 204)


async def patch_publisher(request: web.Request) -> web.Response:
    await _room_with_key(request)
    raise ApiError(
        405,
        "method_not_allowed",
        "trickle ICE and ICE restarts are not supported: the answer carries all candidates",
        headers={"Allow": SESSION_METHODS},
    )


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post("/whip/rooms/{room_id}", post_offer)
    router.add_delete("/whip/rooms/{room_id}/{publisher_id}", delete_publisher)
    router.add_patch("/whip/rooms/{room_id}/{publisher_id}", patch_publisher)
