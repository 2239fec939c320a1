"""Dates and times as people read them on the server-rendered pages, in the room's zone.

"Dienstag, 16. März, 18:00 Uhr" / "Tuesday, 16 March, 18:00": written out here rather than
through the C locale, which the service's machine may not have for German.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

WEEKDAYS = {
    "de": ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
MONTHS = {
    "de": ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
           "Oktober", "November", "Dezember"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
}  # fmt: skip


def local(moment: datetime, zone: str) -> datetime:
    """``moment`` (aware; naive counts as UTC) as wall time in ``zone``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(ZoneInfo(zone))


def long_date(moment: datetime, zone: str, lang: str, *, year: bool = False) -> str:
    """ "Dienstag, 16. März" (with ``year``: "Dienstag, 16. März 2027") in ``zone``."""
    wall = local(moment, zone)
    lang = lang if lang in WEEKDAYS else "de"
    weekday, month = WEEKDAYS[lang][wall.weekday()], MONTHS[lang][wall.month - 1]
    text = f"{weekday}, {wall.day}. {month}" if lang == "de" else f"{weekday}, {wall.day} {month}"
    return f"{text} {wall.year}" if year else text


def clock(moment: datetime, zone: str, lang: str) -> str:
    """ "18:00 Uhr" / "18:00" in ``zone``."""
    text = local(moment, zone).strftime("%H:%M")
    return f"{text} Uhr" if lang == "de" else text


def date_and_time(moment: datetime, zone: str, lang: str, *, year: bool = False) -> str:
    """ "Dienstag, 16. März, 18:00 Uhr"."""
    return f"{long_date(moment, zone, lang, year=year)}, {clock(moment, zone, lang)}"
