"""A second web site on loopback for browser tests: the partner's or the library's own pages on
another origin (another port of 127.0.0.1), serving fixed files such as a player from npm."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping

from aiohttp import web

from tests.support.ports import free_tcp_port

#: Content types by file name ending; anything else is served as bytes.
_TYPES = {".html": "text/html", ".js": "text/javascript", "/": "text/html"}


@contextlib.asynccontextmanager
async def other_origin_site(files: Mapping[str, str | bytes]) -> AsyncIterator[str]:
    """Serve ``{path: content}`` (GET only) on a free loopback port until the block ends; yields
    the origin, e.g. ``http://127.0.0.1:40123``."""
    app = web.Application()
    for path, content in files.items():
        kind = next((t for end, t in _TYPES.items() if path.endswith(end)), None)
        body = content.encode() if isinstance(content, str) else content

        async def serve(
            _: web.Request, body: bytes = body, kind: str | None = kind
        ) -> web.Response:
            return web.Response(body=body, content_type=kind or "application/octet-stream")

        app.router.add_get(path, serve)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_tcp_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
