"""A partner's own dates: the page ``/dashboard/my-dates`` and the calendar feed
``/calendar/partners/{id}.ics?token=…`` (see :mod:`knoten.partner_access`)."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from aiohttp import web

from knoten.api.calendar import feed_event
from knoten.keys import CONFIG, JOIN_LINKS, PARTNER_ACCESS, PARTNERS, ROOMS, SCHEDULE
from knoten.web.dashboard import _page, _session_or_redirect
from schedules.calendar_feed import build_room_calendar
from schedules.errors import RoomNotFound
from schedules.store import OccurrenceRow
from streaming.errors import PartnerNotFound

AHEAD = timedelta(days=366)
PAST = timedelta(days=1)


def _local(instant: datetime, zone: str) -> str:
    return instant.astimezone(ZoneInfo(zone)).strftime("%d.%m.%Y %H:%M")


async def _rows(app: web.Application, partner_id: int) -> list[OccurrenceRow]:
    now = app[PARTNER_ACCESS].now()
    rows = await app[SCHEDULE].occurrences(now - PAST, now + AHEAD, None)
    return [row for row in rows if partner_id in row.partner_ids]


async def my_dates(request: web.Request) -> web.Response:
    session = await _session_or_redirect(request)
    app = request.app
    partner_id = session.principal.partner_id
    partner = None
    dates: list[dict[str, object]] = []
    feed_url = None
    if partner_id is not None:
        try:
            partner = await app[PARTNERS].get(partner_id)
        except PartnerNotFound:
            partner = None
    if partner is not None and partner_id is not None:
        access = app[PARTNER_ACCESS]
        feed_url = access.feed_url(partner_id)
        for row in await _rows(app, partner_id):
            opens, closes = access.window(row)
            dates.append(
                {
                    "id": row.id,
                    "title": row.title,
                    "start": _local(row.start_utc, row.timezone),
                    "end": _local(row.end_utc, row.timezone)[-5:],
                    "state": row.state.value,
                    "opens": _local(opens, row.timezone),
                    "closes": _local(closes, row.timezone),
                    "pull_url": access.pull_url(partner_id, row) if partner.kind == "hls" else None,
                }
            )
    return await _page(request, "dashboard/my_dates.html", None, section="my-dates",
                       partner=partner, dates=dates, feed_url=feed_url)  # fmt: skip


async def partner_calendar(request: web.Request) -> web.Response:
    raw = request.match_info["partner_id"]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 11:
        raise web.HTTPNotFound(text="no such calendar")
    partner_id = int(raw)
    app = request.app
    access = app[PARTNER_ACCESS]
    if not access.admits_feed(request.query.get("token"), partner_id):
        raise web.HTTPNotFound(text="no such calendar")  # never says whether the partner exists
    try:
        partner = await app[PARTNERS].get(partner_id)
    except PartnerNotFound:
        raise web.HTTPNotFound(text="no such calendar") from None
    rows = await _rows(app, partner_id)
    room_name = "Knoten"
    if rows:
        with contextlib.suppress(RoomNotFound):
            room_name = (await app[ROOMS].get(rows[0].room_id)).name
    # The pull address of each date for an HLS partner; the join page otherwise.
    events = [
        feed_event(
            row,
            access.pull_url(partner_id, row)
            if partner.kind == "hls"
            else app[JOIN_LINKS].page(row.id),
        )
        for row in rows
    ]
    body = build_room_calendar(
        room_id=rows[0].room_id if rows else 0,
        room_name=room_name,
        calendar_name=f"Knoten – {partner.name}",
        events=events,
        host_domain=urlsplit(app[CONFIG].public_url).hostname or "knoten.local",
        now_utc=access.now(),
    )
    return web.Response(
        body=body,
        content_type="text/calendar",
        charset="utf-8",
        # Private: the feed carries the partner's pull addresses.
        headers={"Cache-Control": "private, max-age=300", "Referrer-Policy": "no-referrer"},
    )


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/dashboard/my-dates", my_dates)
    router.add_get("/calendar/partners/{partner_id}.ics", partner_calendar)
