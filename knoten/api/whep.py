"""WHEP (WebRTC-HTTP Egress Protocol) for viewers: ``POST /whep/{occurrence_id}`` → 201 + answer.

The bearer token is the occurrence's join token (the one in its join link), so the join page and
any standard WHEP player use the same door. ``DELETE`` on the returned ``Location`` leaves.
Errors are JSON (``/whep/`` is a JSON prefix): 400 bad offer, 401/403 token, 404 unknown
occurrence or viewer, 409 not live, 413 too large, 415 not SDP, 503 + Retry-After when full
(code ``viewer_limit``) or when too many viewers are connecting at once (code ``busy``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from aiohttp import web
from prometheus_client import CollectorRegistry
from pydantic import BaseModel

from knoten.config import Config
from knoten.http.errors import ApiError
from knoten.http.openapi import Operation
from knoten.http.requests import path_int
from knoten.join import JoinTokenError, JoinTokens, load_or_create_join_secret
from knoten.keys import CONFIG, JOIN_TOKENS, SCHEDULE, WEBRTC
from schedules.store import OccurrenceRow
from streaming.webrtc import IceServer, ViewerLimitReached, WebrtcOptions, WebrtcRegistry
from streaming.webrtc.sdp import MAX_OFFER_BYTES
from streaming.webrtc.shards import ShardedRegistry

SDP = "application/sdp"


def bearer(request: web.Request) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def check_join_token(request: web.Request, occurrence_id: int, token: str | None) -> None:
    try:
        request.app[JOIN_TOKENS].verify(token, occurrence_id, datetime.now(UTC))
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


async def _read_offer(request: web.Request) -> bytes:
    if request.content_type != SDP:
        raise ApiError(415, "unsupported_media_type", f"send the SDP offer as {SDP}")
    if (request.content_length or 0) > MAX_OFFER_BYTES:
        raise ApiError(413, "payload_too_large", "SDP offer too large")
    body = bytearray()
    async for chunk in request.content.iter_chunked(16384):
        body += chunk
        if len(body) > MAX_OFFER_BYTES:  # chunked uploads carry no Content-Length
            raise ApiError(413, "payload_too_large", "SDP offer too large")
    return bytes(body)


async def post_offer(request: web.Request) -> web.Response:
    occurrence_id = path_int(request, "occurrence_id")
    check_join_token(request, occurrence_id, bearer(request))
    row = await request.app[SCHEDULE].occurrence(occurrence_id)  # 404 if unknown
    offer = await _read_offer(request)
    registry = request.app[WEBRTC]
    if not registry.is_live(occurrence_id):
        raise ApiError(
            409,
            "not_live",
            f"occurrence {occurrence_id} is not live",
            details=[{"state": row.state.value}],
        )
    try:
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


async def delete_viewer(request: web.Request) -> web.Response:
    occurrence_id = path_int(request, "occurrence_id")
    check_join_token(request, occurrence_id, bearer(request))
    await request.app[WEBRTC].remove_viewer(occurrence_id, request.match_info["viewer_id"])
    return web.Response(status=200)


async def patch_viewer(request: web.Request) -> web.Response:
    # Trickle ICE and ICE restarts are optional in WHEP; the answer carries every candidate.
    raise ApiError(405, "method_not_allowed", "trickle ICE is not supported; use DELETE")


async def viewer_stats(request: web.Request) -> web.Response:
    """Admin: viewers and counters of one occurrence (under /api/v1, so the admin token rules)."""
    occurrence_id = path_int(request, "occurrence_id")
    await request.app[SCHEDULE].occurrence(occurrence_id)
    return web.json_response(request.app[WEBRTC].stats(occurrence_id))


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


def webrtc_options(config: Config) -> WebrtcOptions:
    section = config.webrtc
    return WebrtcOptions(
        ice_servers=tuple(
            IceServer(tuple(s.urls), s.username, s.credential) for s in section.ice_servers
        ),
        host_addresses=tuple(section.host_addresses),
        interfaces=tuple(section.interfaces),
        max_viewers=section.max_viewers,
        max_connecting=section.max_connecting,
        connect_timeout_s=section.connect_timeout_s,
    )


def setup(app: web.Application, config: Config, metrics: CollectorRegistry) -> None:
    """Create the join tokens and the WebRTC registry, add the routes, own the shutdown."""
    from knoten.web import join  # the page module renders with pages' templates

    app[JOIN_TOKENS] = JoinTokens(load_or_create_join_secret(config.data_dir))
    if config.webrtc.workers:
        app[WEBRTC] = ShardedRegistry(
            webrtc_options(config),
            metrics,
            workers=config.webrtc.workers,
            viewers_per_worker=config.webrtc.viewers_per_worker,
            log_level=config.logging.level.upper(),
        )
    else:
        app[WEBRTC] = WebrtcRegistry(webrtc_options(config), metrics)
    add_routes(app.router)
    join.add_routes(app)
    app.cleanup_ctx.append(_webrtc)


async def _webrtc(app: web.Application) -> AsyncIterator[None]:
    registry = app[WEBRTC]
    if isinstance(registry, ShardedRegistry):
        await registry.start()  # the viewer workers, supervised from here on
    yield
    # Every peer and feed reader ends here; the pipeline's own close() calls come first.
    await app[WEBRTC].aclose()


def join_token(app: web.Application, row: OccurrenceRow) -> str:
    """The token of an occurrence's join link: valid until its end (+ lead-out and grace)."""
    config = app[CONFIG]
    grace = timedelta(minutes=row.lead_out_minutes + config.webrtc.join_grace_minutes)
    return app[JOIN_TOKENS].issue(row.id, row.end_utc, grace)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post("/whep/{occurrence_id}", post_offer)
    router.add_delete("/whep/{occurrence_id}/{viewer_id}", delete_viewer)
    router.add_patch("/whep/{occurrence_id}/{viewer_id}", patch_viewer)
