"""Occurrences: the single dates of seminars, listed, moved, cancelled and controlled by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from knoten.accounts.principal import principal_of
from knoten.http.errors import ApiError
from knoten.http.formats import DateTimeText, TimezoneName
from knoten.http.openapi import Operation
from knoten.http.requests import json_response, path_int, read_model, read_query
from knoten.keys import (
    ACCESS,
    CONFIG,
    JOIN_LINKS,
    LEASES,
    PUBLIC_HLS,
    SCHEDULE,
    SEMINAR_CONTROLLER,
)
from schedules.store import OccurrenceRow
from streaming.live.status import LiveStatus, OutputStatus, SourceStatus


def local_iso(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


class NodeOut(BaseModel):
    """The Knoten node that runs a date (several nodes on one database)."""

    id: str = Field(description="cluster.node_id of that node")
    url: str = Field(description="where that node is reached (cluster.node_url)")
    this_node: bool = Field(description="whether the node answering runs it")


class OccurrenceOut(BaseModel):
    id: int
    seminar_id: int
    room_id: int
    title: str
    recurrence_id: str = Field(description="nominal local start; stable when moved")
    start: DateTimeText = Field(description="RFC 3339 with the offset of the seminar's time zone")
    end: DateTimeText
    timezone: TimezoneName
    state: Literal["requested", "scheduled", "live", "ended", "cancelled", "missed", "failed"]
    state_reason: str | None
    moved: bool
    lead_in_minutes: int
    lead_out_minutes: int
    actual_start: DateTimeText | None
    actual_end: DateTimeText | None
    record: bool
    sequence: int
    join_url: str
    public_hls_url: str | None = Field(
        default=None,
        description="the date's public HLS playlist for an HTTP cache or CDN in front (the "
        "same signed address for every viewer; media.public_hls on); in single-date answers",
    )
    early_start_from: DateTimeText | None = Field(
        default=None,
        description="from this instant on 'start' works without moving the date (one date "
        "read alone; earlier, start it with move_to_now)",
    )
    source: SourceStatus | None = Field(
        default=None, description="the room camera while the occurrence runs"
    )
    outputs: list[OutputStatus] | None = Field(
        default=None, description="partner destinations while the occurrence runs"
    )
    node: NodeOut | None = Field(
        default=None,
        description="the node that runs the date now; null while none does. source and "
        "outputs come from the node answering: ask the node named here (single-date answers)",
    )

    @classmethod
    def of(cls, row: OccurrenceRow, join_url: str, live: LiveStatus | None = None) -> OccurrenceOut:
        zone = ZoneInfo(row.timezone)

        def local(value: datetime | None) -> str | None:
            return None if value is None else local_iso(value.astimezone(zone))

        return cls(
            id=row.id,
            seminar_id=row.seminar_id,
            room_id=row.room_id,
            title=row.title,
            recurrence_id=row.recurrence_id,
            start=local_iso(row.start_utc.astimezone(zone)),
            end=local_iso(row.end_utc.astimezone(zone)),
            timezone=row.timezone,
            state=row.state.value,
            state_reason=row.state_reason,
            moved=row.moved,
            lead_in_minutes=row.lead_in_minutes,
            lead_out_minutes=row.lead_out_minutes,
            actual_start=local(row.actual_start_utc),
            actual_end=local(row.actual_end_utc),
            record=row.record,
            sequence=row.sequence,
            join_url=join_url,
            source=live.source if live else None,
            outputs=list(live.outputs) if live else None,
        )


class OccurrenceQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: datetime | None = Field(default=None, alias="from", description="default: now − 1 day")
    to: datetime | None = Field(default=None, description="default: from + 31 days")
    room_id: int | None = Field(default=None, ge=1)

    def window(self) -> tuple[datetime, datetime]:
        start = self.from_ or datetime.now(UTC) - timedelta(days=1)
        start = start if start.tzinfo else start.replace(tzinfo=UTC)
        end = self.to or start + timedelta(days=31)
        end = end if end.tzinfo else end.replace(tzinfo=UTC)
        return start, end


class OccurrencePatch(BaseModel):
    """Move (start and end) or cancel/restore (state) this one occurrence."""

    model_config = ConfigDict(extra="forbid")

    start: datetime | None = None
    end: datetime | None = None
    state: Literal["cancelled", "scheduled"] | None = Field(
        default=None, description="'cancelled' cancels this date; 'scheduled' restores it"
    )

    @model_validator(mode="after")
    def _one_change(self) -> OccurrencePatch:
        moving = self.start is not None or self.end is not None
        if moving and (self.start is None or self.end is None):
            raise ValueError("moving an occurrence needs both start and end")
        if moving and self.state is not None:
            raise ValueError("move and change state in separate requests")
        if not moving and self.state is None:
            raise ValueError("give start and end to move, or state to cancel/restore")
        return self


class StartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    move_to_now: bool = Field(
        default=False,
        description="move the date to begin now (its length kept), then start it: the way to "
        "start a date that is more than the configured minutes before its lead-in",
    )


class ExtendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    minutes: int = Field(ge=1, le=240)


def occurrence_view(app: web.Application, row: OccurrenceRow) -> OccurrenceOut:
    """The occurrence as the API shows it: with its join link and, while it runs, the live
    source and partner outputs."""
    out = OccurrenceOut.of(row, app[JOIN_LINKS].url(row), app[SEMINAR_CONTROLLER].status(row.id))
    earliest = app[SCHEDULE].earliest_manual_start(row) if row.state == "scheduled" else None
    if app[CONFIG].media.public_hls:
        out.public_hls_url = app[PUBLIC_HLS].url(row)
    if earliest is not None:
        out.early_start_from = local_iso(earliest.astimezone(ZoneInfo(row.timezone)))
    return out


async def _out(request: web.Request, row: OccurrenceRow) -> web.Response:
    out = occurrence_view(request.app, row)
    lease = await request.app[LEASES].holder(row.id)
    if lease is not None:
        this_node = lease.node_id == request.app[LEASES].node_id
        out.node = NodeOut(id=lease.node_id, url=lease.node_url, this_node=this_node)
    return json_response(out)


async def list_occurrences(request: web.Request) -> web.Response:
    query = read_query(request.query, OccurrenceQuery)
    start, end = query.window()
    rows = await request.app[SCHEDULE].occurrences(start, end, query.room_id)
    links = request.app[JOIN_LINKS]
    visible = await request.app[ACCESS].occurrence_filter(principal_of(request))
    return json_response([OccurrenceOut.of(row, links.url(row)) for row in rows if visible(row)])


async def get_occurrence(request: web.Request) -> web.Response:
    row = await request.app[SCHEDULE].occurrence(path_int(request, "occurrence_id"))
    return await _out(request, row)


async def patch_occurrence(request: web.Request) -> web.Response:
    occurrence_id = path_int(request, "occurrence_id")
    body = await read_model(request, OccurrencePatch)
    schedule = request.app[SCHEDULE]
    if body.start is not None and body.end is not None:
        row = await schedule.move_occurrence(occurrence_id, body.start, body.end)
    elif body.state == "cancelled":
        row = await schedule.cancel_occurrence(occurrence_id)
    elif body.state == "scheduled":
        row = await schedule.restore_occurrence(occurrence_id)
    else:  # pragma: no cover - the model validator rules this out
        raise ApiError(422, "validation_error", "nothing to change")
    return await _out(request, row)


async def start_occurrence(request: web.Request) -> web.Response:
    occurrence_id = path_int(request, "occurrence_id")
    # The body is optional: a bare POST starts the date as it is.
    body = await read_model(request, StartIn) if request.body_exists else StartIn()
    row = await request.app[SCHEDULE].start_now(occurrence_id, move_to_now=body.move_to_now)
    return await _out(request, row)


async def resume_occurrence(request: web.Request) -> web.Response:
    row = await request.app[SCHEDULE].resume(path_int(request, "occurrence_id"))
    return await _out(request, row)


async def stop_occurrence(request: web.Request) -> web.Response:
    row = await request.app[SCHEDULE].stop_now(path_int(request, "occurrence_id"))
    return await _out(request, row)


async def extend_occurrence(request: web.Request) -> web.Response:
    occurrence_id = path_int(request, "occurrence_id")
    body = await read_model(request, ExtendIn)
    row = await request.app[SCHEDULE].extend_occurrence(occurrence_id, body.minutes)
    return await _out(request, row)


OPERATIONS = (
    Operation("GET", "/api/v1/occurrences", list_occurrences,
              "Occurrences overlapping a window, sorted by start", "occurrences",
              response=OccurrenceOut, response_is_list=True, query=OccurrenceQuery,
              errors=(422,)),
    Operation("GET", "/api/v1/occurrences/{occurrence_id}", get_occurrence, "One occurrence",
              "occurrences", response=OccurrenceOut, errors=(404,)),
    Operation("PATCH", "/api/v1/occurrences/{occurrence_id}", patch_occurrence,
              "Move or cancel just this occurrence", "occurrences",
              request=OccurrencePatch, response=OccurrenceOut, errors=(404, 409)),
    Operation("POST", "/api/v1/occurrences/{occurrence_id}/start", start_occurrence,
              "Start now (early start; 409 start_too_early more than the configured minutes "
              "before the lead-in, unless move_to_now)", "occurrences", request=StartIn,
              request_required=False, response=OccurrenceOut, errors=(404, 409, 422)),
    Operation("POST", "/api/v1/occurrences/{occurrence_id}/stop", stop_occurrence,
              "Stop now (early end)", "occurrences", response=OccurrenceOut, errors=(404, 409)),
    Operation("POST", "/api/v1/occurrences/{occurrence_id}/resume", resume_occurrence,
              "Undo a stop: a date stopped by staff goes live again while its time lasts",
              "occurrences", response=OccurrenceOut, errors=(404, 409)),
    Operation("POST", "/api/v1/occurrences/{occurrence_id}/extend", extend_occurrence,
              "Extend by some minutes (conflict-checked)", "occurrences",
              request=ExtendIn, response=OccurrenceOut, errors=(404, 409)),
)  # fmt: skip
