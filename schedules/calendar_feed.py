"""The public iCalendar (RFC 5545) feed of one room: ``GET /calendar/rooms/{room_id}.ics``.

This module owns turning already-loaded occurrences (:class:`FeedEvent`) into the bytes of a
``text/calendar`` document. It is pure: no database, clock or network access — the caller passes
the events, the public host name and ``now_utc``. The same input always gives the same bytes, so
the web layer may hash them for an ETag.

Decisions:

* **Expanded occurrences, no RRULE.** Every occurrence is its own VEVENT. A moved or cancelled
  occurrence is then just that event changing, with no master/exception bookkeeping that clients
  implement inconsistently, and the feed never has to express our recurrence policy (DST-gap
  shifting, exdates) in RRULE terms.
* **UID per occurrence** — ``knoten-occurrence-{occurrence_id}@{host_domain}``, and no
  RECURRENCE-ID. A per-seminar UID with RECURRENCE-ID would need a master VEVENT with the RRULE;
  without it many clients drop or mis-merge the instances. The occurrence id is the store's
  primary key, so the UID is stable across builds and across moves of the occurrence, and SEQUENCE
  (bumped by the store on every change) tells clients which version is newer.
* **Local wall time with TZID.** DTSTART/DTEND are written in the seminar's timezone, with a
  VTIMEZONE for each timezone used (and for X-WR-TIMEZONE, the most used one), so a weekly 18:00
  seminar reads as 18:00 on both sides of a DST change. The VTIMEZONEs (:mod:`schedules.vtimezone`)
  state the zone's yearly rules as RRULE observances with their onsets in local time before the
  change (02:00 for the start of summer time in Europe/Berlin), valid from 1 January of the first
  event's year and, while the zone keeps its rules, beyond the last: icalendar's own
  ``from_tzid`` listed transitions as RDATEs with wrong onsets, which Thunderbird's ical.js read
  an hour off in the days after the change. Exception: an
  instant in the *second* pass of a DST fold (e.g. 02:30 CET on 2027-10-31, after 02:30 CEST)
  cannot be written as local time, because RFC 5545 reads an ambiguous local time as its first
  instant; such a (moved) occurrence gets its DTSTART/DTEND pair in UTC instead. A seminar whose
  zone is UTC is written in UTC (``...Z``) too.
* **DTSTAMP** is ``now_utc`` (the time the feed was generated, as usual for METHOD:PUBLISH);
  LAST-MODIFIED is the occurrence's ``updated_utc``. All times are truncated to whole seconds.
* **Statuses.** ``cancelled`` → ``STATUS:CANCELLED`` and ``TRANSP:TRANSPARENT``; the event stays
  in the feed (with its bumped SEQUENCE) so subscribed clients update it instead of keeping a
  stale copy. Every other state → ``STATUS:CONFIRMED``: ``missed`` and ``failed`` occurrences were
  not called off by the organiser and stay part of the room's history, so they keep their status
  but get a neutral note in DESCRIPTION (:data:`STATUS_NOTES`). ``cancelled`` gets a note too, as
  several clients show subscribed cancelled events without marking them.
* **Public data only.** The feed is served without authentication, so it contains only the fields
  of :class:`FeedEvent` (no stream keys, sources or staff data). SUMMARY is the title unchanged;
  the notes and labels (German, like the PRODID and the library's audience) go into DESCRIPTION.
* **Text.** icalendar escapes commas, semicolons, backslashes and newlines and folds lines at 75
  octets with CRLF endings. Before that, CR/CRLF become LF and other control characters (which
  RFC 5545 forbids in TEXT values) are removed, so user-typed text cannot break the document.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vDuration

from schedules.domain import DEFAULT_TIMEZONE, OccurrenceState
from schedules.timing import load_timezone
from schedules.vtimezone import vtimezone

PRODID = "-//Knoten//Seminarraum//DE"
# How often subscribed clients should poll (REFRESH-INTERVAL, RFC 7986, and X-PUBLISHED-TTL).
# Without a hint, some clients refresh only daily or weekly: too slow for a seminar cancelled today.
REFRESH_INTERVAL = timedelta(hours=1)

HOST_LABEL = "Leitung"
JOIN_LABEL = "Teilnehmen"
STATUS_NOTES: dict[OccurrenceState, str] = {
    OccurrenceState.CANCELLED: "Dieser Termin fällt aus.",
    OccurrenceState.REQUESTED: "Dieser Termin ist angefragt und noch nicht bestätigt.",
    OccurrenceState.MISSED: "Dieser Termin hat nicht stattgefunden.",
    OccurrenceState.FAILED: "Bei diesem Termin gab es eine technische Störung.",
}

# RFC 5545 §3.3.11: TEXT may hold HTAB and (escaped) LF, but no other control characters.
_FORBIDDEN_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """One occurrence as the public feed shows it; the web layer maps store rows onto this."""

    occurrence_id: int
    seminar_id: int
    title: str
    description: str  # may be ""
    host: str  # may be ""
    timezone: str  # IANA name of the seminar
    start_utc: datetime  # aware
    end_utc: datetime  # aware
    status: str  # "scheduled"|"live"|"ended"|"cancelled"|"missed"|"failed"
    sequence: int  # bumped by the store on every change to this occurrence
    recurrence_id: str  # nominal local start ISO text, e.g. "2027-03-02T18:00:00"
    is_recurring: bool
    join_url: str  # absolute URL of the join page
    updated_utc: datetime  # aware, last modification (DTSTAMP / LAST-MODIFIED)

    def __post_init__(self) -> None:
        # Fail where the row is mapped, naming the field, not deep inside serialization.
        for name in ("start_utc", "end_utc", "updated_utc"):
            _require_aware(name, getattr(self, name))
        if self.end_utc <= self.start_utc:
            raise ValueError(f"end_utc must be after start_utc (occurrence {self.occurrence_id})")
        if self.sequence < 0:
            raise ValueError(f"sequence must be >= 0, got {self.sequence}")
        OccurrenceState(self.status)  # raises ValueError for an unknown status
        # URL values are not escaped in iCalendar: a line break here would break the document.
        if not self.join_url or any(c.isspace() or not c.isprintable() for c in self.join_url):
            raise ValueError(f"join_url must be a URL without whitespace, got {self.join_url!r}")

    @property
    def state(self) -> OccurrenceState:
        return OccurrenceState(self.status)


def occurrence_uid(occurrence_id: int, host_domain: str) -> str:
    """The VEVENT UID of an occurrence; stable for as long as the occurrence exists."""
    return f"knoten-occurrence-{occurrence_id}@{host_domain}"


def build_room_calendar(
    *,
    room_id: int,
    room_name: str,
    events: Sequence[FeedEvent],
    host_domain: str,
    calendar_name: str | None = None,
    now_utc: datetime,
) -> bytes:
    """The room's calendar as RFC 5545 bytes (UTF-8, CRLF, folded); ``events`` in any order.

    Raises ``ValueError`` for a naive ``now_utc``, a malformed ``host_domain`` or two events with
    the same occurrence id, and :class:`schedules.errors.InvalidTimezone` for an unknown zone.
    """
    _require_aware("now_utc", now_utc)
    if not host_domain or any(c.isspace() or c in "@/" for c in host_domain):
        raise ValueError(f"host_domain must be a bare host name, got {host_domain!r}")
    seen: set[int] = set()
    for event in events:
        if event.occurrence_id in seen:
            raise ValueError(f"occurrence {event.occurrence_id} is given twice")
        seen.add(event.occurrence_id)

    name = _text(calendar_name if calendar_name is not None else room_name)
    calendar = Calendar()
    calendar.add("version", "2.0")
    calendar.add("prodid", PRODID)
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    # RFC 7986 lets a calendar carry UID and NAME; X-WR-* are what Apple, Google and Outlook read.
    calendar.add("uid", f"knoten-room-{room_id}@{host_domain}")
    calendar.add("name", name)
    calendar.add("x-wr-calname", name)
    calendar_tz = _calendar_timezone(events)
    calendar.add("x-wr-timezone", calendar_tz)
    # RFC 7986 requires the VALUE parameter here; icalendar does not add it by itself.
    calendar.add("refresh-interval", REFRESH_INTERVAL, parameters={"VALUE": "DURATION"})
    # Outlook's older spelling of the same hint; X- properties are TEXT, so give the ISO form.
    calendar.add("x-published-ttl", vDuration(REFRESH_INTERVAL).to_ical().decode("ascii"))

    stamp = _utc_seconds(now_utc)
    ordered = sorted(events, key=lambda e: (e.start_utc, e.occurrence_id))
    for event in ordered:
        calendar.add_component(
            _vevent(event, room_name=room_name, host_domain=host_domain, stamp=stamp)
        )
    _add_timezones(calendar, ordered, calendar_tz, now_utc)
    return calendar.to_ical()


def _vevent(event: FeedEvent, *, room_name: str, host_domain: str, stamp: datetime) -> Event:
    zone = load_timezone(event.timezone)
    start, end = _start_end(event, zone)
    vevent = Event()
    vevent.add("uid", occurrence_uid(event.occurrence_id, host_domain))
    vevent.add("dtstamp", stamp)
    vevent.add("last-modified", _utc_seconds(event.updated_utc))
    vevent.add("sequence", event.sequence)
    vevent.add("dtstart", start)
    vevent.add("dtend", end)
    vevent.add("summary", _text(event.title))
    vevent.add("description", _description(event))
    vevent.add("location", _text(room_name))
    vevent.add("url", event.join_url)
    cancelled = event.state is OccurrenceState.CANCELLED
    requested = event.state is OccurrenceState.REQUESTED  # not confirmed by the library yet
    vevent.add("status", "CANCELLED" if cancelled else "TENTATIVE" if requested else "CONFIRMED")
    # A cancelled seminar must not show the subscriber as busy.
    vevent.add("transp", "TRANSPARENT" if cancelled else "OPAQUE")
    return vevent


def _start_end(event: FeedEvent, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """DTSTART/DTEND values: local wall time in ``zone``, or UTC if local time would mislead."""
    # iCalendar has whole seconds; truncate both ends the same way so the duration is kept.
    start_utc, end_utc = _utc_seconds(event.start_utc), _utc_seconds(event.end_utc)
    start, end = start_utc.astimezone(zone), end_utc.astimezone(zone)
    if _reads_back(start, start_utc) and _reads_back(end, end_utc):
        return start, end
    return start_utc, end_utc


def _reads_back(local: datetime, instant: datetime) -> bool:
    # A reader resolves an ambiguous TZID time to its first instant (fold=0, RFC 5545 §3.3.5).
    return local.replace(fold=0).astimezone(UTC) == instant


def _description(event: FeedEvent) -> str:
    lines: list[str] = []
    note = STATUS_NOTES.get(event.state)
    if note:
        lines += [f"Hinweis: {note}", ""]
    if event.description:
        lines += [_text(event.description), ""]
    if event.host:
        lines.append(f"{HOST_LABEL}: {_text(event.host)}")
    lines.append(f"{JOIN_LABEL}: {event.join_url}")
    return "\n".join(lines)


def _calendar_timezone(events: Sequence[FeedEvent]) -> str:
    """X-WR-TIMEZONE: the most used timezone (ties by name), the default for an empty feed."""
    if not events:
        return DEFAULT_TIMEZONE
    counts = Counter(event.timezone for event in events)
    return min(counts, key=lambda tz: (-counts[tz], tz))


def _add_timezones(
    calendar: Calendar, ordered: Sequence[FeedEvent], calendar_tz: str, now_utc: datetime
) -> None:
    """Insert a VTIMEZONE for each TZID in use and for X-WR-TIMEZONE, in a stable order.

    ``Calendar.add_missing_timezones`` does nearly the same but iterates a set (so the order of
    several VTIMEZONEs, and thus the bytes, would vary between processes), skips unknown zones
    silently and by default spans 1970–2038. The calendar's own zone is always included: RFC 5545
    requires at least one component, which keeps a room without seminars a valid calendar, and
    clients that honour X-WR-TIMEZONE then have its definition at hand.
    """
    tzids = sorted(calendar.get_missing_tzids() | {calendar_tz})
    if ordered:
        years = [
            instant.astimezone(load_timezone(e.timezone)).year
            for e in ordered
            for instant in (e.start_utc, e.end_utc)
        ]
    else:
        years = [now_utc.astimezone(load_timezone(calendar_tz)).year]
    # Year-aligned so the VTIMEZONE changes rarely and holds whole years of transitions; the year
    # after the last event is kept as a margin for readers that look ahead.
    first, last = date(min(years), 1, 1), date(max(years) + 2, 1, 1)
    timezones = [vtimezone(tzid, first, last) for tzid in tzids]
    # RFC 5545 allows any order, but some readers resolve TZIDs in one pass: VTIMEZONEs go first.
    calendar.subcomponents[0:0] = timezones


def _utc_seconds(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(microsecond=0)


def _text(value: str) -> str:
    normalized = value.replace("\r\n", "\n").replace("\r", "\n")
    return _FORBIDDEN_CONTROL.sub("", normalized)


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value!r}")
