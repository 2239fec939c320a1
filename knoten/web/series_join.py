"""``/join/series/{seminar_id}``: the one participant link of a course (see
:mod:`knoten.series_links`) redirects to the join link of its current or next date."""

from __future__ import annotations

from aiohttp import web

from knoten.http.requests import page_id
from knoten.keys import JOIN_LINKS, SCHEDULE, SERIES_LINKS
from knoten.series_links import pick
from knoten.web.i18n import TEXTS, choose_language
from schedules.errors import SeminarNotFound


async def series_join(request: web.Request) -> web.Response:
    seminar_id = page_id(request, "seminar_id")
    texts = TEXTS[choose_language(request)]
    if not request.app[SERIES_LINKS].admits(request.query.get("t"), seminar_id):
        raise web.HTTPForbidden(text=texts["series_link_invalid"])
    schedule = request.app[SCHEDULE]
    try:
        detail = await schedule.seminar(seminar_id)
    except SeminarNotFound:
        raise web.HTTPNotFound(text=texts["series_link_gone"]) from None
    row = pick(detail.occurrences, request.app[SERIES_LINKS].now())
    if row is None:
        raise web.HTTPNotFound(text=texts["series_link_gone"])
    # Never cached: the same link opens another date next week.
    raise web.HTTPSeeOther(
        location=request.app[JOIN_LINKS].url(row), headers={"Cache-Control": "no-store"}
    )


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/join/series/{seminar_id:[0-9]+}", series_join)
