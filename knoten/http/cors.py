"""Cross-origin access (CORS) for the public media doors: WHEP, WHIP, HLS and share media.

Players embedded on a partner's or the library's own web site run on another origin; the browser
asks with a preflight ``OPTIONS`` before a WHEP ``POST`` (it carries ``Authorization`` and
``Content-Type: application/sdp``) and checks ``Access-Control-Allow-Origin`` on every answer,
including hls.js's playlist and segment requests. This module owns both: the preflight answer and
the headers on the real responses (errors included, or the player sees an opaque network error
instead of the JSON body).

Only these paths are covered: each one carries its own credential (join token, HLS pull token,
signed public HLS path, signed share token), none relies on cookies, so ``*`` is safe for them
and ``Allow-Credentials`` is never sent. The API under ``/api/v1`` and the pages stay
same-origin. Which origins are allowed is ``server.cors_origins`` (empty: same origin only, the
browser's default).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, MutableMapping

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: The doors that answer other origins.
CORS_PATHS = re.compile(r"^/(whep|whip|live|hls)/|^/share/recordings/[^/]+/(media|poster)$")
#: Endpoints that take an SDP offer by POST (RFC 9725 / WHEP: ``Accept-Post`` on OPTIONS).
SDP_POST_PATHS = re.compile(r"^/(whep|whip)/")
SDP = "application/sdp"

ALLOW_HEADERS = "Authorization, Content-Type, If-Match, If-None-Match, If-Range, Range"
#: Response headers a player's script may read: the WHEP session URL and ICE servers, the
#: validators and range answers of media, and the hints of refusals.
EXPOSE_HEADERS = (
    "Location, Link, ETag, Accept-Post, Accept-Patch, Accept-Ranges, Content-Range, "
    "Content-Length, Retry-After, Allow"
)
#: Seconds a browser may reuse a preflight answer (Chromium caps it at 7200).
MAX_AGE = "600"


class CorsPolicy:
    """Which origins may use the public media doors: ``*`` or a set of exact origins."""

    def __init__(self, origins: Iterable[str]) -> None:
        normalized = {origin.rstrip("/").lower() for origin in origins}
        self.any_origin = "*" in normalized
        self.origins = frozenset(normalized - {"*"})

    def allow_origin(self, origin: str | None) -> str | None:
        """The ``Access-Control-Allow-Origin`` value for a request from ``origin``, or None."""
        if not origin:
            return None
        if self.any_origin:
            return "*"
        return origin if origin.lower() in self.origins else None

    def middleware(self) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
        @web.middleware
        async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            if CORS_PATHS.match(request.path) is None:
                return await handler(request)
            if request.method == "OPTIONS" and _method_not_allowed(request) is not None:
                return self._preflight(request)
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                self._decorate(request, exc.headers)
                raise
            self._decorate(request, response.headers)
            return response

        return middleware

    def _decorate(self, request: web.Request, headers: MutableMapping[str, str]) -> None:
        allowed = self.allow_origin(request.headers.get("Origin"))
        if not self.any_origin:
            # Caches must not hand one origin's answer to another.
            _add_vary(headers, "Origin")
        if allowed is None:
            return
        headers["Access-Control-Allow-Origin"] = allowed
        headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS

    def _preflight(self, request: web.Request) -> web.Response:
        """Answer OPTIONS itself: 204 with ``Allow`` (and ``Accept-Post`` for SDP endpoints);
        the CORS grant only for an allowed origin, so a refused one fails in the browser."""
        exception = _method_not_allowed(request)
        assert exception is not None
        methods = sorted(set(exception.allowed_methods) | {"OPTIONS"})
        response = web.Response(status=204)
        response.headers["Allow"] = ", ".join(methods)
        if "POST" in methods and SDP_POST_PATHS.match(request.path):
            response.headers["Accept-Post"] = SDP
        self._decorate(request, response.headers)
        if "Access-Control-Allow-Origin" in response.headers:
            response.headers["Access-Control-Allow-Methods"] = ", ".join(methods)
            response.headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
            response.headers["Access-Control-Max-Age"] = MAX_AGE
        return response


def _method_not_allowed(request: web.Request) -> web.HTTPMethodNotAllowed | None:
    """The router's 405 when the path exists but has no route for this method (then OPTIONS is
    ours); None when a handler answers OPTIONS itself or the path names nothing (its 404)."""
    exception = request.match_info.http_exception
    return exception if isinstance(exception, web.HTTPMethodNotAllowed) else None


def _add_vary(headers: MutableMapping[str, str], name: str) -> None:
    present = [v.strip().lower() for v in headers.get("Vary", "").split(",") if v.strip()]
    if name.lower() not in present and "*" not in present:
        headers["Vary"] = ", ".join([*filter(None, [headers.get("Vary", "")]), name])
