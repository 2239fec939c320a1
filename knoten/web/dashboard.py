"""The host dashboard: the pages staff and hosts use to run the seminar room (sign-in and
sign-out are in :mod:`knoten.web.signin`).

The pages are server-rendered shells (Jinja2); small ES modules under ``/static/dashboard/`` fill
them from the same JSON API that scripts use (``/api/v1``, authorised by the session cookie plus
the ``X-CSRF-Token`` header, see :mod:`knoten.web.session`). Sections whose API does not exist
yet (partners, recordings) are hidden. The join-link QR code is drawn here, as SVG, with segno.
The live panel follows its occurrence over Server-Sent Events (``…/events``, see
:func:`occurrence_events`).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from typing import Any
from urllib.parse import quote

import segno
from aiohttp import web

from knoten.access import may_run_occurrence
from knoten.api.occurrences import occurrence_view
from knoten.http.requests import page_id
from knoten.keys import (
    ACCESS,
    EVENT_STREAMS_CLOSING,
    JOIN_LINKS,
    LOAD_MONITOR,
    SCHEDULE,
    SESSIONS,
    WEBRTC,
)
from knoten.web.chat_texts import CHAT_TEXTS
from knoten.web.i18n import TEXTS, choose_language
from knoten.web.pages import render
from knoten.web.redirects import same_origin_path
from knoten.web.session import CSRF_FIELD, Session
from schedules.errors import OccurrenceNotFound

log = logging.getLogger(__name__)

PARTNERS_API = "/api/v1/partners"
RECORDINGS_API = "/api/v1/recordings"
#: The live panel's event stream looks for changes this often …
EVENTS_CHECK_S = 1.0
#: … and writes a comment after this long without an event (keeps proxies and NATs open).
EVENTS_KEEPALIVE_S = 15.0
#: How long a browser waits before reconnecting a dropped stream (the SSE ``retry:`` field).
EVENTS_RETRY_MS = 3000


def has_api(app: web.Application, path: str) -> bool:
    """True if some engineer's module registered ``GET path`` (checked per request: cheap)."""
    for resource in app.router.resources():
        if resource.canonical == path:
            return any(route.method == "GET" for route in resource)
    return False


def _safe_next(value: str | None) -> str:
    """Only local paths: ``next`` must never send the browser to another site."""
    return same_origin_path(value) or "/dashboard"


def _secure_headers(response: web.StreamResponse) -> web.StreamResponse:
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


async def _session_or_redirect(request: web.Request) -> Session:
    session = await request.app[SESSIONS].get(request)
    if session is None:
        raise web.HTTPSeeOther(location=f"/signin?next={quote(request.path_qs, safe='/')}")
    return session


async def _page(
    request: web.Request,
    template: str,
    script: str | None,
    *,
    staff_only: bool = False,
    occurrence_id: int | None = None,
    **context: Any,
) -> web.Response:
    session = await _session_or_redirect(request)
    if staff_only and not session.principal.is_staff:
        raise web.HTTPForbidden(text="Nur für Mitarbeitende der Bibliothek.")
    if occurrence_id is not None:
        await may_run_occurrence(request.app[ACCESS], session.principal, occurrence_id)
        context["occurrence_id"] = occurrence_id
    lang = choose_language(request)
    app = request.app
    response = await render(
        request,
        template,
        csrf_token=session.csrf_token,
        csrf_field=CSRF_FIELD,
        principal=session.principal,
        account_name=session.display_name,
        script=script,
        js_texts=TEXTS[lang],
        has_partners=has_api(app, PARTNERS_API),
        has_recordings=has_api(app, RECORDINGS_API),
        **context,
    )
    return _secure_headers(response)


# -- pages --------------------------------------------------------------------------------------


async def calendar_page(request: web.Request) -> web.Response:
    return await _page(request, "dashboard/calendar.html", "calendar", section="calendar")


async def seminar_new(request: web.Request) -> web.Response:
    return await _page(
        request, "dashboard/seminar.html", "seminar", section="calendar", seminar_id=None
    )


async def seminar_edit(request: web.Request) -> web.Response:
    seminar_id = _int_path(request, "seminar_id")
    return await _page(
        request, "dashboard/seminar.html", "seminar", section="calendar", seminar_id=seminar_id
    )


async def live_page(request: web.Request) -> web.Response:
    occurrence_id = _int_path(request, "occurrence_id")
    chat = CHAT_TEXTS[choose_language(request)]
    return await _page(
        request,
        "dashboard/live.html",
        "live",
        section="calendar",
        occurrence_id=occurrence_id,
        ct=chat,
        chat_texts_json=json.dumps(chat, ensure_ascii=False),
    )


async def join_qr(request: web.Request) -> web.Response:
    session = await _session_or_redirect(request)
    occurrence_id = _int_path(request, "occurrence_id")
    await may_run_occurrence(request.app[ACCESS], session.principal, occurrence_id)
    # Exactly the link the API shows, with its join token; 404 if unknown.
    row = await request.app[SCHEDULE].occurrence(occurrence_id)
    buffer = io.BytesIO()
    segno.make(request.app[JOIN_LINKS].url(row), error="m").save(
        buffer, kind="svg", scale=6, border=2, dark="#1b1b1b", light="#ffffff", xmldecl=False
    )
    response = web.Response(body=buffer.getvalue(), content_type="image/svg+xml")
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return _secure_headers(response)


async def rooms_page(request: web.Request) -> web.Response:
    return await _page(request, "dashboard/rooms.html", "rooms", section="rooms", staff_only=True)


async def partners_page(request: web.Request) -> web.Response:
    return await _page(
        request, "dashboard/partners.html", "partners", section="partners", staff_only=True
    )


async def providers_page(request: web.Request) -> web.Response:
    return await _page(
        request, "dashboard/providers.html", "providers", section="providers", staff_only=True
    )


async def recordings_page(request: web.Request) -> web.Response:
    return await _page(request, "dashboard/recordings.html", "recordings", section="recordings")


# -- the live panel's event stream --------------------------------------------------------------


async def _occurrence_json(request: web.Request, occurrence_id: int) -> str:
    """The occurrence exactly as ``GET /api/v1/occurrences/{id}`` shows it (the same
    :func:`occurrence_view`), with ``viewers`` from the WebRTC registry. Raises
    ``OccurrenceNotFound`` for an unknown id."""
    app = request.app
    row = await app[SCHEDULE].occurrence(occurrence_id)
    data = occurrence_view(app, row).model_dump(mode="json")
    data["viewers"] = app[WEBRTC].viewer_count(occurrence_id)
    data["load"] = app[LOAD_MONITOR].page_state()
    # One line (json.dumps escapes every control character), as an SSE data field must be.
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _event(name: str, data: str) -> bytes:
    return f"event: {name}\ndata: {data}\n\n".encode()


def _gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def occurrence_events(request: web.Request) -> web.StreamResponse:
    """``text/event-stream`` of one occurrence for the live panel.

    ``event: occurrence`` with the API's JSON at once, then whenever that JSON changes (checked
    every second); ``: keepalive`` after 15 s of quiet; ``event: gone`` if the occurrence is
    deleted. Needs a session (401 without: an EventSource cannot follow a sign-in page). Ends
    when the client goes away, the session ends, or the app shuts down.
    """
    sessions = request.app[SESSIONS]
    session = await sessions.get(request)
    if session is None:
        raise web.HTTPUnauthorized(text="sign in first", headers={"Cache-Control": "no-store"})
    occurrence_id = _int_path(request, "occurrence_id")
    await may_run_occurrence(request.app[ACCESS], session.principal, occurrence_id)
    closing = request.app[EVENT_STREAMS_CLOSING]
    payload = await _occurrence_json(request, occurrence_id)  # 404 before any byte of the stream

    response = _secure_headers(web.StreamResponse())
    response.content_type = "text/event-stream"
    response.charset = "utf-8"
    response.headers["X-Accel-Buffering"] = "no"  # a buffering reverse proxy would hold events
    await response.prepare(request)
    loop = asyncio.get_running_loop()
    try:
        await response.write(f"retry: {EVENTS_RETRY_MS}\n".encode() + _event("occurrence", payload))
        last_write = loop.time()
        while not closing.is_set():
            try:
                async with asyncio.timeout(EVENTS_CHECK_S):
                    await closing.wait()
            except TimeoutError:
                pass  # our own timeout; a cancellation of this task propagates untouched
            if closing.is_set() or _gone(request) or await sessions.get(request) is None:
                break
            try:
                fresh = await _occurrence_json(request, occurrence_id)
            except OccurrenceNotFound:
                await response.write(_event("gone", "{}"))
                break
            if fresh != payload:
                payload = fresh
                await response.write(_event("occurrence", payload))
                last_write = loop.time()
            elif loop.time() - last_write >= EVENTS_KEEPALIVE_S:
                await response.write(b": keepalive\n\n")
                last_write = loop.time()
        if not _gone(request):
            await response.write_eof()
    except ConnectionResetError:  # the client left between two checks: nothing left to finish
        log.debug("event stream of %s: client gone", request.path)
    return response


def _int_path(request: web.Request, name: str) -> int:
    return page_id(request, name)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/dashboard", calendar_page, name="dashboard")
    router.add_get("/dashboard/seminars/new", seminar_new)
    router.add_get("/dashboard/seminars/{seminar_id:[0-9]+}", seminar_edit)
    router.add_get("/dashboard/occurrences/{occurrence_id:[0-9]+}", live_page)
    router.add_get("/dashboard/occurrences/{occurrence_id:[0-9]+}/qr.svg", join_qr)
    router.add_get("/dashboard/occurrences/{occurrence_id:[0-9]+}/events", occurrence_events)
    router.add_get("/dashboard/rooms", rooms_page)
    router.add_get("/dashboard/partners", partners_page)
    router.add_get("/dashboard/recordings", recordings_page)
    router.add_get("/dashboard/providers", providers_page)
