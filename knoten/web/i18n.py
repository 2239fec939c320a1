"""German-first interface texts with an English switch.

The language is chosen by ``?lang=``, then the ``knoten_lang`` cookie, then the browser's
Accept-Language; German is the default.
"""

from __future__ import annotations

from aiohttp import web

LANGUAGES = ("de", "en")
COOKIE = "knoten_lang"

TEXTS: dict[str, dict[str, str]] = {
    "de": {
        "tagline": "Seminarraum, Videokonferenz und Live-Übertragung des Digitalen Knotens",
        "status": "Dienststatus",
        "status_ok": "Alles in Betrieb",
        "status_failing": "Gestört",
        "database": "Datenbank",
        "ffmpeg": "FFmpeg",
        "rooms": "Räume",
        "camera": "Kamera",
        "testsrc": "Testbild mit Uhr und Ton",
        "api": "Programmierschnittstelle (OpenAPI)",
        "switch": "English",
        "no_rooms": "Noch keine Räume angelegt.",
    },
    "en": {
        "tagline": "Seminar room, video conference and live broadcasts of the digital node",
        "status": "Service status",
        "status_ok": "All systems running",
        "status_failing": "Degraded",
        "database": "Database",
        "ffmpeg": "FFmpeg",
        "rooms": "Rooms",
        "camera": "Camera",
        "testsrc": "Test pattern with clock and tone",
        "api": "Programming interface (OpenAPI)",
        "switch": "Deutsch",
        "no_rooms": "No rooms yet.",
    },
}


def choose_language(request: web.Request) -> str:
    requested = request.query.get("lang")
    if requested in LANGUAGES:
        return requested
    cookie = request.cookies.get(COOKIE)
    if cookie in LANGUAGES:
        return cookie
    for part in request.headers.get("Accept-Language", "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LANGUAGES:
            return tag
    return "de"
