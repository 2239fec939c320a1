"""Recordings: the archive catalog API, its media/poster/thumbnail files and share links.

Files are served by :class:`MediaFileResponse` (aiohttp's ``FileResponse`` with RFC 9110's range
rules: one range 206, ``bytes=-0`` 416, several ranges or a stale ``If-Range`` 200 with the
whole file; ETag/If-None-Match 304, Last-Modified; HEAD like GET without a body); every path
comes from ``ArchivePaths`` and an integer id, never from request text. The share routes
(``/share/recordings/{token}``) are public: the signed token is the credential, and it grants
exactly one recording until it expires.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from knoten.accounts.principal import principal_of
from knoten.http.download_names import content_disposition
from knoten.http.openapi import Operation
from knoten.http.ranges import MediaFileResponse
from knoten.http.requests import json_response, path_int, read_model, read_query
from knoten.keys import (
    ACCESS,
    ARCHIVE_PATHS,
    CONFIG,
    RECORDER,
    RECORDINGS,
    RETENTION,
    SCHEDULE,
    SHARE_LINKS,
)
from knoten.web.dates import date_and_time, local
from knoten.web.error_pages import render_error
from knoten.web.i18n import choose_language
from knoten.web.pages import render
from recordings.catalog import Recording, RecordingFilter
from recordings.errors import (
    InvalidShareToken,
    RecordingBusy,
    RecordingNotAvailable,
    RecordingNotFound,
    ShareTokenExpired,
)
from recordings.paths import check_text
from schedules.domain import DEFAULT_TIMEZONE
from schedules.errors import OccurrenceNotFound

BASE = "/api/v1/recordings"
SHARE_BASE = "/share/recordings"


class RecordingOut(BaseModel):
    id: int
    occurrence_id: int
    seminar_id: int
    title: str
    status: str = Field(
        description="recording | finalizing | needs_finalize (segments kept, waiting for disk "
        "space; finalized by itself once space is back) | available | failed"
    )
    reason: str | None = Field(
        default=None,
        description="what happened to it, if anything did: closed early (disk almost full), "
        "continued after a service restart, continued after the date was resumed (its file was "
        "made anew with both parts), waiting for disk space, why it failed",
    )
    recovered: bool = Field(description="finalized after a crash from what had been written")
    keep: bool = Field(description="retention never deletes it")
    started_at: datetime
    duration_s: float | None
    # What ffprobe found in the finished file (None until then).
    width: int | None
    height: int | None
    video_codec: str | None
    audio_codec: str | None
    size_bytes: int | None
    sha256: str | None
    poster_url: str | None
    media_url: str | None
    timezone: str = Field(
        default=DEFAULT_TIMEZONE, description="IANA zone of the date's room: show times in it"
    )

    @classmethod
    def of(cls, r: Recording, timezone: str = DEFAULT_TIMEZONE) -> RecordingOut:
        ready = r.status == "available"
        return cls(timezone=timezone,
            id=r.id, occurrence_id=r.occurrence_id, seminar_id=r.seminar_id, title=r.title,
            started_at=r.started_at, duration_s=r.duration_s, size_bytes=r.size_bytes,
            width=r.width, height=r.height, video_codec=r.video_codec,
            audio_codec=r.audio_codec, sha256=r.sha256, status=r.status, reason=r.reason,
            recovered=r.recovered, keep=r.keep,
            poster_url=f"{BASE}/{r.id}/poster" if ready else None,
            media_url=f"{BASE}/{r.id}/media" if ready else None,
        )  # fmt: skip


def _text(value: str | None, field: str) -> str | None:
    return None if value is None else check_text(value, field)


class RecordingQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    seminar_id: int | None = Field(default=None, ge=1)
    occurrence_id: int | None = Field(default=None, ge=1)
    from_: datetime | None = Field(default=None, alias="from", description="started at or after")
    to: datetime | None = Field(default=None, description="started before")
    q: str | None = Field(default=None, max_length=200, description="text in the title")

    _q = field_validator("q")(lambda v: _text(v, "q"))


class RecordingPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str | None = Field(default=None, min_length=1, max_length=200)
    keep: bool | None = Field(default=None, description="true: retention never deletes it")

    _title = field_validator("title")(lambda v: _text(v, "title"))


class ShareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expires_in_hours: int = Field(default=7 * 24, ge=1, le=90 * 24)


class ShareOut(BaseModel):
    url: str = Field(description="the playback page")
    media_url: str
    expires_at: datetime


class RetentionOut(BaseModel):
    deleted: list[dict[str, int | str]]


def _aware(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


async def list_recordings(request: web.Request) -> web.Response:
    query = read_query(request.query, RecordingQuery)
    where = RecordingFilter(query.seminar_id, query.occurrence_id, _aware(query.from_),
                            _aware(query.to), query.q)  # fmt: skip
    rows = await request.app[RECORDINGS].list(where)
    visible = await request.app[ACCESS].visible_seminars(principal_of(request))
    shown = [r for r in rows if visible is None or r.seminar_id in visible]
    zones = {r.occurrence_id: await _zone(request.app, r) for r in shown}
    return json_response([RecordingOut.of(r, zones[r.occurrence_id]) for r in shown])


async def get_recording(request: web.Request) -> web.Response:
    recording = await request.app[RECORDINGS].get(path_int(request, "recording_id"))
    return json_response(RecordingOut.of(recording, await _zone(request.app, recording)))


async def update_recording(request: web.Request) -> web.Response:
    recording_id = path_int(request, "recording_id")
    body = await read_model(request, RecordingPatch)
    recording = await request.app[RECORDINGS].update(recording_id, title=body.title,
                                                     keep=body.keep)  # fmt: skip
    return json_response(RecordingOut.of(recording, await _zone(request.app, recording)))


async def delete_recording(request: web.Request) -> web.Response:
    recording_id = path_int(request, "recording_id")
    if request.app[RECORDER].is_writing(recording_id):
        raise RecordingBusy(recording_id, "recording")
    removed = await request.app[RECORDINGS].delete(recording_id)  # 404 / 409 before any change
    await request.app[RETENTION].delete_files(removed, reason="api")
    return web.Response(status=204)


async def run_retention(request: web.Request) -> web.Response:
    deleted = await request.app[RETENTION].run_once()
    return json_response(RetentionOut(deleted=[{"id": d.recording_id, "reason": d.reason}
                                               for d in deleted]))  # fmt: skip


async def _available_file(app: web.Application, recording_id: int, kind: str) -> Path:
    recording = await app[RECORDINGS].get(recording_id)
    if recording.status != "available":
        raise RecordingNotAvailable(recording_id, recording.status)
    paths = app[ARCHIVE_PATHS]
    path = {"media": paths.media, "poster": paths.poster, "thumbnails": paths.thumbnails}[kind](
        recording_id
    )
    if not path.is_file():
        raise web.HTTPNotFound(reason=f"recording {recording_id} has no {kind} file")
    return path


def _file(path: Path, content_type: str) -> web.FileResponse:
    return MediaFileResponse(
        path,
        headers={"Content-Type": content_type, "Cache-Control": "private, max-age=3600",
                 "X-Content-Type-Options": "nosniff"},
    )  # fmt: skip


_TYPES = {"media": "video/mp4", "poster": "image/jpeg", "thumbnails": "image/jpeg"}


class MediaQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    download: bool = Field(default=False, description="true: save as <date>-<title>.mp4")


async def _zone(app: web.Application, recording: Recording) -> str:
    """The room's zone of the recorded date (the seminar may be gone: then the default)."""
    try:
        return (await app[SCHEDULE].occurrence(recording.occurrence_id)).timezone
    except OccurrenceNotFound:
        return DEFAULT_TIMEZONE


async def _media_response(request: web.Request, recording_id: int) -> web.FileResponse:
    """The MP4, named ``<local date>-<title>.mp4``; ``?download=1`` makes it an attachment."""
    download = read_query(request.query, MediaQuery).download
    path = await _available_file(request.app, recording_id, "media")
    recording = await request.app[RECORDINGS].get(recording_id)
    day = local(recording.started_at, await _zone(request.app, recording)).date().isoformat()
    response = _file(path, _TYPES["media"])
    response.headers["Content-Disposition"] = content_disposition(
        f"{day}-{recording.title}", "mp4", attachment=download
    )
    return response


async def get_media(request: web.Request) -> web.FileResponse:
    return await _media_response(request, path_int(request, "recording_id"))


async def get_poster(request: web.Request) -> web.FileResponse:
    path = await _available_file(request.app, path_int(request, "recording_id"), "poster")
    return _file(path, _TYPES["poster"])


async def get_thumbnails(request: web.Request) -> web.FileResponse:
    path = await _available_file(request.app, path_int(request, "recording_id"), "thumbnails")
    return _file(path, _TYPES["thumbnails"])


async def create_share(request: web.Request) -> web.Response:
    recording_id = path_int(request, "recording_id")
    body = await read_model(request, ShareIn)
    recording = await request.app[RECORDINGS].get(recording_id)
    if recording.status != "available":
        raise RecordingNotAvailable(recording_id, recording.status)
    expires = int(time.time()) + body.expires_in_hours * 3600
    base = share_url(request.app, recording_id, expires)
    # Remembered, so the join page of the date can offer this very link to participants.
    await request.app[RECORDINGS].mark_shared(recording_id, datetime.fromtimestamp(expires, UTC))
    out = ShareOut(url=base, media_url=f"{base}/media",
                   expires_at=datetime.fromtimestamp(expires, UTC))  # fmt: skip
    return json_response(out, status=201)


def share_url(app: web.Application, recording_id: int, expires: int) -> str:
    """The public page of a share link (the token is the same for the same expiry)."""
    token = app[SHARE_LINKS].sign(recording_id, expires)
    return app[CONFIG].public_url + f"{SHARE_BASE}/{token}"


async def shared_recording_url(app: web.Application, occurrence_id: int) -> str | None:
    """The share link the host made for this date's recording, while it is valid."""
    now = datetime.now(UTC)
    for recording in await app[RECORDINGS].list(RecordingFilter(occurrence_id=occurrence_id)):
        until = _aware(recording.shared_until)
        if recording.status == "available" and until is not None and until > now:
            return share_url(app, recording.id, int(until.timestamp()))
    return None


# -- public share routes (token-checked, outside /api/v1 so the bearer token is not needed) -----


def _share_token(request: web.Request) -> tuple[int, datetime]:
    token = request.match_info["token"]
    recording_id = request.app[SHARE_LINKS].verify(token, time.time())
    expires_at = datetime.fromtimestamp(int(token.split(".")[1]), UTC)
    return recording_id, expires_at


async def share_page(request: web.Request) -> web.Response:
    try:
        recording_id, expires_at = _share_token(request)
        recording = await request.app[RECORDINGS].get(recording_id)
    except ShareTokenExpired:
        return await render_error(request, 410, "share_expired")
    except (InvalidShareToken, RecordingNotFound):
        return await render_error(request, 404, "share_unknown")
    if recording.status != "available":
        return await render_error(request, 404, "share_unknown")
    base = f"{SHARE_BASE}/{request.match_info['token']}"
    zone = await _zone(request.app, recording)
    lang = choose_language(request)
    response = await render(request, "recording_share.html", recording=recording,
                            media_url=f"{base}/media", poster_url=f"{base}/poster",
                            download_url=f"{base}/media?download=true",
                            recorded_at=date_and_time(recording.started_at, zone, lang, year=True),
                            valid_until=date_and_time(expires_at, zone, lang, year=True),
                            expires_at=expires_at)  # fmt: skip
    response.headers["Referrer-Policy"] = "no-referrer"  # the URL is the credential
    response.headers["Cache-Control"] = "private, no-store"
    return response


async def _share_file(request: web.Request, kind: str) -> web.FileResponse:
    recording_id, _ = _share_token(request)
    path = await _available_file(request.app, recording_id, kind)
    return _file(path, _TYPES[kind])


async def share_media(request: web.Request) -> web.FileResponse:
    recording_id, _ = _share_token(request)
    return await _media_response(request, recording_id)


async def share_poster(request: web.Request) -> web.FileResponse:
    return await _share_file(request, "poster")


def add_routes(router: web.UrlDispatcher) -> None:
    """The public share routes; the API operations are registered with the others."""
    router.add_get(SHARE_BASE + "/{token}", share_page)
    router.add_get(SHARE_BASE + "/{token}/media", share_media)
    router.add_get(SHARE_BASE + "/{token}/poster", share_poster)


_ID = BASE + "/{recording_id}"
OPERATIONS = (
    Operation("GET", BASE, list_recordings, "List recordings", "recordings",
              response=RecordingOut, response_is_list=True, query=RecordingQuery),
    Operation("POST", BASE + "/retention", run_retention, "Apply the retention rules now",
              "recordings", response=RetentionOut),
    Operation("GET", _ID, get_recording, "Get a recording", "recordings",
              response=RecordingOut, errors=(404,)),
    Operation("PATCH", _ID, update_recording, "Rename a recording or set keep", "recordings",
              request=RecordingPatch, response=RecordingOut, errors=(404,)),
    Operation("DELETE", _ID, delete_recording, "Delete a recording and its files", "recordings",
              status=204, errors=(404, 409)),
    Operation("GET", _ID + "/media", get_media,
              "The MP4 (Range, ETag), named <date>-<title>.mp4", "recordings", query=MediaQuery,
              errors=(404, 409, 416, 422), extra={"x-content-type": "video/mp4"}),
    Operation("GET", _ID + "/poster", get_poster, "The poster JPEG", "recordings",
              errors=(404, 409)),
    Operation("GET", _ID + "/thumbnails", get_thumbnails, "A strip of 10 thumbnails (JPEG)",
              "recordings", errors=(404, 409)),
    Operation("POST", _ID + "/share", create_share, "Create a signed, expiring share link",
              "recordings", request=ShareIn, response=ShareOut, status=201, errors=(404, 409)),
)  # fmt: skip
