"""What the end-to-end dialog tests do alike through the real app: a live, recorded date sent
to one partner, a participant put on stage who publishes an aiortc peer, and the archived
recording once the date has ended."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiortc import RTCPeerConnection, RTCSessionDescription

from knoten.keys import ARCHIVE_PATHS
from streaming.webrtc.ice import host_addresses_scope
from tests.knoten.test_conversation_socket import Page, _join
from tests.knoten.test_whep import create_live_occurrence


async def start_recorded_date(api: aiohttp.ClientSession, partner_url: str) -> dict[str, Any]:
    """A date on air, recorded and pushed to one RTMP partner (720p): its occurrence, once
    the partner receives."""
    body = {"name": "Campus", "kind": "rtmp", "url": partner_url, "profile": "720p"}
    async with api.post("/api/v1/partners", json=body) as response:
        partner_id = (await response.json())["id"]
    occurrence = await create_live_occurrence(api, start=False)
    oid = occurrence["id"]
    async with api.patch(f"/api/v1/seminars/{occurrence['seminar_id']}",
                         json={"partner_ids": [partner_id], "record": True}) as r:  # fmt: skip
        assert r.status == 200, await r.text()
    async with api.get(f"/api/v1/occurrences/{oid}") as response:
        occurrence = await response.json()
    async with api.post(f"/api/v1/occurrences/{oid}/start") as response:
        assert response.status == 200, await response.text()
    deadline = time.monotonic() + 40
    while True:  # the partner receives and the recording runs
        async with api.get(f"/api/v1/occurrences/{oid}") as response:
            state = await response.json()
        outputs = state.get("outputs") or []
        if outputs and outputs[0]["state"] == "live":
            return occurrence
        assert time.monotonic() < deadline, state
        await asyncio.sleep(0.5)


async def speak(
    running: Any,
    api: aiohttp.ClientSession,
    client: aiohttp.ClientSession,
    occurrence: dict[str, Any],
    peer: RTCPeerConnection,
    name: str = "Anna",
) -> tuple[Page, str]:
    """``name`` joins, raises a hand, is put on stage by the host and publishes ``peer``
    (its tracks added already): their conversation page and their participant API path."""
    oid = occurrence["id"]
    page: Page = await _join(client, occurrence, name=name)
    welcome = await page.next("welcome")
    await page.send(type="consent")
    await page.send(type="hand", raised=True)
    await page.next("floor")
    base = f"/api/v1/occurrences/{oid}/participants/{welcome['participant']}"
    async with api.post(f"{base}/stage") as response:
        assert response.status == 200, await response.text()
    with host_addresses_scope(("127.0.0.1",)):
        await peer.setLocalDescription(await peer.createOffer())
    headers = {"Authorization": f"Bearer {occurrence['join_url'].split('?t=')[1]}",
               "X-Knoten-Participant": welcome["secret"],
               "Content-Type": "application/sdp"}  # fmt: skip
    publish = running.url(f"/stage/{oid}/publish")
    async with client.post(publish, data=peer.localDescription.sdp, headers=headers) as r:
        assert r.status == 201, await r.text()
        answer = await r.text()
    await peer.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    return page, base


async def stop_and_archive(running: Any, api: aiohttp.ClientSession, oid: int) -> Path:
    """End the date and wait for its recording in the archive: the archived media file."""
    async with api.post(f"/api/v1/occurrences/{oid}/stop") as response:
        assert response.status == 200
    deadline = time.monotonic() + 60
    while True:
        async with api.get(f"/api/v1/recordings?occurrence_id={oid}") as response:
            recordings = await response.json()
        if recordings and recordings[0]["status"] == "available":
            return Path(running.app[ARCHIVE_PATHS].media(recordings[0]["id"]))
        assert time.monotonic() < deadline, recordings
        await asyncio.sleep(0.5)
