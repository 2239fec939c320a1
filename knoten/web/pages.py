"""Server-rendered pages (Jinja2) and their static files; no bundler, no third-party requests."""

from __future__ import annotations

import asyncio
from pathlib import Path

import jinja2
from aiohttp import web

from knoten.keys import ACCOUNTS, DATABASE, MEDIA_TOOLS, ROOMS, TEMPLATES
from knoten.web.i18n import COOKIE, TEXTS, choose_language

HERE = Path(__file__).parent


def template_environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        enable_async=True,
    )


async def render(request: web.Request, template: str, **context: object) -> web.Response:
    lang = choose_language(request)
    html = (
        await request.app[TEMPLATES]
        .get_template(template)
        .render_async(
            lang=lang, t=TEXTS[lang], other_lang="en" if lang == "de" else "de", **context
        )
    )
    response = web.Response(text=html, content_type="text/html")
    if request.query.get("lang") == lang:
        response.set_cookie(COOKIE, lang, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    # The pages load nothing from elsewhere; the policy makes the browser enforce that.
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
        "connect-src 'self'; frame-ancestors 'none'"
    )
    return response


async def index(request: web.Request) -> web.Response:
    app = request.app
    database_ok = True
    try:
        await asyncio.wait_for(app[DATABASE].ping(), timeout=3)
        rooms = await app[ROOMS].list()
        has_accounts = await app[ACCOUNTS].count() > 0
    except Exception:  # the page reports the failure instead of failing itself
        database_ok = False
        rooms = []
        has_accounts = True
    version = await app[MEDIA_TOOLS].version()
    return await render(
        request,
        "index.html",
        rooms=rooms,
        database_ok=database_ok,
        ffmpeg_version=version,
        healthy=database_ok and version is not None,
        has_accounts=has_accounts,
    )


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/", index, name="index")
    router.add_static("/static/", HERE / "static", name="static")
