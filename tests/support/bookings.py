"""Booking one date (and the partner it goes to) through the API, as the tests of the live panel,
the join page and the camera ingests do."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import aiohttp


async def book_date(
    api: aiohttp.ClientSession,
    begin: datetime,
    *,
    minutes: int = 60,
    title: str = "Sprechstunde",
    room_id: int = 1,
    start: bool = False,
    **fields: Any,
) -> dict[str, Any]:
    """A seminar with one date at ``begin`` (its wall time in the room's zone); returns the
    date as ``POST /api/v1/seminars`` lists it, or as ``…/start`` answers with ``start``."""
    wall = begin.replace(microsecond=0, tzinfo=None)
    body = {
        "title": title,
        "room_id": room_id,
        "start": wall.isoformat(),
        "end": (wall + timedelta(minutes=minutes)).isoformat(),
        **fields,
    }
    async with api.post("/api/v1/seminars", json=body) as response:
        assert response.status == 201, await response.text()
        occurrence: dict[str, Any] = (await response.json())["occurrences"][0]
    if start:
        async with api.post(f"/api/v1/occurrences/{occurrence['id']}/start") as response:
            assert response.status == 200, await response.text()
            occurrence = await response.json()
    return occurrence


async def add_rtmp_partner(
    api: aiohttp.ClientSession, url: str, *, name: str = "Campus", profile: str = "720p"
) -> int:
    """A push partner at ``url`` (an nginx-rtmp stand-in's); returns its id."""
    body = {"name": name, "kind": "rtmp", "url": url, "profile": profile}
    async with api.post("/api/v1/partners", json=body) as response:
        assert response.status == 201, await response.text()
        partner_id: int = (await response.json())["id"]
    return partner_id
