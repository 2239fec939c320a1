"""The error pages people see (a mistyped or expired share link, …), in their language.

An API answers errors as JSON; a person following a link gets a page that says in words what
happened and what to do, with the status code a client expects (404, 410).
"""

from __future__ import annotations

from aiohttp import web

from knoten.web.pages import render


async def render_error(request: web.Request, status: int, kind: str) -> web.Response:
    """The page for ``kind`` (texts ``page_<kind>_title`` and ``page_<kind>_text``)."""
    response = await render(request, "error.html", kind=kind)
    response.set_status(status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # a share link is a credential
    return response
