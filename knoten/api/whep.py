"""WHEP (WebRTC-HTTP Egress Protocol) for viewers: ``POST /whep/{occurrence_id}`` → 201 + answer.

The bearer token is the occurrence's join token (the one in its join link), so the join page and
any standard WHEP player use the same door. ``DELETE`` on the returned ``Location`` leaves (204
if the viewer had already gone), ``PATCH`` (trickle ICE) is 405 with ``Allow``.
Errors are JSON (``/whep/`` is a JSON prefix): 400 bad offer, 401/403 token, 404 unknown
occurrence or viewer, 409 not live, 413 too large, 415 not SDP, 503 + Retry-After when full
(code ``viewer_limit``), when too many viewers are connecting at once (code ``busy``) or while
the machine is overloaded (code ``overloaded``, see ``streaming.load_monitor``), 503
``node_unreachable`` when another node runs the date and does not answer. With several nodes an
offer or leave for a date another node runs is passed on to it (``knoten.api.node_forward``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from aiohttp import web
from pydantic import BaseModel, Field

from knoten.api.node_forward import forward, holder_url
from knoten.http.errors import ApiError
from knoten.http.openapi import Operation
from knoten.http.requests import SDP, bearer, path_int, read_sdp
from knoten.join import JoinTokenError
from knoten.keys import JOIN_LINKS, LOAD_MONITOR, SCHEDULE, WEBRTC
from streaming.webrtc import ViewerLimitReached, ViewerNotFound


def check_join_token(request: web.Request, occurrence_id: int, token: str | None) -> None:
    try:
        request.app[JOIN_LINKS].verify(token, occurrence_id, datetime.now(UTC))
    except JoinTokenError as exc:
        headers = {"WWW-Authenticate": 'Bearer realm="knoten-join"'} if exc.status == 401 else {}
        raise ApiError(exc.status, exc.code, exc.message, headers=headers) from None


def ice_links(request: web.Request) -> list[str]:
    """RFC 8288 Link headers for the configured ICE servers, as WHEP specifies."""
    links = []
    for server in request.app[WEBRTC].options.ice_servers:
        for url in server.urls:
            link = f'<{url}>; rel="ice-server"'
            if server.username is not None:
                link += f'; username="{server.username}"; credential="{server.credential or ""}"'
                link += '; credential-type="password"'
            links.append(link)
    return links


async def post_offer(request: web.Request) -> web.Response:
    occurrence_id = path_int(request, "occurrence_id")
    check_join_token(request, occurrence_id, bearer(request))
    row = await request.app[SCHEDULE].occurrence(occurrence_id)  # 404 if unknown
    offer = await read_sdp(request)
    registry = request.app[WEBRTC]
    if not registry.is_live(occurrence_id):
        # Several nodes: another node may run the date; its answer is the participant's.
        node_url = await holder_url(request, occurrence_id)
        if node_url is not None:
            return await forward(request, node_url, offer)
        raise ApiError(
            409,
            "not_live",
            f"occurrence {occurrence_id} is not live",
            details=[{"state": row.state.value}],
        )
    try:
        request.app[LOAD_MONITOR].admit_viewer(registry.viewer_count())
        viewer_id, answer = await registry.add_viewer(occurrence_id, offer)
    except ViewerLimitReached as exc:
        raise ApiError(
            503, exc.code, exc.message, headers={"Retry-After": str(exc.retry_after_s)}
        ) from None
    location = f"/whep/{occurrence_id}/{viewer_id}"
    response = web.Response(status=201, body=answer.encode(), content_type=SDP)
    response.headers["Location"] = location
    for link in ice_links(request):
        response.headers.add("Link", link)
    return response


#: What a viewer's session URL answers besides PATCH (OPTIONS: the CORS middleware).
SESSION_METHODS = "DELETE, OPTIONS"
#: Viewer ids are ``secrets.token_urlsafe(12)``: 16 URL-safe characters.
_VIEWER_ID = re.compile(r"[A-Za-z0-9_-]{16}")


async def delete_viewer(request: web.Request) -> web.Response:
    """Leave: 200 when the viewer was still there, 204 when it had already gone (its peer
    closed, failed or timed out, or an earlier DELETE): players often close the peer first and
    delete after, and a DELETE must not fail for that. Only ids not in the issued 16-character
    form are 404 (a well-formed id cannot be told apart from one that has gone)."""
    occurrence_id = path_int(request, "occurrence_id")
    check_join_token(request, occurrence_id, bearer(request))
    viewer_id = request.match_info["viewer_id"]
    if _VIEWER_ID.fullmatch(viewer_id) is None:
        raise ApiError(404, "not_found", "no such viewer")
    try:
        await request.app[WEBRTC].remove_viewer(occurrence_id, viewer_id)
    except ViewerNotFound:
        # Several nodes: the viewer may be on the node that runs the date.
        if not request.app[WEBRTC].is_live(occurrence_id):
            node_url = await holder_url(request, occurrence_id)
            if node_url is not None:
                return await forward(request, node_url)
        return web.Response(status=204)
    return web.Response(status=200)


async def patch_viewer(request: web.Request) -> web.Response:
    # Trickle ICE and ICE restarts are optional in WHEP; the answer carries every candidate
    # (gathering completes before it is sent), so a player needs neither. 405 with Allow, as
    # RFC 9110 §15.5.6 asks, tells a trickling player to stop sending candidates.
    raise ApiError(
        405,
        "method_not_allowed",
        "trickle ICE and ICE restarts are not supported: the answer carries all candidates",
        headers={"Allow": SESSION_METHODS},
    )


async def viewer_stats(request: web.Request) -> web.Response:
    """Admin: viewers and counters of one occurrence (under /api/v1, so the admin token rules)."""
    occurrence_id = path_int(request, "occurrence_id")
    await request.app[SCHEDULE].occurrence(occurrence_id)
    stats = request.app[WEBRTC].stats(occurrence_id).as_dict()
    return web.json_response({**stats, "load": request.app[LOAD_MONITOR].page_state()})


class ViewerStats(BaseModel):
    live: bool
    viewers: int
    feed: dict[str, int] | None = None
    packets: int | None = None
    bytes: int | None = None
    dropped: int | None = None
    time_to_first_frame_s_max: float | None = None
    #: Viewer worker processes (absent when viewers are served in the service process).
    workers: int | None = None
    load: dict[str, object] | None = Field(
        default=None,
        description="load shedding: level (normal, refuse_viewers, lower_viewer_limit, "
        "reduce_partner_profiles), the lowered viewer_limit, if any, and "
        "partner_profiles_reduced",
    )


OPERATIONS = (
    Operation(
        "GET",
        "/api/v1/occurrences/{occurrence_id}/viewers",
        viewer_stats,
        "WebRTC viewers of a live occurrence and their counters",
        "occurrences",
        response=ViewerStats,
        errors=(404,),
    ),
)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post("/whep/{occurrence_id:[0-9]+}", post_offer)
    router.add_delete("/whep/{occurrence_id:[0-9]+}/{viewer_id}", delete_viewer)
    router.add_patch("/whep/{occurrence_id:[0-9]+}/{viewer_id}", patch_viewer)
