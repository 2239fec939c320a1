"""Persistence of the conversation: participants, messages, votes and the chat mode, with
SQLAlchemy Core on the service's async engine. Plain reads and writes; the rules live in
:mod:`knoten.conversation.rules` and the live state in :mod:`knoten.conversation.hub`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from knoten.conversation.rules import ChatMode, QuestionState
from knoten.conversation.tables import chat_messages, chat_settings, participants, question_votes


@dataclass(slots=True)
class ParticipantRecord:
    id: int
    occurrence_id: int
    name: str
    consented: bool
    chat_muted: bool
    removed: bool
    created_at: datetime
    # The floor: live state of this run of the service, not stored (a restart lowers hands and
    # empties the stage, as a reconnecting speaker has to be let on again anyway).
    hand_raised: bool = False
    hand_raised_at: float = 0.0  # monotonic: hands are listed in the order they went up
    on_stage: bool = False
    sound_muted: bool = False  # on stage, but the host muted their microphone
    connected_at: datetime | None = None


@dataclass(slots=True)
class MessageRecord:
    id: int
    occurrence_id: int
    participant_id: int | None
    author: str
    role: str
    text: str
    question_state: QuestionState | None
    votes: int
    hidden: bool
    created_at: datetime


def _participant(row: Any) -> ParticipantRecord:
    return ParticipantRecord(
        id=row.id,
        occurrence_id=row.occurrence_id,
        name=row.name,
        consented=row.consented_at is not None,
        chat_muted=row.chat_muted,
        removed=row.removed,
        created_at=row.created_at,
    )


def _message(row: Any) -> MessageRecord:
    state = QuestionState(row.question_state) if row.question_state else None
    return MessageRecord(
        id=row.id,
        occurrence_id=row.occurrence_id,
        participant_id=row.participant_id,
        author=row.author,
        role=row.role,
        text=row.text,
        question_state=state,
        votes=row.votes,
        hidden=row.hidden,
        created_at=row.created_at,
    )


_INSERT_MESSAGE = insert(chat_messages)


class ConversationStore:
    def __init__(self, engine: Callable[[], AsyncEngine]) -> None:
        # A provider, because the engine exists only once the database component has started.
        self._engine = engine

    async def create_participant(
        self, occurrence_id: int, secret_hash: str, name: str, now: datetime
    ) -> ParticipantRecord:
        values = {"occurrence_id": occurrence_id, "secret_hash": secret_hash, "name": name,
                  "chat_muted": False, "removed": False, "created_at": now}  # fmt: skip
        async with self._engine().begin() as conn:
            result = await conn.execute(insert(participants).values(**values))
        return ParticipantRecord(result.inserted_primary_key[0], occurrence_id, name, False,
                                 False, False, now)  # fmt: skip

    async def participant_by_secret(self, secret_hash: str) -> ParticipantRecord | None:
        async with self._engine().connect() as conn:
            row = (
                await conn.execute(
                    select(participants).where(participants.c.secret_hash == secret_hash)
                )
            ).first()
        return None if row is None else _participant(row)

    async def participants(self, occurrence_id: int) -> list[ParticipantRecord]:
        query = select(participants).where(participants.c.occurrence_id == occurrence_id)
        async with self._engine().connect() as conn:
            return [
                _participant(row) for row in await conn.execute(query.order_by(participants.c.id))
            ]

    async def update_participant(self, participant_id: int, **values: Any) -> None:
        async with self._engine().begin() as conn:
            await conn.execute(
                update(participants).where(participants.c.id == participant_id).values(**values)
            )

    async def add_message(self, message: MessageRecord) -> int:
        state = message.question_state.value if message.question_state else None
        values = {"occurrence_id": message.occurrence_id, "participant_id": message.participant_id,
                  "author": message.author, "role": message.role, "text": message.text,
                  "question_state": state, "votes": 0, "hidden": False,
                  "created_at": message.created_at}  # fmt: skip
        async with self._engine().begin() as conn:
            # One prebuilt statement with the values as parameters: SQLAlchemy caches its
            # compiled form instead of building a new statement for every message.
            result = await conn.execute(_INSERT_MESSAGE, values)
        return int(result.inserted_primary_key[0])

    async def messages(self, occurrence_id: int) -> list[MessageRecord]:
        query = select(chat_messages).where(chat_messages.c.occurrence_id == occurrence_id)
        async with self._engine().connect() as conn:
            return [_message(row) for row in await conn.execute(query.order_by(chat_messages.c.id))]

    async def update_message(self, message_id: int, **values: Any) -> None:
        if isinstance(values.get("question_state"), QuestionState):
            values["question_state"] = values["question_state"].value
        async with self._engine().begin() as conn:
            await conn.execute(
                update(chat_messages).where(chat_messages.c.id == message_id).values(**values)
            )

    async def add_vote(self, message_id: int, participant_id: int) -> bool:
        """Count one vote; False when this participant voted for it before."""
        try:
            async with self._engine().begin() as conn:
                await conn.execute(
                    insert(question_votes).values(
                        message_id=message_id, participant_id=participant_id
                    )
                )
                await conn.execute(
                    update(chat_messages)
                    .where(chat_messages.c.id == message_id)
                    .values(votes=chat_messages.c.votes + 1)
                )
        except IntegrityError:
            return False
        return True

    async def voters(self, occurrence_id: int) -> list[tuple[int, int]]:
        """(message id, participant id) of every vote on this date's questions."""
        query = (
            select(question_votes.c.message_id, question_votes.c.participant_id)
            .join(chat_messages, chat_messages.c.id == question_votes.c.message_id)
            .where(chat_messages.c.occurrence_id == occurrence_id)
        )
        async with self._engine().connect() as conn:
            return [(row[0], row[1]) for row in await conn.execute(query)]

    async def mode(self, occurrence_id: int) -> ChatMode:
        query = select(chat_settings.c.mode).where(chat_settings.c.occurrence_id == occurrence_id)
        async with self._engine().connect() as conn:
            value = (await conn.execute(query)).scalar()
        return ChatMode(value) if value else ChatMode.OPEN

    async def set_mode(self, occurrence_id: int, mode: ChatMode) -> None:
        async with self._engine().begin() as conn:
            changed = await conn.execute(
                update(chat_settings)
                .where(chat_settings.c.occurrence_id == occurrence_id)
                .values(mode=mode.value)
            )
            if changed.rowcount == 0:
                await conn.execute(
                    insert(chat_settings).values(occurrence_id=occurrence_id, mode=mode.value)
                )

    async def occurrences_with_messages(self) -> list[int]:
        query = select(chat_messages.c.occurrence_id).group_by(chat_messages.c.occurrence_id)
        async with self._engine().connect() as conn:
            return [row[0] for row in await conn.execute(query)]

    async def message_count(self, occurrence_id: int) -> int:
        query = select(func.count()).where(chat_messages.c.occurrence_id == occurrence_id)
        async with self._engine().connect() as conn:
            return int((await conn.execute(query)).scalar() or 0)

    async def purge(self, occurrence_id: int) -> int:
        """Delete everything of the date's conversation; the number of messages deleted."""
        ids = select(chat_messages.c.id).where(chat_messages.c.occurrence_id == occurrence_id)
        async with self._engine().begin() as conn:
            await conn.execute(delete(question_votes).where(question_votes.c.message_id.in_(ids)))
            result = await conn.execute(
                delete(chat_messages).where(chat_messages.c.occurrence_id == occurrence_id)
            )
            await conn.execute(
                delete(chat_settings).where(chat_settings.c.occurrence_id == occurrence_id)
            )
        return int(result.rowcount or 0)
