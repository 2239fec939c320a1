"""The room display: the page the seminar room's screen shows, opened once with the room's signed
link (``/display/{room_id}?t=…``, see :mod:`knoten.display_links`).

It follows the room's current date — the one on air, else the next one today — and shows its
title, a "Live" and an "Aufnahme läuft" sign, the question being answered and the chat (the
conversation's ``display`` role: it only shows). ``/display/{room_id}/state`` tells the page
which date that is; when it changes, the page loads itself anew.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from knoten.conversation import socket
from knoten.http.requests import page_id
from knoten.keys import CONVERSATIONS, DISPLAY_LINKS, ROOMS, SCHEDULE, WEBRTC
from knoten.web.chat_texts import CHAT_TEXTS
from knoten.web.i18n import choose_language
from knoten.web.pages import render
from schedules.domain import OccurrenceState
from schedules.errors import RoomNotFound
from schedules.store import OccurrenceRow

#: The display looks this far ahead for the room's next date.
AHEAD = timedelta(hours=18)

TEXTS = {
    "de": {"title": "Raumanzeige", "live": "Live", "recording": "Aufnahme läuft",
           "next": "Beginnt um {time} Uhr", "nothing": "Heute ist keine Veranstaltung geplant.",
           "invalid": "Dieser Link zur Raumanzeige ist ungültig.",
           "unmute": "Ton der Sprechenden einschalten"},
    "en": {"title": "Room display", "live": "Live", "recording": "Recording",
           "next": "Starts at {time}", "nothing": "No event is planned today.",
           "invalid": "This room display link is not valid.",
           "unmute": "Turn on the speakers' sound"},
}  # fmt: skip


def now_showing(rows: Iterable[OccurrenceRow], now: datetime) -> OccurrenceRow | None:
    """The date a room's display shows at ``now``: the live one, else the next scheduled one
    whose window (lead-out included) has not passed. Pure."""
    candidates = [r for r in rows if r.state in (OccurrenceState.LIVE, OccurrenceState.SCHEDULED)]
    live = [r for r in candidates if r.state is OccurrenceState.LIVE]
    if live:
        return min(live, key=lambda r: r.start_utc)
    upcoming = [r for r in candidates if r.end_utc + timedelta(minutes=r.lead_out_minutes) > now]
    return min(upcoming, key=lambda r: r.start_utc, default=None)


def _room_id(request: web.Request) -> int:
    return page_id(request, "room_id")


def _admitted(request: web.Request, room_id: int) -> bool:
    return request.app[DISPLAY_LINKS].admits(
        request.query.get("t"), room_id, datetime.now(UTC).timestamp()
    )


async def _current(request: web.Request, room_id: int) -> OccurrenceRow | None:
    now = datetime.now(UTC)
    rows = await request.app[SCHEDULE].occurrences(now - timedelta(hours=12), now + AHEAD, room_id)
    return now_showing(rows, now)


async def _state(request: web.Request, room_id: int) -> dict[str, object]:
    row = await _current(request, room_id)
    if row is None:
        return {"occurrence": None}
    zone = ZoneInfo(row.timezone)
    on_air = request.app[WEBRTC].is_live(row.id)
    return {
        "occurrence": {
            "id": row.id,
            "title": row.title,
            "state": row.state.value,
            "live": row.state is OccurrenceState.LIVE or on_air,
            "recording": row.record and row.state is OccurrenceState.LIVE,
            "start_local": row.start_utc.astimezone(zone).strftime("%H:%M"),
        }
    }


async def display_page(request: web.Request) -> web.Response:
    room_id = _room_id(request)
    lang = choose_language(request)
    if not _admitted(request, room_id):
        response = await render(request, "display.html", dt=TEXTS[lang], room=None, doc={},
                                token="", state_json="{}", ct={}, chat_texts_json="{}")  # fmt: skip
        response.set_status(403)
        return response
    try:
        room = await request.app[ROOMS].get(room_id)
    except RoomNotFound:
        raise web.HTTPNotFound() from None
    document = await _state(request, room_id)
    response = await render(
        request,
        "display.html",
        dt=TEXTS[lang],
        room=room,
        doc=document,
        token=request.query.get("t", ""),
        state_json=json.dumps(document, ensure_ascii=False),
        ct=CHAT_TEXTS[lang],
        chat_texts_json=json.dumps(CHAT_TEXTS[lang], ensure_ascii=False),
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the URL
    return response


async def display_state(request: web.Request) -> web.Response:
    room_id = _room_id(request)
    if not _admitted(request, room_id):
        raise web.HTTPForbidden(text="invalid display link")
    return web.json_response(await _state(request, room_id), headers={"Cache-Control": "no-store"})


async def display_socket(request: web.Request) -> web.StreamResponse:
    room_id = _room_id(request)
    if not _admitted(request, room_id):
        raise web.HTTPForbidden(text="invalid display link")
    row = await _current(request, room_id)
    requested = request.match_info["occurrence_id"]
    if row is None or str(row.id) != requested:
        raise web.HTTPNotFound(text="not the room's current date")
    hub = request.app[CONVERSATIONS]
    return await socket.watch(request, hub, await hub.conversation(row.id), "display")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/display/{room_id:[0-9]+}", display_page)
    router.add_get("/display/{room_id:[0-9]+}/state", display_state)
    router.add_get(
        "/display/{room_id:[0-9]+}/occurrences/{occurrence_id:[0-9]+}/ws", display_socket
    )
