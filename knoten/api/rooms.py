"""Rooms: the library's seminar rooms and the camera source each one uses."""

from __future__ import annotations

import dataclasses
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from knoten.http.errors import ApiError
from knoten.http.formats import TIMEZONE_DESCRIPTION, TimezoneName
from knoten.http.openapi import Operation
from knoten.http.requests import json_response, path_int, read_model
from knoten.keys import CONFIG, DISPLAY_LINKS, PUSH_INGEST, ROOMS
from schedules.rooms import Room
from streaming.camera_check import check_camera
from streaming.sources import SRT_PUSH, WHIP, public_source, validate_room_source


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA time zone {value!r}") from None
    return value


class RoomIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=120)
    source: str = Field(
        default="testsrc",
        min_length=1,
        max_length=500,
        description="'testsrc', a file inside the data dir, an rtsp/rtsps/rtmp/rtmps/srt URL, "
        "/dev/videoN, or 'srt-push' / 'whip' for a camera that is published to Knoten",
    )
    timezone: str = Field(default="Europe/Berlin", max_length=64, description=TIMEZONE_DESCRIPTION)

    _tz = field_validator("timezone")(_check_timezone)


class RoomPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=120)
    source: str | None = Field(
        default=None, min_length=1, max_length=500, description="as for a new room"
    )
    timezone: str | None = Field(default=None, max_length=64, description=TIMEZONE_DESCRIPTION)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return None if value is None else _check_timezone(value)


class CameraCheckOut(BaseModel):
    status: Literal["ok", "no_picture", "unreachable", "not_checked"]
    address: str | None = Field(description="the address tested, without credentials")
    width: int | None
    height: int | None
    codec: str | None
    message: str | None = Field(description="why it failed (ffprobe's words, secrets masked)")


class RoomOut(BaseModel):
    id: int
    name: str
    source: str = Field(description="credentials and stream keys masked")
    timezone: TimezoneName

    @classmethod
    def of(cls, room: Room) -> RoomOut:
        return cls(
            id=room.id, name=room.name, source=public_source(room.source), timezone=room.timezone
        )


class RoomSaved(RoomOut):
    camera_check: CameraCheckOut | None = Field(
        default=None,
        description="when the save set the source: the camera address tested with ffprobe (5 s "
        "at most); the room is saved whatever the result",
    )


async def list_rooms(request: web.Request) -> web.Response:
    rooms = await request.app[ROOMS].list()
    return json_response([RoomOut.of(room) for room in rooms])


async def create_room(request: web.Request) -> web.Response:
    body = await read_model(request, RoomIn)
    source = validate_room_source(body.source, request.app[CONFIG].data_dir)
    room = await request.app[ROOMS].create(body.name, source, body.timezone)
    out = RoomSaved.model_validate(RoomOut.of(room).model_dump())
    out.camera_check = await _check(request, source)
    response = json_response(out, status=201)
    response.headers["Location"] = f"/api/v1/rooms/{room.id}"
    return response


async def get_room(request: web.Request) -> web.Response:
    room = await request.app[ROOMS].get(path_int(request, "room_id"))
    return json_response(RoomOut.of(room))


async def update_room(request: web.Request) -> web.Response:
    room_id = path_int(request, "room_id")
    body = await read_model(request, RoomPatch)
    changes = body.model_dump(exclude_none=True)
    if "source" in changes:
        changes["source"] = validate_room_source(changes["source"], request.app[CONFIG].data_dir)
    room = await request.app[ROOMS].update(room_id, **changes)
    if "source" not in changes:
        return json_response(RoomOut.of(room))
    out = RoomSaved.model_validate(RoomOut.of(room).model_dump())
    out.camera_check = await _check(request, changes["source"])
    return json_response(out)


async def _check(request: web.Request, source: str) -> CameraCheckOut:
    config = request.app[CONFIG]
    if not config.media.check_camera_on_save:
        return CameraCheckOut(
            status="not_checked", address=None, width=None, height=None, codec=None, message=None
        )
    result = await check_camera(source, config.data_dir, config.media.ffprobe)
    return CameraCheckOut.model_validate(dataclasses.asdict(result))


class IngestOut(BaseModel):
    kind: Literal["srt", "whip"]
    url: str = Field(
        description="what to enter in OBS or the encoder; for srt it holds the secret key, "
        "for whip it is the WHIP endpoint"
    )
    passphrase: str = Field(description="the room's key: SRT passphrase, or WHIP bearer token")
    port: int


async def room_ingest(request: web.Request) -> web.Response:
    """The push address of an ``srt-push`` or ``whip`` room, key included: shown only on
    explicit request."""
    room = await request.app[ROOMS].get(path_int(request, "room_id"))
    if room.source not in (SRT_PUSH, WHIP):
        raise ApiError(
            409, "not_a_push_room", "the room's camera is not 'srt-push' or 'whip'", "source"
        )
    key = await request.app[ROOMS].stream_key(room.id)
    if room.source == WHIP:
        public = request.app[CONFIG].public_url.rstrip("/")
        port = urlsplit(public).port or (443 if public.startswith("https:") else 80)
        url = f"{public}/whip/rooms/{room.id}"
        return json_response(IngestOut(kind="whip", url=url, passphrase=key, port=port))
    ingest = request.app[PUSH_INGEST]
    host = urlsplit(request.app[CONFIG].public_url).hostname or "127.0.0.1"
    url = ingest.encoder_url(host, room.id, key)
    return json_response(IngestOut(kind="srt", url=url, passphrase=key, port=ingest.port(room.id)))


class DisplayOut(BaseModel):
    url: str = Field(description="the room display page for the room's PC; the link is its key")


async def room_display(request: web.Request) -> web.Response:
    """The room display link (signed): open it once on the seminar room's PC."""
    room = await request.app[ROOMS].get(path_int(request, "room_id"))
    return json_response(DisplayOut(url=request.app[DISPLAY_LINKS].url(room.id)))


async def delete_room(request: web.Request) -> web.Response:
    await request.app[ROOMS].delete(path_int(request, "room_id"))
    return web.Response(status=204)


OPERATIONS = (
    Operation("GET", "/api/v1/rooms", list_rooms, "List rooms", "rooms",
              response=RoomOut, response_is_list=True),
    Operation("POST", "/api/v1/rooms", create_room, "Create a room", "rooms",
              request=RoomIn, response=RoomSaved, status=201, errors=(409,)),
    Operation("GET", "/api/v1/rooms/{room_id}", get_room, "Get a room", "rooms",
              response=RoomOut, errors=(404,)),
    Operation("PATCH", "/api/v1/rooms/{room_id}", update_room, "Change a room", "rooms",
              request=RoomPatch, response=RoomSaved, errors=(404, 409)),
    Operation("DELETE", "/api/v1/rooms/{room_id}", delete_room, "Delete a room", "rooms",
              status=204, errors=(404, 409)),
    Operation("GET", "/api/v1/rooms/{room_id}/ingest", room_ingest,
              "Push address and key of an srt-push or whip room (for OBS)", "rooms",
              response=IngestOut, errors=(404, 409)),
    Operation("GET", "/api/v1/rooms/{room_id}/display", room_display,
              "The room display link for the seminar room's PC", "rooms",
              response=DisplayOut, errors=(404,)),
)  # fmt: skip
