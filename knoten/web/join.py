"""The join page: a participant's link to one occurrence, and the JSON state it polls.

``/join/{id}?t=<token>`` renders the page (German first, English switch); the page's script
(static/join.js) polls ``/join/{id}/state`` until the occurrence is live, then plays it over
WHEP (``/whep/{id}``) and reconnects by itself after a network blip or a service restart.
Texts live here rather than in the shared i18n table: only this page uses them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from aiohttp import web

from knoten.api.recordings import shared_recording_url
from knoten.http.requests import parse_id
from knoten.join import JoinTokenError
from knoten.keys import CONFIG, CONVERSATIONS, JOIN_LINKS, LEASES, SCHEDULE, WEBRTC
from knoten.web.chat_texts import CHAT_TEXTS, recording_notice
from knoten.web.dates import long_date
from knoten.web.i18n import choose_language
from knoten.web.pages import render
from schedules.errors import OccurrenceNotFound

TEXTS: dict[str, dict[str, str]] = {
    "de": {
        "title": "Live zuschauen",
        "waiting": (
            "Die Übertragung beginnt am {date} um {time} Uhr. Diese Seite verbindet sich dann "
            "von selbst."
        ),
        "starting": "Die Übertragung startet gleich …",
        "connecting": "Verbinde …",
        "live": "Live",
        "lead_in": "Gleich geht es los",
        "reconnecting": "Verbindung unterbrochen – verbinde erneut …",
        "ended": "Diese Veranstaltung ist beendet. Danke fürs Zuschauen!",
        "cancelled": "Dieser Termin fällt aus.",
        "invalid": "Dieser Link ist ungültig oder abgelaufen.",
        "needs_link": "Zum Teilnehmen brauchen Sie den persönlichen Link, den Sie von der "
        "Kursleitung oder der Bibliothek bekommen haben.",
        "unknown": "Diese Veranstaltung gibt es nicht.",
        "full": "Gerade sind alle Plätze belegt. Wir versuchen es gleich noch einmal …",
        "offline": "Verbindung unterbrochen – der Dienst ist nicht erreichbar, wir versuchen es "
        "weiter …",
        "unmute": "Ton einschalten",
        "muted_hint": "Ihr Browser hat die Übertragung ohne Ton gestartet.",
        "leave": "Verlassen",
        "left": "Sie haben die Übertragung verlassen.",
        "rejoin": "Wieder teilnehmen",
        "recording_shared": "Die Kursleitung hat die Aufzeichnung freigegeben.",
        "recording_link": "Aufzeichnung ansehen",
    },
    "en": {
        "title": "Watch live",
        "waiting": "The broadcast starts on {date} at {time}. This page will connect by itself.",
        "starting": "The broadcast is about to start …",
        "connecting": "Connecting …",
        "live": "Live",
        "lead_in": "Starting soon",
        "reconnecting": "Connection lost – reconnecting …",
        "ended": "This event has ended. Thank you for watching!",
        "cancelled": "This date has been cancelled.",
        "invalid": "This link is invalid or has expired.",
        "needs_link": "To take part you need the personal link you received from the course "
        "host or the library.",
        "unknown": "This event does not exist.",
        "full": "All places are taken right now. Trying again shortly …",
        "offline": "Connection lost – the service cannot be reached, still trying …",
        "unmute": "Turn sound on",
        "muted_hint": "Your browser started the broadcast without sound.",
        "leave": "Leave",
        "left": "You have left the broadcast.",
        "rejoin": "Join again",
        "recording_shared": "The host has shared the recording.",
        "recording_link": "Watch the recording",
    },
}

ENDED_STATES = {"ended", "missed", "failed"}


def _occurrence_id(request: web.Request) -> int | None:
    return parse_id(request.match_info["occurrence_id"])


async def _state(request: web.Request, occurrence_id: int | None) -> tuple[int, dict[str, object]]:
    """(HTTP status, state document) for the page's poll and its first render."""
    if occurrence_id is None:
        return 404, {"state": "unknown"}
    if not request.query.get("t"):
        # The public calendar links here without a token: say how to get in, not "invalid".
        return 401, {"state": "needs_link"}
    try:
        request.app[JOIN_LINKS].verify(request.query.get("t"), occurrence_id, datetime.now(UTC))
    except JoinTokenError as exc:
        return exc.status, {"state": "invalid"}
    try:
        row = await request.app[SCHEDULE].occurrence(occurrence_id)
    except OccurrenceNotFound:
        return 404, {"state": "unknown"}
    zone = ZoneInfo(row.timezone)
    date = await request.app[CONVERSATIONS].date(occurrence_id)
    registry = request.app[WEBRTC]
    state = row.state.value
    on_air = registry.is_live(occurrence_id)
    if not on_air and state in ("live", "scheduled"):
        # Several nodes: the date may be on air at another node (WHEP is passed on to it).
        leases = request.app[LEASES]
        lease = await leases.holder(occurrence_id)
        on_air = lease is not None and lease.node_id != leases.node_id
    if state == "live" and not on_air:
        state = "starting"  # marked live, the feed is not there yet
    elif state == "scheduled" and on_air:
        state = "live"  # lead-in: the pipeline already serves the room
    return 200, {
        "state": state,
        # The pipeline runs but the date has not begun: the page says "Gleich geht es los".
        "lead_in": row.state.value == "scheduled" and state == "live",
        "title": row.title,
        "start": row.start_utc.astimezone(zone).isoformat(timespec="seconds"),
        "start_local": row.start_utc.astimezone(zone).strftime("%H:%M"),
        # "Dienstag, 16. März": the waiting page names the day, not only the time.
        "start_date": long_date(row.start_utc, row.timezone, choose_language(request)),
        "ice_servers": [s.as_browser_dict() for s in registry.options.ice_servers],
        "recorded": date.recorded,
        "partners": list(date.partners),
        # After the end: the host's share link of the recording, if there is a valid one.
        "recording_url": (
            await shared_recording_url(request.app, occurrence_id)
            if state in ENDED_STATES
            else None
        ),
    }


async def join_state(request: web.Request) -> web.Response:
    status, document = await _state(request, _occurrence_id(request))
    return web.json_response(document, status=status, headers={"Cache-Control": "no-store"})


async def join_page(request: web.Request) -> web.Response:
    occurrence_id = _occurrence_id(request)
    status, document = await _state(request, occurrence_id)
    lang = choose_language(request)
    notice = None
    if status == 200:
        notice = recording_notice(lang, bool(document["recorded"]), tuple(document["partners"]))
    chat = CHAT_TEXTS[lang]
    response = await render(
        request,
        "join.html",
        jt=TEXTS[lang],
        ct=chat,
        chat_texts_json=json.dumps(chat, ensure_ascii=False),
        notice=notice,
        privacy_text=request.app[CONFIG].conversation.privacy_text,
        chat_open=status == 200,
        texts_json=json.dumps(TEXTS[lang], ensure_ascii=False),
        doc=document,
        doc_json=json.dumps(document, ensure_ascii=False),
        occurrence_id=occurrence_id or 0,
        token=request.query.get("t", ""),
    )
    response.set_status(status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the URL
    return response


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/join/{occurrence_id:[0-9]+}", join_page)
    router.add_get("/join/{occurrence_id:[0-9]+}/state", join_state)
