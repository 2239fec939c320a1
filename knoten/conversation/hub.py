"""The one owner of every date's conversation: who takes part, what was said, which questions
are open, the chat mode; and the pages connected to it.

Each connected page is a :class:`~knoten.conversation.subscriber.Subscriber`; an event is
serialized and framed once and written to every page (through a bounded queue for a page that
is behind; one too far behind is cut loose and reconnects). Every (re)connect begins with a
full snapshot, so a page that was away shows what it missed without duplicates. Changes are
written to the database before they are announced.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from knoten.conversation import wire
from knoten.conversation.rules import (
    ChatForbidden,
    ChatLimits,
    ChatMode,
    ChatRefused,
    ChatTargetNotFound,
    QuestionRank,
    QuestionState,
    TokenBucket,
    check_may_write,
    clean_message,
    clean_name,
    question_order,
)
from knoten.conversation.store import ConversationStore, MessageRecord, ParticipantRecord
from knoten.conversation.subscriber import Role, Subscriber, text_frame

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DateContext:
    """What the conversation needs to know about its date (read at every connect)."""

    occurrence_id: int
    title: str
    start_utc: datetime
    timezone: str
    recorded: bool
    partners: tuple[str, ...]
    open: bool  # False once the date is over or cancelled: the chat is read-only

    @property
    def consent_required(self) -> bool:
        """Recorded or broadcast dates need the participant's acknowledgement first."""
        return self.recorded or bool(self.partners)


@dataclass
class Conversation:
    context: DateContext
    mode: ChatMode
    participants: dict[int, ParticipantRecord]
    messages: dict[int, MessageRecord]
    votes: set[tuple[int, int]]
    subscribers: set[Subscriber] = field(default_factory=set)
    buckets: dict[int, TokenBucket] = field(default_factory=dict)
    #: Whose camera each video slot of the stage carries (told by the media side).
    cameras: tuple[int | None, ...] = ()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.context.timezone)

    def connected(self, participant_id: int) -> bool:
        return any(s.participant_id == participant_id for s in self.subscribers)

    def connected_participants(self) -> set[int]:
        return {s.participant_id for s in self.subscribers if s.participant_id is not None}


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ConversationHub:
    def __init__(
        self,
        store: ConversationStore,
        context: Callable[[int], Awaitable[DateContext]],
        *,
        limits: ChatLimits | None = None,
        now: Callable[[], datetime],
        monotonic: Callable[[], float] = time.monotonic,
        on_stage: Callable[[int, set[int], set[int]], Awaitable[None]] | None = None,
    ) -> None:
        self._store = store
        self._context = context
        self.limits = limits or ChatLimits()
        self._now = now
        self._monotonic = monotonic
        self._dates: dict[int, Conversation] = {}
        self._lock = asyncio.Lock()
        # Told the speakers on stage and the muted ones whenever they change (the media side
        # admits only the former and forwards nothing of the latter).
        self._on_stage = on_stage

    # -- loading --------------------------------------------------------------------------------

    async def date(self, occurrence_id: int) -> DateContext:
        """What the conversation knows of the date (OccurrenceNotFound if unknown)."""
        return await self._context(occurrence_id)

    async def conversation(self, occurrence_id: int) -> Conversation:
        """The live state of a date, loaded on first use; its context refreshed."""
        context = await self._context(occurrence_id)  # OccurrenceNotFound for unknown dates
        async with self._lock:
            conversation = self._dates.get(occurrence_id)
            if conversation is None:
                conversation = Conversation(
                    context=context,
                    mode=await self._store.mode(occurrence_id),
                    participants={p.id: p for p in await self._store.participants(occurrence_id)},
                    messages={m.id: m for m in await self._store.messages(occurrence_id)},
                    votes=set(await self._store.voters(occurrence_id)),
                )
                self._dates[occurrence_id] = conversation
            conversation.context = context
            return conversation

    # -- connections ----------------------------------------------------------------------------

    async def join(
        self, occurrence_id: int, secret: str | None, name: object
    ) -> tuple[Conversation, ParticipantRecord, str | None]:
        """The participant behind ``secret`` (or a new one): (conversation, participant, the new
        secret or None). Raises ChatRefused("removed") for a removed one, ("full") at the limit."""
        conversation = await self.conversation(occurrence_id)
        participant = None
        if secret:
            participant = await self._store.participant_by_secret(secret_hash(secret))
            if participant is not None and participant.occurrence_id != occurrence_id:
                participant = None  # a secret of another date is simply not one of this date
        if participant is not None and participant.removed:
            raise ChatRefused("removed")
        connected = conversation.connected_participants()
        if (participant is None or participant.id not in connected) and len(
            connected
        ) >= self.limits.max_participants:
            raise ChatRefused("full")
        new_secret = None
        if participant is None:
            new_secret = secrets.token_urlsafe(24)
            display = clean_name(name) if name else "Gast"
            participant = await self._store.create_participant(
                occurrence_id, secret_hash(new_secret), display, self._now()
            )
            log.info("occurrence %s: participant %s joined", occurrence_id, participant.id)
        conversation.participants[participant.id] = participant
        return conversation, participant, new_secret

    def subscribe(self, conversation: Conversation, subscriber: Subscriber) -> None:
        if subscriber.participant_id is not None:
            participant = conversation.participants[subscriber.participant_id]
            participant.connected_at = participant.connected_at or self._now()
        conversation.subscribers.add(subscriber)
        subscriber.push(wire.dumps(self.snapshot(conversation, subscriber)))
        if subscriber.participant_id is not None:
            self._announce_participant(conversation, subscriber.participant_id)

    def unsubscribe(self, conversation: Conversation, subscriber: Subscriber) -> None:
        conversation.subscribers.discard(subscriber)
        if subscriber.participant_id is not None:
            self._announce_participant(conversation, subscriber.participant_id)

    def snapshot(self, conversation: Conversation, subscriber: Subscriber) -> dict[str, Any]:
        zone = conversation.zone
        context = conversation.context
        document: dict[str, Any] = {
            "type": "snapshot",
            "mode": conversation.mode.value,
            "open": context.open,
            "consent_required": context.consent_required,
            "recorded": context.recorded,
            "partners": list(context.partners),
            "messages": [
                wire.message_json(m, zone) for m in conversation.messages.values() if not m.hidden
            ],
            "questions": self.question_ids(conversation),
            "floor": wire.floor_json(conversation.participants.values(), conversation.cameras),
        }
        if subscriber.participant_id is not None:
            you = conversation.participants[subscriber.participant_id]
            document["you"] = wire.participant_json(you, True)
            document["voted"] = sorted(
                mid for mid, pid in conversation.votes if pid == subscriber.participant_id
            )
        if subscriber.role == "host":
            document["participants"] = self._participants_json(conversation)
        return document

    def _participants_json(self, conversation: Conversation) -> list[dict[str, Any]]:
        online = conversation.connected_participants()
        return [
            wire.participant_json(p, p.id in online) for p in conversation.participants.values()
        ]

    def question_ids(self, conversation: Conversation) -> list[int]:
        ranks = [
            QuestionRank(m.id, m.votes, m.question_state)
            for m in conversation.messages.values()
            if m.question_state is not None and not m.hidden
        ]
        return question_order(ranks)

    # -- what participants do -------------------------------------------------------------------

    async def consent(self, conversation: Conversation, participant_id: int) -> None:
        participant = conversation.participants[participant_id]
        if not participant.consented:
            await self._store.update_participant(participant_id, consented_at=self._now())
            participant.consented = True
        self._announce_participant(conversation, participant_id)

    async def rename(self, conversation: Conversation, participant_id: int, name: object) -> None:
        participant = conversation.participants[participant_id]
        participant.name = clean_name(name)
        await self._store.update_participant(participant_id, name=participant.name)
        self._announce_participant(conversation, participant_id)

    async def say(
        self,
        conversation: Conversation,
        participant_id: int | None,
        text: object,
        *,
        question: bool = False,
        host_name: str = "Kursleitung",
    ) -> MessageRecord:
        """A new message from a participant, or from the host when ``participant_id`` is None."""
        host = participant_id is None
        participant = None if host else conversation.participants[participant_id]
        if not conversation.context.open:
            raise ChatRefused("closed")
        check_may_write(
            mode=conversation.mode,
            question=question,
            consented=host or self._consented(conversation, participant),
            muted=participant is not None and participant.chat_muted,
            host=host,
        )
        cleaned = clean_message(text, self.limits)
        if participant is not None and not self._bucket(conversation, participant.id).take(
            self._monotonic()
        ):
            raise ChatRefused("rate_limited")
        message = MessageRecord(
            id=0,
            occurrence_id=conversation.context.occurrence_id,
            participant_id=participant_id,
            author=host_name if participant is None else participant.name,
            role="host" if host else "participant",
            text=cleaned,
            question_state=QuestionState.OPEN if question else None,
            votes=0,
            hidden=False,
            created_at=self._now(),
        )
        message.id = await self._store.add_message(message)
        conversation.messages[message.id] = message
        self._announce_message(conversation, message)
        return message

    @staticmethod
    def _consented(conversation: Conversation, participant: ParticipantRecord | None) -> bool:
        """Consent counts only where the date asks for it (recorded or broadcast)."""
        if not conversation.context.consent_required:
            return True
        return participant is not None and participant.consented

    def _bucket(self, conversation: Conversation, participant_id: int) -> TokenBucket:
        bucket = conversation.buckets.get(participant_id)
        if bucket is None:
            limits = self.limits
            bucket = TokenBucket(limits.rate_per_s, limits.burst, self._monotonic())
            conversation.buckets[participant_id] = bucket
        return bucket

    async def vote(
        self, conversation: Conversation, participant_id: int, message_id: object
    ) -> None:
        message = self._question(conversation, message_id)
        if not self._consented(conversation, conversation.participants[participant_id]):
            raise ChatRefused("consent_required")
        if message.question_state is QuestionState.ANSWERED:
            raise ChatRefused("answered")
        if (message.id, participant_id) in conversation.votes:
            raise ChatRefused("voted")
        if await self._store.add_vote(message.id, participant_id):
            conversation.votes.add((message.id, participant_id))
            message.votes += 1
            self._announce_message(conversation, message)
            # Only the voter's own pages learn that it was them (votes are anonymous).
            mine = wire.dumps({"type": "voted", "message": message.id})
            for subscriber in list(conversation.subscribers):
                if subscriber.participant_id == participant_id:
                    subscriber.push(mine)

    def _question(self, conversation: Conversation, message_id: object) -> MessageRecord:
        message = self._message(conversation, message_id)
        if message.question_state is None:
            raise ChatRefused("not_a_question")
        return message

    @staticmethod
    def _message(conversation: Conversation, message_id: object) -> MessageRecord:
        if not isinstance(message_id, int) or isinstance(message_id, bool):
            raise ChatRefused("invalid", "message must be a message id")
        message = conversation.messages.get(message_id)
        if message is None or message.hidden:
            raise ChatTargetNotFound("no_such_message")
        return message

    # -- what the host does ---------------------------------------------------------------------

    async def hide(self, occurrence_id: int, message_id: int) -> None:
        conversation = await self.conversation(occurrence_id)
        message = self._message(conversation, message_id)
        await self._store.update_message(message.id, hidden=True)
        message.hidden = True
        self._broadcast(conversation, {"type": "removed", "id": message.id,
                                       "questions": self.question_ids(conversation)})  # fmt: skip

    async def set_question_state(
        self, occurrence_id: int, message_id: int, state: QuestionState
    ) -> MessageRecord:
        conversation = await self.conversation(occurrence_id)
        message = self._question(conversation, message_id)
        changed = [message]
        if state is QuestionState.ANSWERING:
            # One question is answered at a time: the one before it counts as answered.
            for other in conversation.messages.values():
                if other.question_state is QuestionState.ANSWERING and other.id != message.id:
                    changed.append(other)
        for item in changed:
            new_state = state if item is message else QuestionState.ANSWERED
            await self._store.update_message(item.id, question_state=new_state)
            item.question_state = new_state
            self._announce_message(conversation, item)
        return message

    async def set_mode(self, occurrence_id: int, mode: ChatMode) -> None:
        conversation = await self.conversation(occurrence_id)
        await self._store.set_mode(occurrence_id, mode)
        conversation.mode = mode
        self._broadcast(conversation, {"type": "mode", "mode": mode.value})

    async def mute(self, occurrence_id: int, participant_id: int, muted: bool) -> ParticipantRecord:
        conversation = await self.conversation(occurrence_id)
        participant = self._participant(conversation, participant_id)
        await self._store.update_participant(participant_id, chat_muted=muted)
        participant.chat_muted = muted
        self._announce_participant(conversation, participant_id)
        return participant

    async def participants(self, occurrence_id: int) -> list[dict[str, Any]]:
        return self._participants_json(await self.conversation(occurrence_id))

    async def visible_messages(
        self, occurrence_id: int
    ) -> tuple[Conversation, list[MessageRecord]]:
        conversation = await self.conversation(occurrence_id)
        return conversation, [m for m in conversation.messages.values() if not m.hidden]

    # -- the floor: hands and stage -------------------------------------------------------------

    async def raise_hand(
        self, conversation: Conversation, participant_id: int, raised: bool
    ) -> None:
        participant = conversation.participants[participant_id]
        if raised and not participant.hand_raised:
            if not self._consented(conversation, participant):
                raise ChatRefused("consent_required")
            if participant.on_stage:
                raise ChatRefused("already_on_stage")
            hands = sum(p.hand_raised for p in conversation.participants.values())
            if hands >= self.limits.max_hands:
                raise ChatRefused("hands_full")
            participant.hand_raised_at = self._monotonic()
        participant.hand_raised = raised
        self._announce_floor(conversation, participant_id)

    async def set_stage(
        self, occurrence_id: int, participant_id: int, on: bool
    ) -> ParticipantRecord:
        """Host: let a participant speak (``on``) or take them off; a speaker may leave."""
        conversation = await self.conversation(occurrence_id)
        participant = self._participant(conversation, participant_id)
        if on and not participant.on_stage:
            if participant.removed:
                raise ChatRefused("removed")
            if not conversation.connected(participant_id):
                raise ChatRefused("not_connected")
            speakers = sum(p.on_stage for p in conversation.participants.values())
            if speakers >= self.limits.max_stage:
                raise ChatRefused("stage_full")
            participant.hand_raised = False
        participant.on_stage = on
        participant.sound_muted = participant.sound_muted and on
        self._announce_floor(conversation, participant_id)
        await self._stage_changed(conversation)
        return participant

    async def remove(self, occurrence_id: int, participant_id: int) -> ParticipantRecord:
        """Host: end this participant's own session for the date; the shared link keeps working
        for everyone else, and this browser cannot come back."""
        conversation = await self.conversation(occurrence_id)
        participant = self._participant(conversation, participant_id)
        await self._store.update_participant(participant_id, removed=True)
        participant.removed = True
        was_speaking = participant.on_stage
        participant.on_stage = participant.hand_raised = False
        refusal = wire.dumps({"type": "error", "code": "removed", "fatal": True})
        for subscriber in list(conversation.subscribers):
            if subscriber.participant_id == participant_id:
                subscriber.push(refusal)
                subscriber.push(None)  # closes the page after it has read why
        log.info("occurrence %s: participant %s removed", occurrence_id, participant_id)
        self._announce_floor(conversation, participant_id)
        if was_speaking:
            await self._stage_changed(conversation)
        return participant

    async def identify(self, occurrence_id: int, secret: str | None) -> ParticipantRecord:
        """The participant whose own secret this is (for the media doors of the join page)."""
        conversation = await self.conversation(occurrence_id)
        record = await self._store.participant_by_secret(secret_hash(secret)) if secret else None
        participant = None
        if record is not None and record.occurrence_id == occurrence_id:
            participant = conversation.participants.setdefault(record.id, record)
        if participant is None:
            raise ChatForbidden("not_a_participant")
        if participant.removed:
            raise ChatForbidden("removed")
        return participant

    @staticmethod
    def speakers(conversation: Conversation) -> set[int]:
        return {p.id for p in conversation.participants.values() if p.on_stage}

    @staticmethod
    def muted_speakers(conversation: Conversation) -> set[int]:
        return {p.id for p in conversation.participants.values() if p.on_stage and p.sound_muted}

    async def mute_sound(
        self, occurrence_id: int, participant_id: int, muted: bool
    ) -> ParticipantRecord:
        """Host: nobody hears this speaker (their microphone stays connected) until unmuted."""
        conversation = await self.conversation(occurrence_id)
        participant = self._participant(conversation, participant_id)
        if muted and not participant.on_stage:
            raise ChatRefused("not_on_stage")
        participant.sound_muted = muted
        self._announce_floor(conversation, participant_id)
        await self._stage_changed(conversation)
        return participant

    def set_cameras(self, occurrence_id: int, cameras: tuple[int | None, ...]) -> None:
        """Whose camera each video slot carries now: told everyone with the floor. Ignored for
        a date whose conversation is not loaded (nobody is on its stage then)."""
        conversation = self._dates.get(occurrence_id)
        if conversation is None or conversation.cameras == cameras:
            return
        conversation.cameras = cameras
        self._broadcast(conversation, wire.floor_json(conversation.participants.values(), cameras))

    async def _stage_changed(self, conversation: Conversation) -> None:
        if self._on_stage is not None:
            await self._on_stage(
                conversation.context.occurrence_id,
                self.speakers(conversation),
                self.muted_speakers(conversation),
            )

    async def left(self, conversation: Conversation, participant_id: int) -> None:
        """A participant's last page went away: their hand goes down and they leave the stage."""
        participant = conversation.participants.get(participant_id)
        if participant is None or conversation.connected(participant_id):
            return
        was_speaking = participant.on_stage
        if participant.hand_raised or was_speaking:
            participant.hand_raised = participant.on_stage = False
            self._announce_floor(conversation, participant_id)
        if was_speaking:
            await self._stage_changed(conversation)

    @staticmethod
    def _participant(conversation: Conversation, participant_id: int) -> ParticipantRecord:
        participant = conversation.participants.get(participant_id)
        if participant is None:
            raise ChatTargetNotFound("no_such_participant")
        return participant

    # -- retention ------------------------------------------------------------------------------

    async def purge(self, occurrence_id: int) -> int:
        """Delete the date's conversation (retention); connected pages are closed."""
        async with self._lock:
            conversation = self._dates.pop(occurrence_id, None)
        if conversation is not None:
            for subscriber in list(conversation.subscribers):
                subscriber.close()
        deleted = await self._store.purge(occurrence_id)
        if deleted:
            log.info("occurrence %s: %d chat message(s) deleted", occurrence_id, deleted)
        return deleted

    async def aclose(self) -> None:
        """Every connected page is told to close (it reconnects to the next service)."""
        for conversation in self._dates.values():
            for subscriber in list(conversation.subscribers):
                subscriber.close()

    # -- announcing -----------------------------------------------------------------------------

    def _broadcast(
        self, conversation: Conversation, event: dict[str, Any], roles: set[Role] | None = None
    ) -> None:
        payload = wire.dumps(event)  # serialized and framed once for every page
        frame = text_frame(payload.encode())
        for subscriber in list(conversation.subscribers):
            if roles is None or subscriber.role in roles:
                subscriber.deliver(payload, frame)

    def _announce_message(self, conversation: Conversation, message: MessageRecord) -> None:
        event: dict[str, Any] = {
            "type": "message",
            "message": wire.message_json(message, conversation.zone),
        }
        if message.question_state is not None:
            event["questions"] = self.question_ids(conversation)
        self._broadcast(conversation, event)

    def _announce_floor(self, conversation: Conversation, participant_id: int) -> None:
        floor = wire.floor_json(conversation.participants.values(), conversation.cameras)
        self._broadcast(conversation, floor)
        self._announce_participant(conversation, participant_id)

    def _announce_participant(self, conversation: Conversation, participant_id: int) -> None:
        participant = conversation.participants[participant_id]
        data = wire.participant_json(participant, conversation.connected(participant_id))
        payload = wire.dumps({"type": "participant", "participant": data})
        for subscriber in list(conversation.subscribers):
            if subscriber.role == "host" or subscriber.participant_id == participant_id:
                subscriber.push(payload)
