"""Partners API: the broadcast destinations (rtmp/srt push, hls pull), secrets masked throughout.

A push URL is write-only: every response shows it through ``mask_url``. An HLS partner's pull
token is shown once, in the creation response or by rotating it, and never listed again.
Deleting a partner also removes it from the seminars that list it, in the same transaction:
this module is in the composition root, the one place allowed to know both packages' tables.
"""

from __future__ import annotations

import logging
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from knoten.http.openapi import Operation
from knoten.http.requests import json_response, path_int, read_model
from knoten.keys import DATABASE, PARTNERS
from schedules.tables import seminars
from streaming.ffmpeg.urls import MAX_URL_LENGTH
from streaming.partners import Partner, PartnerKind, PartnerProfile

log = logging.getLogger(__name__)

# Stripped, unlike the URL: a URL with surrounding whitespace is refused rather than repaired,
# because whitespace in a URL is how options get smuggled into an FFmpeg command line.
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
URL_HELP = (
    "push destination with the stream key: rtmp:// or rtmps:// for kind rtmp, srt://host:port "
    "for kind srt; none for kind hls. Write-only: responses show it masked"
)
# The token must not linger in caches or browser history stores.
NO_STORE = {"Cache-Control": "no-store"}


class PartnerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    kind: PartnerKind
    url: str | None = Field(default=None, max_length=MAX_URL_LENGTH, description=URL_HELP)
    profile: PartnerProfile = Field(default="720p", description="encoding quality sent")
    enabled: bool = True


class PartnerPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    kind: PartnerKind | None = Field(default=None, description="cannot change; accepted if equal")
    url: str | None = Field(
        default=None,
        max_length=MAX_URL_LENGTH,
        description="replaces the URL; leave out (or send the masked form) to keep it",
    )
    profile: PartnerProfile | None = None
    enabled: bool | None = None


class PartnerOut(BaseModel):
    id: int
    name: str
    kind: PartnerKind
    url: str | None = Field(description="stream key and query secrets masked as ****")
    profile: PartnerProfile
    enabled: bool
    has_hls_token: bool

    @classmethod
    def of(cls, partner: Partner) -> PartnerOut:
        return cls(
            id=partner.id,
            name=partner.name,
            kind=partner.kind,
            url=partner.masked_url,
            profile=partner.profile,
            enabled=partner.enabled,
            has_hls_token=partner.has_hls_token,
        )


class PartnerCreatedOut(PartnerOut):
    hls_token: str | None = Field(
        description="kind hls only: the pull token, shown this once (rotate to get a new one)"
    )


class HlsTokenOut(BaseModel):
    hls_token: str = Field(description="the new pull token; the previous one no longer works")


async def list_partners(request: web.Request) -> web.Response:
    partners = await request.app[PARTNERS].list()
    return json_response([PartnerOut.of(partner) for partner in partners])


async def create_partner(request: web.Request) -> web.Response:
    body = await read_model(request, PartnerIn)
    created = await request.app[PARTNERS].create(
        body.name, body.kind, body.url, body.profile, body.enabled
    )
    out = PartnerCreatedOut(
        **PartnerOut.of(created.partner).model_dump(), hls_token=created.hls_token
    )
    response = json_response(out, status=201)
    response.headers["Location"] = f"/api/v1/partners/{created.partner.id}"
    response.headers.update(NO_STORE)
    return response


async def get_partner(request: web.Request) -> web.Response:
    partner = await request.app[PARTNERS].get(path_int(request, "partner_id"))
    return json_response(PartnerOut.of(partner))


async def update_partner(request: web.Request) -> web.Response:
    partner_id = path_int(request, "partner_id")
    body = await read_model(request, PartnerPatch)
    # null means "leave as is", as for rooms; for the URL that is also the write-only contract.
    partner = await request.app[PARTNERS].update(partner_id, **body.model_dump(exclude_none=True))
    return json_response(PartnerOut.of(partner))


async def delete_partner(request: web.Request) -> web.Response:
    partner_id = path_int(request, "partner_id")
    async with request.app[DATABASE].engine.begin() as conn:
        await request.app[PARTNERS].delete_on(conn, partner_id)
        changed = await _forget_partner(conn, partner_id)
    log.info(
        "partner %s deleted; removed from seminar(s) %s",
        partner_id,
        ", ".join(map(str, changed)) or "none",
    )
    return web.Response(status=204)


async def _forget_partner(conn: AsyncConnection, partner_id: int) -> list[int]:
    """Drop ``partner_id`` from every seminar's ``partner_ids``; return the seminars changed.

    Filtered in Python: JSON containment differs between SQLite and PostgreSQL, and a library
    has tens of seminars, not millions. ``sequence`` stays: calendars do not show partners.
    """
    rows = await conn.execute(select(seminars.c.id, seminars.c.partner_ids))
    changed: list[int] = []
    for seminar_id, partner_ids in rows.all():
        if partner_id in (partner_ids or ()):
            await conn.execute(
                update(seminars)
                .where(seminars.c.id == seminar_id)
                .values(partner_ids=[p for p in partner_ids if p != partner_id])
            )
            changed.append(seminar_id)
    return changed


async def rotate_hls_token(request: web.Request) -> web.Response:
    token = await request.app[PARTNERS].rotate_hls_token(path_int(request, "partner_id"))
    response = json_response(HlsTokenOut(hls_token=token))
    response.headers.update(NO_STORE)
    return response


OPERATIONS = (
    Operation("GET", "/api/v1/partners", list_partners, "List partners (URLs masked)", "partners",
              response=PartnerOut, response_is_list=True),
    Operation("POST", "/api/v1/partners", create_partner,
              "Add a partner; an hls partner's pull token is in this response only", "partners",
              request=PartnerIn, response=PartnerCreatedOut, status=201, errors=(409,)),
    Operation("GET", "/api/v1/partners/{partner_id}", get_partner, "Get a partner", "partners",
              response=PartnerOut, errors=(404,)),
    Operation("PATCH", "/api/v1/partners/{partner_id}", update_partner,
              "Change a partner; a url replaces the stored one", "partners",
              request=PartnerPatch, response=PartnerOut, errors=(404, 409)),
    Operation("DELETE", "/api/v1/partners/{partner_id}", delete_partner,
              "Delete a partner and remove it from seminars", "partners",
              status=204, errors=(404,)),
    Operation("POST", "/api/v1/partners/{partner_id}/hls-token", rotate_hls_token,
              "Give an hls partner a new pull token (the old one stops working)", "partners",
              response=HlsTokenOut, errors=(404, 422)),
)  # fmt: skip
