"""``/dashboard/audit``: the audit log for staff, newest first, filtered by the form's fields
(the same filters as ``GET /api/v1/audit``; see :mod:`knoten.audit`)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiohttp import web

from knoten.audit import AuditFilter
from knoten.keys import AUDIT_LOG
from knoten.web.dashboard import _page

SHOWN = 300
#: The library's own zone: the log is read there.
ZONE = ZoneInfo("Europe/Berlin")


def _field(request: web.Request, name: str, limit: int) -> str | None:
    value = request.query.get(name, "").strip()[:limit]
    return value or None


async def audit_page(request: web.Request) -> web.Response:
    filters = {
        "username": _field(request, "username", 64),
        "action": _field(request, "action", 32),
        "object_type": _field(request, "object_type", 32),
    }
    entries = await request.app[AUDIT_LOG].entries(AuditFilter(limit=SHOWN, **filters))
    rows = [
        {**entry.__dict__, "when": entry.at.astimezone(ZONE).strftime("%d.%m.%Y %H:%M:%S")}
        for entry in entries
    ]
    return await _page(request, "dashboard/audit.html", None, staff_only=True,
                       section="audit", entries=rows, filters=filters)  # fmt: skip


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/dashboard/audit", audit_page)
