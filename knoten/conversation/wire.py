"""What the conversation looks like outside: the JSON events the pages receive, and the Markdown
and JSON exports the host downloads. Times are the room's local time."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from knoten.conversation.store import MessageRecord, ParticipantRecord


def dumps(event: dict[str, Any]) -> str:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


def message_json(message: MessageRecord, zone: ZoneInfo) -> dict[str, Any]:
    local = message.created_at.astimezone(zone)
    return {
        "id": message.id,
        "author": message.author,
        "role": message.role,
        "participant": message.participant_id,
        "text": message.text,
        "question": message.question_state is not None,
        "state": message.question_state.value if message.question_state else None,
        "votes": message.votes,
        "at": local.isoformat(timespec="seconds"),
        "time": local.strftime("%H:%M"),
    }


def participant_json(participant: ParticipantRecord, connected: bool) -> dict[str, Any]:
    return {
        "id": participant.id,
        "name": participant.name,
        "consented": participant.consented,
        "chat_muted": participant.chat_muted,
        "removed": participant.removed,
        "connected": connected,
        "hand_raised": participant.hand_raised,
        "on_stage": participant.on_stage,
        "sound_muted": participant.sound_muted,
        "connected_at": (
            participant.connected_at.isoformat(timespec="seconds")
            if participant.connected_at
            else None
        ),
    }


def floor_json(
    participants: Iterable[ParticipantRecord], cameras: tuple[int | None, ...] = ()
) -> dict[str, Any]:
    """Who has raised a hand (in the order they did) and who is on stage: shown to everyone;
    ``cameras``: whose camera each video slot carries (the pages name the tiles by it)."""
    people = list(participants)
    hands = sorted((p for p in people if p.hand_raised), key=lambda p: p.hand_raised_at)
    names = {p.id: p.name for p in people}
    return {
        "type": "floor",
        "hands": [{"id": p.id, "name": p.name} for p in hands],
        "stage": [
            {"id": p.id, "name": p.name, "muted": p.sound_muted} for p in people if p.on_stage
        ],
        "cameras": [
            None if pid is None else {"id": pid, "name": names.get(pid, "")} for pid in cameras
        ],
    }


def export_json(title: str, messages: Iterable[MessageRecord], zone: ZoneInfo) -> str:
    document = {"title": title, "messages": [message_json(m, zone) for m in messages]}
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")
_STATES_DE = {"open": "offen", "answering": "wird beantwortet", "answered": "beantwortet"}


def _md(text: str) -> str:
    # Shown as text in any Markdown viewer: no links, emphasis or HTML from a participant.
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text).replace("\n", "  \n  ")


def export_markdown(
    title: str, start: datetime, messages: Iterable[MessageRecord], zone: ZoneInfo
) -> str:
    lines = [
        f"# Chat: {_md(title)}",
        "",
        f"{start.astimezone(zone):%d.%m.%Y %H:%M} ({zone.key})",
        "",
    ]
    for message in messages:
        when = message.created_at.astimezone(zone).strftime("%H:%M")
        label = _md(message.author) + (" (Kursleitung)" if message.role == "host" else "")
        if message.question_state is not None:
            state = _STATES_DE[message.question_state.value]
            label += f" — Frage, {message.votes} Stimme(n), {state}"
        lines.append(f"- **{when} {label}:** {_md(message.text)}")
    return "\n".join(lines) + "\n"
