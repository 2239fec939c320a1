"""Seminars: one-off or recurring bookings of a room, with their occurrences."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from knoten.accounts.errors import ProviderNotFound
from knoten.accounts.principal import principal_of
from knoten.api.booking_requests import (
    is_requested,
    needs_confirmation,
    refuse_change_of_request,
)
from knoten.api.occurrences import OccurrenceOut, local_iso
from knoten.http.errors import ApiError
from knoten.http.formats import TIMEZONE_DESCRIPTION, DateTimeText, TimezoneName
from knoten.http.openapi import Operation
from knoten.http.requests import json_response, path_int, read_model, read_query
from knoten.keys import ACCESS, JOIN_LINKS, PARTNERS, PROVIDERS, SCHEDULE, SERIES_LINKS
from schedules.domain import (
    DEFAULT_LEAD_IN_MINUTES,
    DEFAULT_LEAD_OUT_MINUTES,
    MAX_LEAD_IN_MINUTES,
    MAX_LEAD_OUT_MINUTES,
)
from schedules.service import SeminarDetail, SeminarDraft
from schedules.store import SeminarRow

TIME_HELP = "RFC 3339; without an offset it is wall time in the seminar's time zone"
PROVIDER_HELP = "the owning provider (default: the library's; a host's own, always)"


class SeminarIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    host: str = Field(default="", max_length=200)
    room_id: int = Field(ge=1)
    start: datetime = Field(description=TIME_HELP)
    end: datetime = Field(description=TIME_HELP)
    timezone: str | None = Field(
        default=None, max_length=64, description="IANA name; default: the room's"
    )
    recurrence: str | None = Field(
        default=None, max_length=500, description="RFC 5545 RRULE, e.g. FREQ=WEEKLY;COUNT=10"
    )
    exdates: list[datetime] = Field(default_factory=list, max_length=500)
    record: bool = True
    partner_ids: list[int] = Field(default_factory=list, max_length=50)
    lead_in_minutes: int = Field(default=DEFAULT_LEAD_IN_MINUTES, ge=0, le=MAX_LEAD_IN_MINUTES)
    lead_out_minutes: int = Field(default=DEFAULT_LEAD_OUT_MINUTES, ge=0, le=MAX_LEAD_OUT_MINUTES)
    provider_id: int | None = Field(default=None, ge=1, description=PROVIDER_HELP)

    def draft(self) -> SeminarDraft:
        return SeminarDraft(
            title=self.title,
            room_id=self.room_id,
            start=self.start,
            end=self.end,
            description=self.description,
            host=self.host,
            timezone=self.timezone,
            rrule=self.recurrence,
            exdates=tuple(self.exdates),
            record=self.record,
            partner_ids=tuple(self.partner_ids),
            lead_in_minutes=self.lead_in_minutes,
            lead_out_minutes=self.lead_out_minutes,
        )


class SeminarPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    host: str | None = Field(default=None, max_length=200)
    room_id: int | None = Field(default=None, ge=1)
    start: datetime | None = None
    end: datetime | None = None
    timezone: str | None = Field(default=None, max_length=64, description=TIMEZONE_DESCRIPTION)
    recurrence: str | None = Field(default=None, max_length=500)
    exdates: list[datetime] | None = Field(default=None, max_length=500)
    record: bool | None = None
    partner_ids: list[int] | None = Field(default=None, max_length=50)
    lead_in_minutes: int | None = Field(default=None, ge=0, le=MAX_LEAD_IN_MINUTES)
    lead_out_minutes: int | None = Field(default=None, ge=0, le=MAX_LEAD_OUT_MINUTES)
    provider_id: int | None = Field(default=None, ge=1, description=PROVIDER_HELP)

    def changes(self) -> dict[str, Any]:
        given = self.model_dump(exclude_unset=True)
        changes: dict[str, Any] = {}
        for key, value in given.items():
            if (value is None and key != "recurrence") or key == "provider_id":
                continue  # null means "leave as is", except for removing a recurrence
            if key == "recurrence":
                changes["rrule"] = value
            elif key in ("exdates", "partner_ids"):
                changes[key] = tuple(value)
            else:
                changes[key] = value
        return changes


class SeminarOut(BaseModel):
    id: int
    title: str
    description: str
    host: str
    room_id: int
    timezone: TimezoneName
    start: DateTimeText = Field(description="first occurrence's start, RFC 3339 with offset")
    end: DateTimeText
    recurrence: str | None
    exdates: list[DateTimeText]
    record: bool
    partner_ids: list[int]
    lead_in_minutes: int
    lead_out_minutes: int
    sequence: int
    occurrence_count: int
    occurrences: list[OccurrenceOut] | None = None
    provider_id: int | None = Field(default=None, description="the provider that owns it")
    requested: bool = Field(
        default=False, description="a host's request waiting for the library (dates 'requested')"
    )
    series_join_url: str | None = Field(
        default=None, description="one participant link for all dates: opens the current or next"
    )

    @classmethod
    def of(cls, row: SeminarRow, count: int, occurrences: list[OccurrenceOut] | None = None):
        zone = ZoneInfo(row.timezone)
        return cls(
            id=row.id,
            title=row.title,
            description=row.description,
            host=row.host,
            room_id=row.room_id,
            timezone=row.timezone,
            start=local_iso(row.start_local.replace(tzinfo=zone)),
            end=local_iso(row.end_local.replace(tzinfo=zone)),
            recurrence=row.rrule,
            exdates=[local_iso(d.replace(tzinfo=zone)) for d in row.exdates],
            record=row.record,
            partner_ids=list(row.partner_ids),
            lead_in_minutes=row.lead_in_minutes,
            lead_out_minutes=row.lead_out_minutes,
            sequence=row.sequence,
            occurrence_count=count,
            occurrences=occurrences,
        )


class SeminarQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    room_id: int | None = Field(default=None, ge=1)


async def seminar_out(request: web.Request, detail: SeminarDetail) -> SeminarOut:
    links = request.app[JOIN_LINKS]
    occurrences = [OccurrenceOut.of(o, links.url(o)) for o in detail.occurrences]
    out = SeminarOut.of(detail.seminar, len(occurrences), occurrences)
    out.provider_id = await request.app[PROVIDERS].owner_of(detail.seminar.id)
    out.series_join_url = request.app[SERIES_LINKS].url(detail.seminar.id)
    out.requested = is_requested(detail)
    return out


async def _owner(request: web.Request, requested: int | None) -> int | None:
    """The provider a booking may be given: a host's own (another is refused), or the one
    staff name (checked), or None for staff who name none (the library's own)."""
    principal = principal_of(request)
    if not principal.is_staff:
        if requested is not None and requested != principal.provider_id:
            raise ApiError(403, "forbidden", "a host books for its own provider only",
                           field="provider_id")  # fmt: skip
        return principal.provider_id
    if requested is not None:
        try:
            await request.app[PROVIDERS].get(requested)
        except ProviderNotFound as exc:
            raise ApiError(422, "unknown_provider", f"no provider with id {requested}",
                           field="provider_id") from exc  # fmt: skip
    return requested


async def _check_partners(request: web.Request, partner_ids: list[int] | None) -> None:
    """422 on ``partner_ids`` unless every id names a partner.

    Checked here, not in schedules: that package does not know partners (dependency rule).
    """
    unknown = await request.app[PARTNERS].unknown_ids(partner_ids or ())
    if unknown:
        ids = ", ".join(map(str, unknown))
        raise ApiError(422, "unknown_partner", f"no partner with id {ids}", field="partner_ids")


async def create_seminar(request: web.Request) -> web.Response:
    body = await read_model(request, SeminarIn)
    await _check_partners(request, body.partner_ids)
    owner = await _owner(request, body.provider_id)
    requested = await needs_confirmation(request, owner, body.recurrence)
    detail = await request.app[SCHEDULE].create_seminar(body.draft(), requested=requested)
    if owner is not None:
        await request.app[PROVIDERS].set_owner(detail.seminar.id, owner)
    response = json_response(await seminar_out(request, detail), status=201)
    response.headers["Location"] = f"/api/v1/seminars/{detail.seminar.id}"
    return response


async def list_seminars(request: web.Request) -> web.Response:
    query = read_query(request.query, SeminarQuery)
    rows = await request.app[SCHEDULE].seminars(query.room_id)
    owners = await request.app[PROVIDERS].owners()
    visible = await request.app[ACCESS].visible_seminars(principal_of(request))
    return json_response(
        [
            SeminarOut.of(row, count).model_copy(update={"provider_id": owners.get(row.id)})
            for row, count in rows
            if visible is None or row.id in visible
        ]
    )


async def get_seminar(request: web.Request) -> web.Response:
    detail = await request.app[SCHEDULE].seminar(path_int(request, "seminar_id"))
    return json_response(await seminar_out(request, detail))


async def update_seminar(request: web.Request) -> web.Response:
    seminar_id = path_int(request, "seminar_id")
    body = await read_model(request, SeminarPatch)
    await _check_partners(request, body.partner_ids)
    owner = await _owner(request, body.provider_id)
    await refuse_change_of_request(request, seminar_id)
    detail = await request.app[SCHEDULE].update_seminar(seminar_id, body.changes())
    if owner is not None and body.provider_id is not None:
        await request.app[PROVIDERS].set_owner(seminar_id, owner)
    return json_response(await seminar_out(request, detail))


async def delete_seminar(request: web.Request) -> web.Response:
    await request.app[SCHEDULE].delete_seminar(path_int(request, "seminar_id"))
    return web.Response(status=204)


OPERATIONS = (
    Operation("GET", "/api/v1/seminars", list_seminars, "List seminars", "seminars",
              response=SeminarOut, response_is_list=True, query=SeminarQuery, errors=(422,)),
    Operation("POST", "/api/v1/seminars", create_seminar,
              "Book a seminar (one-off or recurring); refused with 409 on a room conflict",
              "seminars", request=SeminarIn, response=SeminarOut, status=201, errors=(409,)),
    Operation("GET", "/api/v1/seminars/{seminar_id}", get_seminar,
              "A seminar with its occurrences", "seminars", response=SeminarOut, errors=(404,)),
    Operation("PATCH", "/api/v1/seminars/{seminar_id}", update_seminar,
              "Change a seminar; future occurrences follow (conflict-checked)", "seminars",
              request=SeminarPatch, response=SeminarOut, errors=(404, 409)),
    Operation("DELETE", "/api/v1/seminars/{seminar_id}", delete_seminar,
              "Delete a seminar and its occurrences", "seminars", status=204, errors=(404,)),
)  # fmt: skip
