"""The conversation over real WebSockets against the real app: participants with their own
sessions, consent, chat, questions and votes, host moderation over the API, reconnect snapshots
and refusals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection

from streaming.webrtc.ice import host_addresses_scope
from tests.support.app_fixtures import RunningApp

pytestmark = pytest.mark.timeout(60)


async def _seminar(api: aiohttp.ClientSession, *, record: bool = False) -> dict[str, Any]:
    body = {"title": "Löten für Anfänger", "room_id": 1, "start": "2031-03-04T18:00:00",
            "end": "2031-03-04T19:30:00", "record": record}  # fmt: skip
    async with api.post("/api/v1/seminars", json=body) as response:
        assert response.status == 201, await response.text()
        return (await response.json())["occurrences"][0]


class Page:
    """One connected page: collects every event it receives."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self.id = 0  # the participant, once welcomed
        self.secret = ""

    async def next(
        self, kind: str, text: str | None = None, timeout: float = 5.0
    ) -> dict[str, Any]:
        """The next event of ``kind`` (a message with ``text``, when given)."""
        async with asyncio.timeout(timeout):
            while True:
                event = await self.ws.receive_json()
                self.events.append(event)
                if event["type"] == kind and (text is None or event["message"]["text"] == text):
                    return event

    async def send(self, **frame: Any) -> None:
        await self.ws.send_json(frame)


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


async def _join(
    client: aiohttp.ClientSession, occurrence: dict[str, Any], secret: str | None = None,
    name: str = "Anna",
) -> Page:  # fmt: skip
    base, token = occurrence["join_url"].replace("http://", "ws://").split("?t=")
    ws = await client.ws_connect(f"{base}/ws?t={token}")
    page = Page(ws)
    await page.send(type="hello", participant=secret, name=name)
    return page


async def test_participants_chat_vote_and_the_host_moderates(
    knoten_app: RunningApp, api: aiohttp.ClientSession, client: aiohttp.ClientSession
) -> None:
    occurrence = await _seminar(api, record=True)
    anna = await _join(client, occurrence, name="Anna <b>")
    welcome = await anna.next("welcome")
    assert welcome["secret"] and welcome["participant"] > 0
    snapshot = await anna.next("snapshot")
    assert snapshot["consent_required"] is True and snapshot["recorded"] is True
    assert snapshot["you"]["name"] == "Anna <b>" and snapshot["you"]["consented"] is False

    await anna.send(type="say", text="Hallo")
    assert (await anna.next("error"))["code"] == "consent_required"
    await anna.send(type="consent")
    assert (await anna.next("participant"))["participant"]["consented"] is True

    ben = await _join(client, occurrence, name="Ben")
    await ben.next("snapshot")
    await ben.send(type="consent")
    await ben.send(type="say", text="Wie heiß wird der Lötkolben?", question=True)
    question = (await anna.next("message"))["message"]
    assert question["question"] and question["state"] == "open" and question["author"] == "Ben"
    assert question["time"] == question["at"][11:16]

    await anna.send(type="say", text="<script>alert(1)</script> siehe https://example.org")
    script = "<script>alert(1)</script> siehe https://example.org"
    said = (await ben.next("message", script))["message"]
    assert (
        said["text"] == "<script>alert(1)</script> siehe https://example.org"
    )  # text, escaped by the page

    await anna.send(type="vote", message=question["id"])
    voted = await ben.next("message")
    assert voted["message"]["votes"] == 1 and voted["questions"] == [question["id"]]
    await anna.send(type="vote", message=question["id"])
    assert (await anna.next("error"))["code"] == "voted"
    await anna.send(type="mode", mode="off")  # a participant cannot moderate
    assert (await anna.next("error"))["code"] == "not_allowed"

    base = f"/api/v1/occurrences/{occurrence['id']}"
    async with api.patch(f"{base}/messages/{question['id']}", json={"state": "answering"}) as r:
        assert r.status == 200 and (await r.json())["state"] == "answering"
    assert (await ben.next("message"))["message"]["state"] == "answering"
    async with api.patch(f"{base}/messages/{said['id']}", json={"hidden": True}) as r:
        assert r.status == 204
    assert (await ben.next("removed"))["id"] == said["id"]
    async with api.patch(f"{base}/chat", json={"mode": "questions"}) as r:
        assert r.status == 200
    assert (await anna.next("mode"))["mode"] == "questions"
    await anna.send(type="say", text="Nur eine Bemerkung")
    assert (await anna.next("error"))["code"] == "questions_only"

    async with api.get(f"{base}/participants") as r:
        people = {p["name"]: p for p in await r.json()}
    assert people["Ben"]["connected"] and people["Anna <b>"]["consented"]
    async with api.patch(
        f"{base}/participants/{people['Ben']['id']}", json={"chat_muted": True}
    ) as r:
        assert r.status == 200 and (await r.json())["chat_muted"] is True
    await ben.send(type="say", text="Noch eine Frage?", question=True)
    assert (await ben.next("error"))["code"] == "muted"

    async with api.get(f"{base}/messages") as r:
        texts = [m["text"] for m in await r.json()]
    assert texts == ["Wie heiß wird der Lötkolben?"]  # the hidden one is gone
    async with api.get(f"{base}/messages/export?format=markdown") as r:
        assert r.status == 200 and r.content_type == "text/markdown"
        markdown = await r.text()
    assert "Wie heiß wird der Lötkolben?" in markdown and "<script>" not in markdown
    assert "Frage, 1 Stimme(n), wird beantwortet" in markdown
    async with api.get(f"{base}/messages/export?format=json") as r:
        exported = await r.json()
    assert [m["text"] for m in exported["messages"]] == texts

    # A page that comes back with its secret is the same participant and sees what it missed.
    await anna.ws.close()
    again = await _join(client, occurrence, secret=welcome["secret"], name="Anna <b>")
    snapshot = await again.next("snapshot")
    assert snapshot["you"]["id"] == welcome["participant"] and snapshot["voted"] == [question["id"]]
    assert [m["id"] for m in snapshot["messages"]] == [question["id"]]
    assert not [e for e in again.events if e["type"] == "welcome" and e["secret"]]


async def test_rate_limit_and_refusals(
    knoten_app: RunningApp, api: aiohttp.ClientSession, client: aiohttp.ClientSession
) -> None:
    occurrence = await _seminar(api)
    page = await _join(client, occurrence)
    snapshot = await page.next("snapshot")
    assert snapshot["consent_required"] is False  # neither recorded nor broadcast
    started = asyncio.get_running_loop().time()
    for i in range(10):
        await page.send(type="say", text=f"Nachricht {i}")
    outcomes = []
    async with asyncio.timeout(10):
        while len(outcomes) < 10:
            event = await page.ws.receive_json()
            if event["type"] in ("message", "error"):
                outcomes.append(event.get("code", "ok"))
    elapsed = asyncio.get_running_loop().time() - started
    # A burst of 5, then one per second: the rest is refused with a code the page words.
    assert outcomes[:5] == ["ok"] * 5 and "rate_limited" in outcomes
    assert outcomes.count("ok") <= 5 + int(elapsed) + 1
    await page.send(type="say", text="x" * 501)
    assert (await page.next("error"))["code"] == "too_long"
    await page.ws.send_str("[" * 5000)
    assert (await page.next("error"))["code"] == "invalid"
    await page.send(type="say", text="\u202e\u200b ")
    assert (await page.next("error"))["code"] == "empty"

    base = occurrence["join_url"].split("?t=")[0].replace("http://", "ws://")
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect(f"{base}/ws?t=forged.1.xxxxxxxxxxxxxxxxxxxxxx")
    assert refused.value.status == 401
    async with api.patch(f"/api/v1/occurrences/{occurrence['id']}/messages/99999",
                         json={"hidden": True}) as r:  # fmt: skip
        assert r.status == 404 and (await r.json())["error"]["code"] == "no_such_message"
    async with api.patch(
        f"/api/v1/occurrences/{occurrence['id']}/chat", json={"mode": "loud"}
    ) as r:
        assert r.status == 422 and (await r.json())["error"]["field"] == "mode"


async def test_hands_stage_limits_and_removal(
    knoten_app: RunningApp, api: aiohttp.ClientSession, client: aiohttp.ClientSession
) -> None:
    occurrence = await _seminar(api, record=True)
    base = f"/api/v1/occurrences/{occurrence['id']}/participants"
    pages = []
    for index in range(6):
        page = await _join(client, occurrence, name=f"Person {index}")
        welcome = await page.next("welcome")
        await page.next("snapshot")
        page.id, page.secret = welcome["participant"], welcome["secret"]
        pages.append(page)
    first = pages[0]
    await first.send(type="hand", raised=True)
    assert (await first.next("error"))["code"] == "consent_required"
    for count, page in enumerate(pages, start=1):
        await page.send(type="consent")
        await page.send(type="hand", raised=True)
        floor = await page.next("floor")
        while len(floor["hands"]) < count:
            floor = await page.next("floor")
    assert [h["name"] for h in floor["hands"]] == [f"Person {i}" for i in range(6)]  # in order

    await first.send(type="stage", participant=first.id, on=True)
    assert (await first.next("error"))["code"] == "not_allowed"  # never by themselves
    for page in pages[:4]:
        async with api.post(f"{base}/{page.id}/stage") as response:
            assert response.status == 200
            body = await response.json()
            assert body["on_stage"] is True and body["hand_raised"] is False
    async with api.post(f"{base}/{pages[4].id}/stage") as response:
        assert response.status == 409
        assert (await response.json())["error"]["code"] == "stage_full"
    async with api.get(base) as response:
        listed = {p["name"]: p for p in await response.json()}
    assert listed["Person 4"]["hand_raised"] and not listed["Person 4"]["on_stage"]
    assert listed["Person 0"]["connected_at"] and listed["Person 0"]["on_stage"]
    async with api.patch(f"{base}/{pages[0].id}", json={"sound_muted": True}) as response:
        assert response.status == 200 and (await response.json())["sound_muted"] is True
    async with api.patch(f"{base}/{pages[4].id}", json={"sound_muted": True}) as response:
        assert response.status == 409  # only a speaker on stage can be muted
        assert (await response.json())["error"]["code"] == "not_on_stage"
    async with api.patch(f"{base}/{pages[0].id}", json={"sound_muted": False}) as response:
        assert (await response.json())["sound_muted"] is False

    await pages[1].send(type="leave_stage")  # a speaker may step down
    floor = await pages[5].next("floor")
    while len(floor["stage"]) != 3:
        floor = await pages[5].next("floor")
    async with api.delete(f"{base}/{pages[2].id}/stage") as response:
        assert response.status == 200 and (await response.json())["on_stage"] is False

    removed = pages[3]
    async with api.post(f"{base}/{removed.id}/remove") as response:
        assert response.status == 200 and (await response.json())["removed"] is True
    error = await removed.next("error")
    assert error["code"] == "removed" and error["fatal"]
    again = await _join(client, occurrence, secret=removed.secret)
    assert (await again.next("error"))["code"] == "removed"
    assert (await again.ws.receive()).type == aiohttp.WSMsgType.CLOSE
    assert again.ws.close_code == 4403
    # The link itself still admits everyone else.
    other = await _join(client, occurrence, name="Neu")
    assert (await other.next("snapshot"))["floor"]["stage"] == [
        {"id": pages[0].id, "name": "Person 0", "muted": False}
    ]


async def _audio_offer() -> str:
    peer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    peer.addTransceiver("audio", direction="sendonly")
    with host_addresses_scope(("127.0.0.1",)):
        await peer.setLocalDescription(await peer.createOffer())
    sdp = peer.localDescription.sdp
    await peer.close()
    return sdp


async def test_stage_media_doors_check_who_asks(
    knoten_app: RunningApp, api: aiohttp.ClientSession, client: aiohttp.ClientSession
) -> None:
    occurrence = await _seminar(api)
    page = await _join(client, occurrence, name="Clara")
    welcome = await page.next("welcome")
    token = occurrence["join_url"].split("?t=")[1]
    offer = await _audio_offer()
    url = knoten_app.url(f"/stage/{occurrence['id']}/publish")

    async def publish(secret: str) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {token}", "X-Knoten-Participant": secret,
                   "Content-Type": "application/sdp"}  # fmt: skip
        async with client.post(url, data=offer, headers=headers) as response:
            return response.status, await response.json()

    status, body = await publish(welcome["secret"])
    assert status == 403 and body["error"]["code"] == "not_on_stage"  # a hand is not enough
    status, body = await publish("not-a-secret")
    assert status == 403 and body["error"]["code"] == "not_a_participant"
    async with api.post(f"/api/v1/occurrences/{occurrence['id']}/participants/"
                        f"{welcome['participant']}/remove") as response:  # fmt: skip
        assert response.status == 200
    status, body = await publish(welcome["secret"])
    assert status == 403 and body["error"]["code"] == "removed"
    listen = knoten_app.url(f"/stage/{occurrence['id']}/listen")
    forged = {"Content-Type": "application/sdp",
              "Authorization": "Bearer 1.4102444800.AAAAAAAAAAAAAAAAAAAAAA"}  # fmt: skip
    async with client.post(listen, data=offer, headers=forged) as r:
        assert r.status == 401 and (await r.json())["error"]["code"] == "unauthorized"
