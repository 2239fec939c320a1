"""The conversation's WebSocket doors: ``/join/{id}/ws`` for participants (the join link's token,
then their own participant secret) and ``/dashboard/occurrences/{id}/ws`` for the host (the
dashboard session). The protocol itself is :mod:`knoten.conversation.socket`."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from knoten.access import may_run_occurrence
from knoten.conversation import socket
from knoten.conversation.rules import ChatRefused
from knoten.conversation.subscriber import Subscriber
from knoten.http.requests import page_id
from knoten.join import JoinTokenError
from knoten.keys import ACCESS, CONVERSATIONS, JOIN_LINKS, SESSIONS
from schedules.errors import OccurrenceNotFound


def _occurrence_id(request: web.Request) -> int:
    return page_id(request, "occurrence_id")


async def participant_socket(request: web.Request) -> web.StreamResponse:
    occurrence_id = _occurrence_id(request)
    try:
        request.app[JOIN_LINKS].verify(request.query.get("t"), occurrence_id, datetime.now(UTC))
    except JoinTokenError as exc:
        error = web.HTTPForbidden if exc.status == 403 else web.HTTPUnauthorized
        raise error(text=exc.message) from None
    hub = request.app[CONVERSATIONS]
    ws = socket.new_socket()
    await ws.prepare(request)
    hello = await socket.receive_hello(ws)
    if hello is None:
        await socket.refuse(ws, "hello_expected")
        return ws
    secret = hello.get("participant")
    try:
        conversation, participant, new_secret = await hub.join(
            occurrence_id, secret if isinstance(secret, str) else None, hello.get("name")
        )
    except ChatRefused as exc:
        await socket.refuse(ws, exc.code)
        return ws
    except OccurrenceNotFound:
        await socket.refuse(ws, "unknown")
        return ws
    welcome = {"type": "welcome", "participant": participant.id, "secret": new_secret}
    subscriber = Subscriber("participant", participant.id, request.transport)
    handle = socket.actions(hub, conversation, "participant", participant.id)
    await socket.serve(ws, hub, conversation, subscriber, handle, welcome)
    return ws


async def host_socket(request: web.Request) -> web.StreamResponse:
    sessions = request.app[SESSIONS]
    session = await sessions.get(request)
    if session is None:
        raise web.HTTPUnauthorized(text="sign in first")
    if not sessions.same_origin(request):
        raise web.HTTPForbidden(text="cross-site connection refused")
    await may_run_occurrence(request.app[ACCESS], session.principal, _occurrence_id(request))
    hub = request.app[CONVERSATIONS]
    conversation = await hub.conversation(_occurrence_id(request))  # 404 if unknown
    return await socket.watch(request, hub, conversation, "host")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/join/{occurrence_id:[0-9]+}/ws", participant_socket)
    router.add_get("/dashboard/occurrences/{occurrence_id:[0-9]+}/ws", host_socket)
