"""Public iCalendar feeds: one per room, for the library's website and partners' calendars.

The feed holds titles, times, descriptions and join page URLs, never tokens or stream keys.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from aiohttp import web

from knoten.http.requests import parse_id
from knoten.keys import CONFIG, JOIN_LINKS, ROOMS, SCHEDULE
from schedules.calendar_feed import FeedEvent, build_room_calendar
from schedules.errors import RoomNotFound
from schedules.store import OccurrenceRow

#: The feed covers recent history and the coming year.
PAST = timedelta(days=30)
AHEAD = timedelta(days=366)


def feed_event(row: OccurrenceRow, url: str) -> FeedEvent:
    """The feed's view of an occurrence; ``url`` is the address the event links to."""
    return FeedEvent(
        occurrence_id=row.id,
        seminar_id=row.seminar_id,
        title=row.title,
        description=row.description,
        host=row.host,
        timezone=row.timezone,
        start_utc=row.start_utc,
        end_utc=row.end_utc,
        status=row.state.value,
        sequence=row.sequence,
        recurrence_id=row.recurrence_id,
        is_recurring=row.is_recurring,
        join_url=url,
        updated_utc=row.updated_at,
    )


async def room_calendar(request: web.Request) -> web.Response:
    room_id = parse_id(request.match_info["room_id"])
    if room_id is None:
        raise web.HTTPNotFound(text="no such room")
    try:
        room = await request.app[ROOMS].get(room_id)
    except RoomNotFound:
        raise web.HTTPNotFound(text="no such room") from None
    now = datetime.now(UTC)
    rows = await request.app[SCHEDULE].occurrences(now - PAST, now + AHEAD, room.id)
    public_url = request.app[CONFIG].public_url
    events = [feed_event(row, request.app[JOIN_LINKS].page(row.id)) for row in rows]
    body = build_room_calendar(
        room_id=room.id,
        room_name=room.name,
        events=events,
        host_domain=urlsplit(public_url).hostname or "knoten.local",
        now_utc=now,
    )
    return web.Response(
        body=body,
        content_type="text/calendar",
        charset="utf-8",
        headers={
            "Content-Disposition": f'inline; filename="room-{room.id}.ics"',
            "Cache-Control": "public, max-age=300",
        },
    )


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/calendar/rooms/{room_id:[0-9]+}.ics", room_calendar)
