"""The conversation's WebSocket protocol: one connection per page, JSON text frames.

A page first says ``hello``; it gets a ``snapshot`` of the whole conversation and then events
(``message``, ``removed``, ``voted``, ``mode``, ``floor``, ``participant``, ``error``). What a
page may send depends on its role, checked here once per frame by :func:`actions`:

=============  ==============================================================================
participant    ``consent``, ``name {name}``, ``say {text, question}``, ``vote {message}``,
               ``hand {raised}``, ``leave_stage``
host           ``say {text}``, ``hide {message}``, ``question {message, state}``,
               ``mode {mode}``, ``mute {participant, muted}``, ``stage {participant, on}``,
               ``mute_sound {participant, muted}``, ``remove {participant}``
display        nothing (it only shows)
=============  ==============================================================================

Refusals come back as ``{"type": "error", "code": …}``; the page words them in its language.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import WSMsgType, web

from knoten.conversation import wire
from knoten.conversation.hub import Conversation, ConversationHub
from knoten.conversation.rules import ChatMode, ChatRefused, QuestionState
from knoten.conversation.subscriber import Role, Subscriber

log = logging.getLogger(__name__)

#: The largest frame a page may send: a 500-character message fits many times over.
MAX_FRAME_BYTES = 8192
HELLO_TIMEOUT_S = 10.0
HEARTBEAT_S = 20.0
#: WebSocket close codes (4000–4999 are the application's): the page reads them.
CLOSE_REFUSED = 4403
CLOSE_FULL = 4409

Handler = Callable[[dict[str, Any]], Awaitable[None]]
E = TypeVar("E", ChatMode, QuestionState)


def new_socket() -> web.WebSocketResponse:
    # No permessage-deflate: frames are a few hundred bytes, and compressing each one for each
    # page cost a third of the service's chat CPU (bench/bench_chat.py: 0.20 → 0.13 cores).
    return web.WebSocketResponse(
        heartbeat=HEARTBEAT_S, max_msg_size=MAX_FRAME_BYTES, compress=False
    )


def _frame(data: str) -> dict[str, Any] | None:
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) and isinstance(value.get("type"), str) else None


async def receive_hello(ws: web.WebSocketResponse) -> dict[str, Any] | None:
    """The page's first frame if it is a ``hello`` within the time allowed."""
    try:
        message = await ws.receive(timeout=HELLO_TIMEOUT_S)
    except TimeoutError:
        return None
    if message.type != WSMsgType.TEXT:
        return None
    frame = _frame(message.data)
    return frame if frame is not None and frame["type"] == "hello" else None


async def refuse(ws: web.WebSocketResponse, code: str) -> None:
    await ws.send_str(wire.dumps({"type": "error", "code": code, "fatal": True}))
    await ws.close(code=CLOSE_FULL if code == "full" else CLOSE_REFUSED, message=code.encode())


def actions(hub: ConversationHub, conversation: Conversation, role: Role,
            participant_id: int | None) -> Handler:  # fmt: skip
    """The frame handler of one page: what its role may do, nothing else."""
    occurrence_id = conversation.context.occurrence_id

    async def participant(frame: dict[str, Any]) -> None:
        assert participant_id is not None
        kind = frame["type"]
        if kind == "consent":
            await hub.consent(conversation, participant_id)
        elif kind == "name":
            await hub.rename(conversation, participant_id, frame.get("name"))
        elif kind == "say":
            await hub.say(conversation, participant_id, frame.get("text"),
                          question=frame.get("question") is True)  # fmt: skip
        elif kind == "vote":
            await hub.vote(conversation, participant_id, frame.get("message"))
        elif kind == "hand":
            await hub.raise_hand(conversation, participant_id, frame.get("raised") is True)
        elif kind == "leave_stage":
            await hub.set_stage(occurrence_id, participant_id, False)
        elif kind != "ping":
            raise ChatRefused("not_allowed")

    async def host(frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == "say":
            await hub.say(conversation, None, frame.get("text"))
        elif kind == "hide":
            await hub.hide(occurrence_id, _int(frame.get("message")))
        elif kind == "question":
            await hub.set_question_state(occurrence_id, _int(frame.get("message")),
                                         _enum(QuestionState, frame.get("state")))  # fmt: skip
        elif kind == "mode":
            await hub.set_mode(occurrence_id, _enum(ChatMode, frame.get("mode")))
        elif kind == "mute":
            await hub.mute(occurrence_id, _int(frame.get("participant")),
                           frame.get("muted") is True)  # fmt: skip
        elif kind == "stage":
            await hub.set_stage(occurrence_id, _int(frame.get("participant")),
                                frame.get("on") is True)  # fmt: skip
        elif kind == "mute_sound":
            await hub.mute_sound(occurrence_id, _int(frame.get("participant")),
                                 frame.get("muted") is True)  # fmt: skip
        elif kind == "remove":
            await hub.remove(occurrence_id, _int(frame.get("participant")))
        elif kind != "ping":
            raise ChatRefused("not_allowed")

    async def display(frame: dict[str, Any]) -> None:
        if frame["type"] != "ping":
            raise ChatRefused("not_allowed")

    return {"participant": participant, "host": host, "display": display}[role]


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ChatRefused("invalid", "an id must be a number")
    return value


def _enum(kind: type[E], value: object) -> E:
    try:
        return kind(value)
    except ValueError:
        raise ChatRefused("invalid", f"unknown value {value!r}") from None


async def serve(
    ws: web.WebSocketResponse,
    hub: ConversationHub,
    conversation: Conversation,
    subscriber: Subscriber,
    handle: Handler,
    welcome: dict[str, Any] | None = None,
) -> None:
    """Run one page's connection until either side ends it; ``welcome`` goes out first."""
    if welcome is not None:
        subscriber.push(wire.dumps(welcome))
    hub.subscribe(conversation, subscriber)
    writer = asyncio.create_task(_drain(ws, subscriber), name="conversation-writer")
    try:
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                break
            frame = _frame(message.data)
            try:
                if frame is None:
                    raise ChatRefused("invalid", "send a JSON object with a 'type'")
                await handle(frame)
            except ChatRefused as exc:
                subscriber.push(wire.dumps({"type": "error", "code": exc.code}))
            if subscriber.closed:
                break
    finally:
        hub.unsubscribe(conversation, subscriber)
        subscriber.close()
        await _finish(writer)
        await ws.close()
        if subscriber.participant_id is not None:
            await hub.left(conversation, subscriber.participant_id)


async def watch(
    request: web.Request, hub: ConversationHub, conversation: Conversation, role: Role
) -> web.WebSocketResponse:
    """A page that follows the conversation without a participant of its own (the host's live
    panel, the room display): open the socket, wait for its hello, serve it until it ends."""
    ws = new_socket()
    await ws.prepare(request)
    if await receive_hello(ws) is None:
        await refuse(ws, "hello_expected")
        return ws
    subscriber = Subscriber(role, transport=request.transport)
    await serve(ws, hub, conversation, subscriber, actions(hub, conversation, role, None))
    return ws


async def _drain(ws: web.WebSocketResponse, subscriber: Subscriber) -> None:
    while True:
        payload = await subscriber.queue.get()
        if payload is None:
            await ws.close()
            return
        try:
            await ws.send_str(payload)
        except ConnectionError:
            return


async def _finish(writer: asyncio.Task[None]) -> None:
    # The writer ends by itself on the None that close() queued; a page that stopped reading
    # must not hold the handler, so it gets a moment and is then cancelled.
    done, _ = await asyncio.wait({writer}, timeout=1.0)
    if not done:
        writer.cancel()
        await asyncio.wait({writer})
