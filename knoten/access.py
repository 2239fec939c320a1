"""Who may call which API route: one table, checked once where the request enters.

Staff (and the configured admin token) may do everything. Every other role is refused (403)
unless the route's rule names it; when the rule names a path parameter, the object behind it
must belong to the principal — a host's provider owns the seminar (of the occurrence, of the
recording), a partner is invited to the date — or the answer is 404, as if it did not exist
(a host must not learn which ids other providers use). Lists are filtered by their handlers
through :func:`visible_seminars` / :func:`occurrence_filter`; a room conflict shows a host
only the times of other providers' bookings (:func:`conflict_for`). A route missing from the
table is staff-only; a test walks the OpenAPI route list against it for each role.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from knoten.accounts.principal import PRINCIPAL, Principal, Role
from knoten.accounts.providers import ProviderStore
from knoten.http.errors import ApiError
from recordings.catalog import Catalog
from recordings.errors import RecordingNotFound
from schedules.errors import OccurrenceNotFound, SeminarConflict
from schedules.service import ScheduleService
from schedules.store import OccurrenceRow

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

HOST = frozenset({Role.HOST})
HOST_PARTNER = frozenset({Role.HOST, Role.PARTNER})
EVERYONE = HOST_PARTNER


@dataclass(frozen=True)
class Rule:
    roles: frozenset[Role] = frozenset()  # besides staff
    target: str | None = None  # a path parameter whose object must be the principal's


STAFF_ONLY = Rule()
_OCC = Rule(HOST, "occurrence_id")

#: (method, route) → rule. Lists marked with roles filter their items in the handler.
RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/api/v1/rooms"): Rule(HOST),
    ("GET", "/api/v1/rooms/{room_id}"): Rule(HOST),
    ("GET", "/api/v1/seminars"): Rule(HOST),
    ("POST", "/api/v1/seminars"): Rule(HOST),
    ("GET", "/api/v1/seminars/{seminar_id}"): Rule(HOST, "seminar_id"),
    ("PATCH", "/api/v1/seminars/{seminar_id}"): Rule(HOST, "seminar_id"),
    ("DELETE", "/api/v1/seminars/{seminar_id}"): Rule(HOST, "seminar_id"),
    ("GET", "/api/v1/occurrences"): Rule(HOST_PARTNER),
    ("GET", "/api/v1/occurrences/{occurrence_id}"): Rule(HOST_PARTNER, "occurrence_id"),
    ("PATCH", "/api/v1/occurrences/{occurrence_id}"): _OCC,
    ("POST", "/api/v1/occurrences/{occurrence_id}/start"): _OCC,
    ("POST", "/api/v1/occurrences/{occurrence_id}/stop"): _OCC,
    ("POST", "/api/v1/occurrences/{occurrence_id}/resume"): _OCC,
    ("POST", "/api/v1/occurrences/{occurrence_id}/extend"): _OCC,
    ("GET", "/api/v1/occurrences/{occurrence_id}/viewers"): _OCC,
    ("GET", "/api/v1/occurrences/{occurrence_id}/messages"): _OCC,
    ("GET", "/api/v1/occurrences/{occurrence_id}/messages/export"): _OCC,
    ("PATCH", "/api/v1/occurrences/{occurrence_id}/messages/{message_id}"): _OCC,
    ("GET", "/api/v1/occurrences/{occurrence_id}/chat"): _OCC,
    ("PATCH", "/api/v1/occurrences/{occurrence_id}/chat"): _OCC,
    ("GET", "/api/v1/occurrences/{occurrence_id}/participants"): _OCC,
    ("PATCH", "/api/v1/occurrences/{occurrence_id}/participants/{participant_id}"): _OCC,
    ("POST", "/api/v1/occurrences/{occurrence_id}/participants/{participant_id}/stage"): _OCC,
    ("DELETE", "/api/v1/occurrences/{occurrence_id}/participants/{participant_id}/stage"): _OCC,
    ("POST", "/api/v1/occurrences/{occurrence_id}/participants/{participant_id}/remove"): _OCC,
    # Hosts pick the partners of their seminars (stream keys are masked in every answer).
    ("GET", "/api/v1/partners"): Rule(HOST),
    ("GET", "/api/v1/recordings"): Rule(HOST),
    ("GET", "/api/v1/recordings/{recording_id}"): Rule(HOST, "recording_id"),
    ("PATCH", "/api/v1/recordings/{recording_id}"): Rule(HOST, "recording_id"),
    ("DELETE", "/api/v1/recordings/{recording_id}"): Rule(HOST, "recording_id"),
    ("GET", "/api/v1/recordings/{recording_id}/media"): Rule(HOST, "recording_id"),
    ("GET", "/api/v1/recordings/{recording_id}/poster"): Rule(HOST, "recording_id"),
    ("GET", "/api/v1/recordings/{recording_id}/thumbnails"): Rule(HOST, "recording_id"),
    ("POST", "/api/v1/recordings/{recording_id}/share"): Rule(HOST, "recording_id"),
    ("GET", "/api/v1/providers"): Rule(HOST),
    ("GET", "/api/v1/providers/{provider_id}"): Rule(HOST, "provider_id"),
    ("GET", "/api/v1/me"): Rule(EVERYONE),
    ("GET", "/api/v1/me/tokens"): Rule(EVERYONE),
    ("POST", "/api/v1/me/tokens"): Rule(EVERYONE),
    ("DELETE", "/api/v1/me/tokens/{token_id}"): Rule(EVERYONE),
}


class AccessGuard:
    """Answers "is this object the principal's?" from the schedule, the archive and the
    providers' seminar ownership."""

    def __init__(
        self, schedule: ScheduleService, providers: ProviderStore, catalog: Catalog
    ) -> None:
        self._schedule = schedule
        self._providers = providers
        self._catalog = catalog

    async def seminar(self, principal: Principal, seminar_id: int) -> bool:
        if principal.is_staff:
            return True
        if principal.role is not Role.HOST or principal.provider_id is None:
            return False
        return await self._providers.owner_of(seminar_id) == principal.provider_id

    async def occurrence(self, principal: Principal, occurrence_id: int) -> bool:
        if principal.is_staff:
            return True
        try:
            row = await self._schedule.occurrence(occurrence_id)
        except OccurrenceNotFound:
            return False
        if principal.role is Role.PARTNER:
            return principal.partner_id is not None and principal.partner_id in row.partner_ids
        return await self.seminar(principal, row.seminar_id)

    async def recording(self, principal: Principal, recording_id: int) -> bool:
        if principal.is_staff:
            return True
        try:
            recording = await self._catalog.get(recording_id)
        except RecordingNotFound:
            return False
        return await self.seminar(principal, recording.seminar_id)

    async def provider(self, principal: Principal, provider_id: int) -> bool:
        return principal.is_staff or principal.provider_id == provider_id

    async def visible_seminars(self, principal: Principal) -> set[int] | None:
        """The seminar ids the principal may see; None: all of them."""
        if principal.is_staff:
            return None
        if principal.role is not Role.HOST or principal.provider_id is None:
            return set()
        return await self._providers.seminar_ids(principal.provider_id)

    async def occurrence_filter(self, principal: Principal) -> Callable[[OccurrenceRow], bool]:
        if principal.is_staff:
            return lambda row: True
        if principal.role is Role.PARTNER:
            partner = principal.partner_id
            return lambda row: partner is not None and partner in row.partner_ids
        seminars = await self.visible_seminars(principal) or set()
        return lambda row: row.seminar_id in seminars

    async def owns(self, principal: Principal, target: str, raw: str) -> bool:
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 11:
            return False
        check = {
            "seminar_id": self.seminar,
            "occurrence_id": self.occurrence,
            "recording_id": self.recording,
            "provider_id": self.provider,
        }[target]
        return await check(principal, int(raw))


def rule_for(method: str, route: str) -> Rule:
    return RULES.get(("GET" if method == "HEAD" else method, route), STAFF_ONLY)


def access_middleware(
    guard: Callable[[], AccessGuard],
) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """Runs after the auth middleware: refuses what the principal's role may not do."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        principal = request.get(PRINCIPAL)
        if principal is None or principal.is_staff:
            return await handler(request)
        resource = request.match_info.route.resource
        if resource is None:
            return await handler(request)  # unmatched: 404/405 from the router
        rule = rule_for(request.method, resource.canonical)
        if principal.role not in rule.roles:
            raise ApiError(
                403,
                "forbidden",
                "Das dürfen nur Mitarbeitende der Bibliothek (Rolle staff).",
            )
        if rule.target is not None and not await guard().owns(
            principal, rule.target, request.match_info.get(rule.target, "")
        ):
            raise ApiError(404, "not_found", "not found")
        try:
            return await handler(request)
        except SeminarConflict as exc:  # booking, moving or extending into someone's time
            raise await conflict_for(principal, guard(), exc) from None

    return middleware


async def may_run_occurrence(guard: AccessGuard, principal: Principal, occurrence_id: int) -> None:
    """For the live panel's pages and sockets: 404 unless the principal runs the date."""
    if principal.role is Role.PARTNER or not await guard.occurrence(principal, occurrence_id):
        raise web.HTTPNotFound()


#: What a host learns of another provider's booking in its way: only that the room is taken.
OTHERS_BOOKING = "Belegt"


async def conflict_for(principal: Principal, guard: AccessGuard, exc: SeminarConflict) -> Exception:
    """The room conflict as ``principal`` may see it: staff see everything; a host
    sees the times of other providers' bookings but neither their titles nor their ids."""
    if principal.is_staff:
        return exc
    visible = await guard.visible_seminars(principal) or set()
    details = []
    for item in exc.details():
        existing = dict(item["existing"])
        if existing.get("seminar_id") not in visible:
            existing.update(id=None, seminar_id=None, title=OTHERS_BOOKING, recurrence_id=None)
        details.append({**item, "existing": existing})
    first = details[0]["existing"]
    return ApiError(
        409,
        "seminar_conflict",
        f"the room is booked from {first['blocked_start']} to {first['blocked_end']} "
        "(lead-in and lead-out included)",
        details=details,
    )
