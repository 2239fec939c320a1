"""The audit log: who created, changed, started, stopped or deleted what, and when.

Every successful state-changing ``/api/v1`` request (the dashboard's too: it uses the same API)
is written down with the principal, an action word derived from the route (``create``,
``change``, ``delete``, ``start``, ``stop`` …), the object's kind and id, the path and the
status. Bodies are never stored (they can hold passwords, stream keys and tokens). Entries older
than a year are removed once a day. Starts and stops the schedule makes by itself are not API
requests and are not logged here (the service log has them).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiohttp import web
from sqlalchemy import Column, Index, Integer, MetaData, String, Table, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from foundation.periodic import DAY_S, PeriodicJob
from foundation.sqltypes import Id, UtcDateTime
from knoten.accounts.principal import PRINCIPAL

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
KEEP = timedelta(days=365)
API_PREFIX = "/api/v1/"
#: Named last segments of action routes (``POST …/start``) are the action word itself.
_VERBS = {"POST": "create", "PUT": "change", "PATCH": "change", "DELETE": "delete"}

metadata = MetaData()
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True),
    Column("at", UtcDateTime, nullable=False),
    Column("account_id", Id, nullable=True),
    Column("username", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("action", String(32), nullable=False),
    Column("object_type", String(32), nullable=False),
    Column("object_id", Id, nullable=True),
    Column("path", String(300), nullable=False),
    Column("status", Integer, nullable=False),
    Index("ix_audit_log_at", "at"),
)


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    account_id: int | None
    username: str
    role: str
    action: str
    object_type: str
    object_id: int | None
    path: str
    status: int


@dataclass(frozen=True)
class AuditFilter:
    since: datetime | None = None
    until: datetime | None = None
    username: str | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: int | None = None
    limit: int = 200


def describe(
    method: str, route: str, path: str, location: str | None
) -> tuple[str, str, int | None]:
    """(action, object type, object id) of a request to ``route`` (the template) at ``path``:
    ``POST /occurrences/{id}/start`` is ``start`` of ``occurrences`` 7, ``PATCH
    /occurrences/{id}/chat`` is ``change`` of ``occurrences.chat`` 7, ``POST /seminars`` is
    ``create`` of ``seminars`` with the id from the answer's ``Location``."""
    template = route.removeprefix(API_PREFIX).split("/")
    names = [part for part in template if not part.startswith("{")]
    action = _VERBS.get(method, method.lower())
    if method == "POST" and len(template) > 2 and template[-2].startswith("{"):
        action = names.pop()  # an action route: start, stop, extend, resume, share …
    object_id = next(
        (int(part) for part in path.removeprefix(API_PREFIX).split("/") if part.isdigit()), None
    )
    if object_id is None and location:  # a creation: the new object's id is in its Location
        last = location.rstrip("/").rsplit("/", 1)[-1]
        object_id = int(last) if last.isdigit() else None
    return action[:32], ".".join(names)[:32], object_id


class AuditLog:
    def __init__(
        self, engine: Callable[[], AsyncEngine], now: Callable[[], datetime] | None = None
    ) -> None:
        self._engine = engine
        self._now = now or (lambda: datetime.now(UTC))
        self._job = PeriodicJob("audit-log-retention", self.prune, interval_s=DAY_S,
                                first_run_s=60.0)  # fmt: skip

    def start(self) -> None:
        self._job.start()

    async def aclose(self) -> None:
        await self._job.aclose()

    async def record(self, **values: object) -> None:
        async with self._engine().begin() as conn:
            await conn.execute(insert(audit_log).values(at=self._now(), **values))

    async def entries(self, where: AuditFilter) -> list[AuditEntry]:
        c = audit_log.c
        query = select(audit_log).order_by(c.at.desc(), c.id.desc()).limit(where.limit)
        if where.since is not None:
            query = query.where(c.at >= where.since)
        if where.until is not None:
            query = query.where(c.at < where.until)
        for column, value in (
            (c.username, where.username),
            (c.action, where.action),
            (c.object_type, where.object_type),
            (c.object_id, where.object_id),
        ):
            if value is not None:
                query = query.where(column == value)
        async with self._engine().connect() as conn:
            return [AuditEntry(**row._mapping) for row in await conn.execute(query)]

    async def prune(self) -> int:
        async with self._engine().begin() as conn:
            result = await conn.execute(
                delete(audit_log).where(audit_log.c.at < self._now() - KEEP)
            )
        if result.rowcount:
            log.info("audit log: %d entries older than a year removed", result.rowcount)
        return int(result.rowcount or 0)


def audit_middleware(
    audit: Callable[[], AuditLog],
) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """Writes down every successful state-changing API request (inside the auth middleware)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        principal = request.get(PRINCIPAL)
        if (
            principal is None
            or request.method in ("GET", "HEAD", "OPTIONS")
            or response.status >= 400
            or not request.path.startswith(API_PREFIX)
        ):
            return response
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else request.path
        action, object_type, object_id = describe(
            request.method, route, request.path, response.headers.get("Location")
        )
        await audit().record(
            account_id=principal.account_id,
            username=principal.username,
            role=principal.role.value,
            action=action,
            object_type=object_type,
            object_id=object_id,
            path=request.path[:300],
            status=response.status,
        )
        return response

    return middleware
