"""Service-level endpoints: health, Prometheus metrics and the OpenAPI description."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from knoten.keys import DATABASE, LOAD_MONITOR, MEDIA_TOOLS, METRICS_REGISTRY, OPENAPI

log = logging.getLogger(__name__)


async def healthz(request: web.Request) -> web.Response:
    app = request.app
    body: dict[str, object] = {"status": "ok"}
    try:
        await asyncio.wait_for(app[DATABASE].ping(), timeout=3)
        body["database"] = "ok"
    except Exception as exc:  # any failure of the database is what this endpoint reports
        log.warning("health check: database failing: %s", type(exc).__name__)
        body["database"] = "failing"
        body["status"] = "failing"
    version = await app[MEDIA_TOOLS].version()
    if version:
        body["ffmpeg"] = version
    else:
        body["ffmpeg"] = "missing"
        body["status"] = "failing"
    # Shedding viewers is the service protecting itself, not a failure: still 200.
    body["load"] = app[LOAD_MONITOR].status()
    return web.json_response(body, status=200 if body["status"] == "ok" else 503)


async def metrics(request: web.Request) -> web.Response:
    payload = generate_latest(request.app[METRICS_REGISTRY])
    response = web.Response(body=payload)
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    response.charset = "utf-8"
    return response


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI])


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/healthz", healthz)
    router.add_get("/metrics", metrics)
    router.add_get("/api/v1/openapi.json", openapi)
