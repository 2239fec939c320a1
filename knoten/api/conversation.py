"""The conversation of a date for staff and scripts: messages, questions, chat mode, participants
and the export (Markdown, JSON). Pages get the same over their WebSocket
(knoten/web/conversation.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from knoten.conversation import wire
from knoten.conversation.rules import ChatMode, QuestionState
from knoten.conversation.store import ParticipantRecord
from knoten.http.openapi import Operation
from knoten.http.requests import path_int, read_model, read_query
from knoten.keys import CONVERSATIONS

BASE = "/api/v1/occurrences/{occurrence_id}"


class MessageOut(BaseModel):
    id: int
    author: str
    role: Literal["participant", "host"]
    participant: int | None
    text: str
    question: bool
    state: Literal["open", "answering", "answered"] | None
    votes: int
    at: str = Field(description="RFC 3339 in the room's time zone")
    time: str = Field(description="HH:MM, the room's local time")


class MessagePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hidden: Literal[True] | None = Field(default=None, description="true hides it for everyone")
    state: Literal["open", "answering", "answered"] | None = Field(
        default=None, description="of a question: 'answering' shows it on the room display"
    )

    @model_validator(mode="after")
    def _one(self) -> MessagePatch:
        if (self.hidden is None) == (self.state is None):
            raise ValueError("give either hidden or state")
        return self


class ChatSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["open", "questions", "off"] = Field(
        description="open: everyone writes; questions: only questions; off: only the host"
    )


class ParticipantOut(BaseModel):
    id: int
    name: str
    consented: bool
    chat_muted: bool
    removed: bool
    connected: bool
    hand_raised: bool
    on_stage: bool
    sound_muted: bool
    connected_at: datetime | None = Field(description="first connection in this run")


class ParticipantPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    chat_muted: bool | None = Field(default=None, description="true: they cannot write")
    sound_muted: bool | None = Field(
        default=None, description="true: nobody hears them on stage (409 when not on stage)"
    )

    @model_validator(mode="after")
    def _something(self) -> ParticipantPatch:
        if self.chat_muted is None and self.sound_muted is None:
            raise ValueError("give chat_muted or sound_muted")
        return self


class ExportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["markdown", "json"] = "markdown"


def _json(payload: Any, status: int = 200) -> web.Response:
    return web.json_response(payload, status=status, dumps=wire.dumps)


async def list_messages(request: web.Request) -> web.Response:
    conversation, messages = await request.app[CONVERSATIONS].visible_messages(
        path_int(request, "occurrence_id")
    )
    return _json([wire.message_json(m, conversation.zone) for m in messages])


async def update_message(request: web.Request) -> web.Response:
    occurrence_id = path_int(request, "occurrence_id")
    message_id = path_int(request, "message_id")
    body = await read_model(request, MessagePatch)
    hub = request.app[CONVERSATIONS]
    if body.hidden:
        await hub.hide(occurrence_id, message_id)
        return web.Response(status=204)
    assert body.state is not None
    message = await hub.set_question_state(occurrence_id, message_id, QuestionState(body.state))
    conversation = await hub.conversation(occurrence_id)
    return _json(wire.message_json(message, conversation.zone))


async def get_chat(request: web.Request) -> web.Response:
    conversation = await request.app[CONVERSATIONS].conversation(path_int(request, "occurrence_id"))
    return _json({"mode": conversation.mode.value})


async def update_chat(request: web.Request) -> web.Response:
    occurrence_id = path_int(request, "occurrence_id")
    body = await read_model(request, ChatSettings)
    await request.app[CONVERSATIONS].set_mode(occurrence_id, ChatMode(body.mode))
    return _json({"mode": body.mode})


async def list_participants(request: web.Request) -> web.Response:
    return _json(await request.app[CONVERSATIONS].participants(path_int(request, "occurrence_id")))


async def update_participant(request: web.Request) -> web.Response:
    occurrence_id = path_int(request, "occurrence_id")
    participant_id = path_int(request, "participant_id")
    body = await read_model(request, ParticipantPatch)
    hub = request.app[CONVERSATIONS]
    participant = None
    if body.chat_muted is not None:
        participant = await hub.mute(occurrence_id, participant_id, body.chat_muted)
    if body.sound_muted is not None:
        participant = await hub.mute_sound(occurrence_id, participant_id, body.sound_muted)
    assert participant is not None  # the model asks for one of the two
    return await _participant_out(request, participant)


async def _participant_out(request: web.Request, participant: ParticipantRecord) -> web.Response:
    conversation = await request.app[CONVERSATIONS].conversation(participant.occurrence_id)
    return _json(wire.participant_json(participant, conversation.connected(participant.id)))


async def stage_on(request: web.Request) -> web.Response:
    participant = await request.app[CONVERSATIONS].set_stage(
        path_int(request, "occurrence_id"), path_int(request, "participant_id"), True
    )
    return await _participant_out(request, participant)


async def stage_off(request: web.Request) -> web.Response:
    participant = await request.app[CONVERSATIONS].set_stage(
        path_int(request, "occurrence_id"), path_int(request, "participant_id"), False
    )
    return await _participant_out(request, participant)


async def remove_participant(request: web.Request) -> web.Response:
    participant = await request.app[CONVERSATIONS].remove(
        path_int(request, "occurrence_id"), path_int(request, "participant_id")
    )
    return await _participant_out(request, participant)


async def export_messages(request: web.Request) -> web.Response:
    occurrence_id = path_int(request, "occurrence_id")
    query = read_query(request.query, ExportQuery)
    conversation, messages = await request.app[CONVERSATIONS].visible_messages(occurrence_id)
    context = conversation.context
    zone = ZoneInfo(context.timezone)
    if query.format == "json":
        body, content_type, suffix = (
            wire.export_json(context.title, messages, zone),
            "application/json",
            "json",
        )
    else:
        body = wire.export_markdown(context.title, context.start_utc, messages, zone)
        content_type, suffix = "text/markdown", "md"
    return web.Response(
        text=body,
        content_type=content_type,
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="chat-{occurrence_id}.{suffix}"',
            "Cache-Control": "private, no-store",
        },
    )


_M = BASE + "/messages"
OPERATIONS = (
    Operation("GET", _M, list_messages, "Visible chat messages and questions of a date",
              "conversation", response=MessageOut, response_is_list=True, errors=(404,)),
    Operation("GET", _M + "/export", export_messages,
              "Download the chat (Markdown or JSON)", "conversation", query=ExportQuery,
              errors=(404, 422), extra={"x-content-type": "text/markdown"}),
    Operation("PATCH", _M + "/{message_id}", update_message,
              "Hide a message, or set a question's state", "conversation",
              request=MessagePatch, response=MessageOut, errors=(404, 409, 422)),
    Operation("GET", BASE + "/chat", get_chat, "The chat mode of a date", "conversation",
              response=ChatSettings, errors=(404,)),
    Operation("PATCH", BASE + "/chat", update_chat, "Switch the chat: open, questions only, off",
              "conversation", request=ChatSettings, response=ChatSettings, errors=(404, 422)),
    Operation("GET", BASE + "/participants", list_participants,
              "Participants of a date (each with their own session)", "conversation",
              response=ParticipantOut, response_is_list=True, errors=(404,)),
    Operation("PATCH", BASE + "/participants/{participant_id}", update_participant,
              "Mute or unmute a participant's chat or (on stage) sound", "conversation",
              request=ParticipantPatch, response=ParticipantOut, errors=(404, 409, 422)),
    Operation("POST", BASE + "/participants/{participant_id}/stage", stage_on,
              "Let a participant speak (on stage); 409 when the stage is full", "conversation",
              response=ParticipantOut, errors=(404, 409)),
    Operation("DELETE", BASE + "/participants/{participant_id}/stage", stage_off,
              "Take a participant off the stage", "conversation",
              response=ParticipantOut, errors=(404,)),
    Operation("POST", BASE + "/participants/{participant_id}/remove", remove_participant,
              "End a participant's own session for this date (the link keeps working for others)",
              "conversation", response=ParticipantOut, errors=(404,)),
)  # fmt: skip
