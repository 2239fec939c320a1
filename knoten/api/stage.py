"""The stage's media doors: speakers publish their microphone, and the room display, the host and
the other speakers listen to them (WHIP/WHEP-style: ``POST`` an SDP offer → ``201`` + answer +
``Location``, ``DELETE`` the Location to end). The media plane is :mod:`streaming.dialog`.

    POST   /stage/{occurrence_id}/publish            a speaker on stage (see below)
    DELETE /stage/{occurrence_id}/publish/{resource}
    POST   /stage/{occurrence_id}/listen             host, room display or a speaker
    DELETE /stage/{occurrence_id}/listen/{resource}

Who is asking decides what they may do, checked once here:

- **speaker**: ``Authorization: Bearer <join token>`` and ``X-Knoten-Participant: <their own
  secret>``; publishing needs them on stage (403 ``not_on_stage``); they listen without their
  own voice (mix-minus);
- **room display**: ``Authorization: Bearer <display token>`` of the occurrence's room;
- **host**: the dashboard session cookie with ``X-CSRF-Token``.

Errors are JSON (``/stage/`` is a JSON prefix).
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from knoten.access import may_run_occurrence
from knoten.api.whep import check_join_token
from knoten.http.errors import ApiError
from knoten.http.requests import SDP, bearer, path_int, read_sdp
from knoten.keys import ACCESS, CONVERSATIONS, DISPLAY_LINKS, SCHEDULE, SESSIONS, STAGE_MEDIA
from knoten.web.session import CSRF_HEADER
from streaming.dialog import ListenerKey

PARTICIPANT_HEADER = "X-Knoten-Participant"


async def _sync_stage(request: web.Request, occurrence_id: int) -> None:
    """The media plane admits exactly the speakers the conversation has on stage."""
    hub = request.app[CONVERSATIONS]
    conversation = await hub.conversation(occurrence_id)  # 404 for an unknown date
    request.app[STAGE_MEDIA].set_stage(occurrence_id, hub.speakers(conversation))
    request.app[STAGE_MEDIA].set_muted(occurrence_id, hub.muted_speakers(conversation))


async def _speaker(request: web.Request, occurrence_id: int) -> int:
    check_join_token(request, occurrence_id, bearer(request))
    participant = await request.app[CONVERSATIONS].identify(
        occurrence_id, request.headers.get(PARTICIPANT_HEADER)
    )
    return participant.id


async def _listener(request: web.Request, occurrence_id: int) -> ListenerKey:
    sessions = request.app[SESSIONS]
    session = await sessions.get(request)
    if session is not None:
        if not sessions.check_csrf(request, session, request.headers.get(CSRF_HEADER)):
            raise ApiError(403, "csrf_failed", f"missing or wrong {CSRF_HEADER} header")
        await may_run_occurrence(request.app[ACCESS], session.principal, occurrence_id)
        return ListenerKey.host()
    if PARTICIPANT_HEADER in request.headers:
        return ListenerKey.speaker(await _speaker(request, occurrence_id))
    row = await request.app[SCHEDULE].occurrence(occurrence_id)
    now = datetime.now(UTC).timestamp()
    if request.app[DISPLAY_LINKS].admits(bearer(request), row.room_id, now):
        return ListenerKey.display()
    raise ApiError(401, "unauthorized", "a join, display or dashboard credential is needed",
                   headers={"WWW-Authenticate": 'Bearer realm="knoten-stage"'})  # fmt: skip


def _created(location: str, answer: str) -> web.Response:
    response = web.Response(status=201, body=answer.encode(), content_type=SDP)
    response.headers["Location"] = location
    return response


async def publish(request: web.Request) -> web.Response:
    occurrence_id = path_int(request, "occurrence_id")
    speaker_id = await _speaker(request, occurrence_id)
    offer = await read_sdp(request)
    await _sync_stage(request, occurrence_id)
    resource, answer = await request.app[STAGE_MEDIA].publish(occurrence_id, speaker_id, offer)
    return _created(f"/stage/{occurrence_id}/publish/{resource}", answer)


async def unpublish(request: web.Request) -> web.Response:
    occurrence_id = path_int(request, "occurrence_id")
    speaker_id = await _speaker(request, occurrence_id)
    await request.app[STAGE_MEDIA].unpublish(occurrence_id, speaker_id)
    return web.Response(status=204)


async def listen(request: web.Request) -> web.Response:
    occurrence_id = path_int(request, "occurrence_id")
    listener = await _listener(request, occurrence_id)
    offer = await read_sdp(request)
    await _sync_stage(request, occurrence_id)
    resource, answer = await request.app[STAGE_MEDIA].listen(occurrence_id, listener, offer)
    return _created(f"/stage/{occurrence_id}/listen/{resource}", answer)


async def stop_listening(request: web.Request) -> web.Response:
    occurrence_id = path_int(request, "occurrence_id")
    await _listener(request, occurrence_id)
    await request.app[STAGE_MEDIA].stop_listening(occurrence_id, request.match_info["resource"])
    return web.Response(status=204)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post("/stage/{occurrence_id:[0-9]+}/publish", publish)
    router.add_delete("/stage/{occurrence_id:[0-9]+}/publish/{resource}", unpublish)
    router.add_post("/stage/{occurrence_id:[0-9]+}/listen", listen)
    router.add_delete("/stage/{occurrence_id:[0-9]+}/listen/{resource}", stop_listening)
