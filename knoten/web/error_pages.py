"""The error pages people see (a mistyped or expired share link, a mistyped address), in their
language.

An API answers errors as JSON; a person following a link gets a page that says in words what
happened and what to do, with the status code a client expects (404, 410). The middleware
answers a browser's page request that found nothing (aiohttp's bare "404: Not Found") with that
page; scripts, media and API requests keep their own answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from knoten.web.pages import render

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def render_error(request: web.Request, status: int, kind: str) -> web.Response:
    """The page for ``kind`` (texts ``page_<kind>_title`` and ``page_<kind>_text``)."""
    response = await render(request, "error.html", kind=kind)
    response.set_status(status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # a share link is a credential
    return response


def page_not_found_middleware(
    json_prefixes: tuple[str, ...],
) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """404 as a page in the reader's language for ``GET`` of a page by a browser."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPNotFound:
            wants_page = (
                request.method in ("GET", "HEAD")
                and "text/html" in request.headers.get("Accept", "")
                and not request.path.startswith((*json_prefixes, "/static/"))
            )
            if not wants_page:
                raise
            return await render_error(request, 404, "not_found")

    return middleware
