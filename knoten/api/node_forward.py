"""WHEP signalling for a date another node runs: forwarded to that node, media goes direct.

With several nodes on one database (docs/scaling.md) a participant's join link may reach any
node, but a date's viewers live on the node that holds its lease. A WHEP offer or leave for such
a date is passed on, unchanged and with the participant's token, to the holder's
``cluster.node_url``; its answer (status, body, ``Location``, ``Link``) comes back as it is. The
answer's ICE candidates are the holder's own, so the media flows between the browser and the
holder; this node only relays two small HTTP requests. A forwarded request is marked and never
forwarded again, so two nodes that disagree about a lease cannot bounce it between them.
"""

from __future__ import annotations

import logging

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from knoten.http.errors import ApiError
from knoten.keys import LEASES

log = logging.getLogger(__name__)

FORWARDED = "X-Knoten-Forwarded"
TIMEOUT = aiohttp.ClientTimeout(total=15)
_PASSED_BACK = ("Location", "Link", "Retry-After", "Content-Type", "WWW-Authenticate")


async def holder_url(request: web.Request, occurrence_id: int) -> str | None:
    """The address of the other node that runs ``occurrence_id``, if one does and this request
    may be passed on."""
    if request.headers.get(FORWARDED):
        return None
    leases = request.app[LEASES]
    lease = await leases.holder(occurrence_id)
    if lease is None or lease.node_id == leases.node_id:
        return None
    return lease.node_url


async def forward(request: web.Request, node_url: str, body: bytes | None = None) -> web.Response:
    """Send ``request`` (method, path, token, ``body``) to ``node_url``; its answer as ours."""
    headers = {FORWARDED: "1"}
    for name in ("Authorization", "Content-Type"):
        if name in request.headers:
            headers[name] = request.headers[name]
    target = node_url.rstrip("/") + request.rel_url.path
    try:
        async with (
            aiohttp.ClientSession(timeout=TIMEOUT) as client,
            client.request(request.method, target, data=body, headers=headers) as answer,
        ):
            payload = await answer.read()
            passed: CIMultiDict[str] = CIMultiDict()
            for name in _PASSED_BACK:
                for value in answer.headers.getall(name, ()):
                    passed.add(name, value)
            return web.Response(status=answer.status, body=payload or None, headers=passed)
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("WHEP %s for %s: node %s not reachable: %s", request.method,
                    request.rel_url.path, node_url, exc)  # fmt: skip
        raise ApiError(
            503,
            "node_unreachable",
            "the node that runs this date does not answer; try again shortly",
            headers={"Retry-After": "2"},
        ) from None
