"""The HTTP middlewares: JSON errors, bearer-token auth for the API, request metrics.

Everything under an API prefix answers errors as JSON (never an HTML page or a traceback);
pages keep aiohttp's own error pages.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram

from knoten.accounts.principal import PRINCIPAL, Principal
from knoten.http.errors import ApiError, DomainErrorRule, from_domain_error, from_http_exception

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

API_PREFIX = "/api/v1/"
#: Paths under the API prefix that need no token (the description holds no secrets).
PUBLIC_API_PATHS = frozenset({"/api/v1/openapi.json"})


#: Form bodies the pages accept; read once in the error middleware so a malformed one is a 400.
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def is_json_path(path: str, prefixes: tuple[str, ...]) -> bool:
    return path.startswith(prefixes) or path.rstrip("/") in {p.rstrip("/") for p in prefixes}


def error_middleware(
    json_prefixes: tuple[str, ...], rules: tuple[DomainErrorRule, ...]
) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        json_errors = is_json_path(request.path, json_prefixes)
        try:
            if not json_errors and request.method == "POST" and request.content_type in FORM_TYPES:
                try:
                    # aiohttp caches the parsed form, so handlers read it as before; a body
                    # without its multipart boundary or in a broken charset raised a 500 there.
                    await request.post()
                except ValueError:
                    raise web.HTTPBadRequest(text="malformed form data") from None
            return await handler(request)
        except ApiError as exc:
            return exc.response()
        except web.HTTPException as exc:
            if not json_errors or exc.status < 400:
                raise
            return from_http_exception(exc).response()
        except Exception as exc:
            api_error = from_domain_error(exc, rules)
            if api_error is not None:
                return api_error.response()
            # A bug, not bad input: keep the traceback in the log, never in the response.
            log.exception("unhandled error in %s %s", request.method, request.path)
            if not json_errors:
                raise
            return ApiError(500, "internal_error", "internal server error").response()

    return middleware


def auth_middleware(
    bearer_auth: Callable[[str], Awaitable[Principal | None]],
    cookie_auth: Callable[[web.Request], Awaitable[Principal | None]] | None = None,
) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """Who is asking, for every API request: a bearer token (the configured admin token or a
    personal API token) or, without an Authorization header, a dashboard session
    (``cookie_auth`` checks the CSRF header itself and raises 403 when it is wrong). The
    principal is stored under :data:`PRINCIPAL` for the access rules and the handlers."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(API_PREFIX) and request.path not in PUBLIC_API_PATHS:
            header = request.headers.get("Authorization", "")
            if not header and cookie_auth is not None:
                principal = await cookie_auth(request)
                if principal is not None:
                    request[PRINCIPAL] = principal
                    return await handler(request)
            scheme, _, presented = header.partition(" ")
            if scheme.lower() != "bearer" or not presented:
                raise ApiError(
                    401,
                    "unauthorized",
                    "missing bearer token",
                    headers={"WWW-Authenticate": 'Bearer realm="knoten"'},
                )
            principal = await bearer_auth(presented.strip())
            if principal is None:
                raise ApiError(
                    401,
                    "unauthorized",
                    "invalid token",
                    headers={"WWW-Authenticate": 'Bearer realm="knoten", error="invalid_token"'},
                )
            request[PRINCIPAL] = principal
        return await handler(request)

    return middleware


class HttpMetrics:
    """Request counters and latency per route (the route template, never the raw path)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "knoten_http_requests_total",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "knoten_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=registry,
        )

    def middleware(self) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
        @web.middleware
        async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            started = time.perf_counter()
            status = 500
            try:
                response = await handler(request)
                status = response.status
                return response
            except web.HTTPException as exc:
                status = exc.status
                raise
            finally:
                resource = request.match_info.route.resource
                route = resource.canonical if resource is not None else "unmatched"
                self.requests.labels(request.method, route, str(status)).inc()
                self.latency.labels(request.method, route).observe(time.perf_counter() - started)

        return middleware
