"""The rules of a seminar's conversation, free of I/O: what a message and a display name may be,
how fast a participant may write, what the chat mode allows, and the order of the questions.

Refusals are :class:`ChatRefused` with a stable ``code``; the pages turn codes into German or
English sentences, so nothing here speaks a language.
"""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

MAX_MESSAGE_CHARS = 500
MAX_NAME_CHARS = 40


class ChatMode(enum.StrEnum):
    OPEN = "open"  # everyone who consented writes
    QUESTIONS = "questions"  # only questions ("nur Fragen")
    OFF = "off"  # nobody but the host writes


class QuestionState(enum.StrEnum):
    OPEN = "open"
    ANSWERING = "answering"  # the host is answering it now: the room display shows it
    ANSWERED = "answered"


class ChatRefused(Exception):
    """A conversation action was refused; ``code`` names why (see the pages' texts)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(detail or code)
        self.code = code
        self.detail = detail
        self.message = detail or code.replace("_", " ")
        self.field: str | None = None


class ChatForbidden(ChatRefused):
    """Not a participant of this date, or one the host removed (403)."""


class ChatTargetNotFound(ChatRefused):
    """The message or participant named does not exist on this date."""


@dataclass(frozen=True, slots=True)
class ChatLimits:
    max_chars: int = MAX_MESSAGE_CHARS
    rate_per_s: float = 1.0  # sustained messages per second and participant …
    burst: int = 5  # … after a burst of this many
    max_participants: int = 200  # connected chat participants per date
    max_hands: int = 25  # raised hands at once
    max_stage: int = 4  # speakers on stage at once


def _visible(text: str) -> str:
    # Control and format characters (bidi overrides, zero-width) would let one message
    # disguise itself or the ones around it; newlines and tabs become spaces.
    out = []
    for ch in text:
        if ch == "\n":
            out.append(ch)
        elif ch in "\t\r":
            out.append(" ")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co"):
            continue
        else:
            out.append(ch)
    return "".join(out)


def clean_message(text: object, limits: ChatLimits) -> str:
    """The message as it will be stored and shown (as text, never markup)."""
    if not isinstance(text, str):
        raise ChatRefused("invalid", "text must be a string")
    cleaned = _visible(text).strip()
    if not cleaned:
        raise ChatRefused("empty")
    if len(cleaned) > limits.max_chars:
        raise ChatRefused("too_long", f"at most {limits.max_chars} characters")
    return cleaned


def clean_name(name: object) -> str:
    """A display name: 1–40 visible characters on one line."""
    if not isinstance(name, str):
        raise ChatRefused("invalid_name", "name must be a string")
    cleaned = " ".join(_visible(name).split())
    if not cleaned:
        raise ChatRefused("invalid_name", "name is empty")
    if len(cleaned) > MAX_NAME_CHARS:
        raise ChatRefused("invalid_name", f"at most {MAX_NAME_CHARS} characters")
    return cleaned


class TokenBucket:
    """``rate`` tokens per second up to ``burst``; each message takes one. Time is passed in,
    so the rule is tested without sleeping."""

    __slots__ = ("_at", "_burst", "_rate", "_tokens")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._at = now

    def take(self, now: float) -> bool:
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def wait_s(self) -> float:
        """How long until the next message would be taken."""
        return max(0.0, (1.0 - self._tokens) / self._rate)


def check_may_write(
    *, mode: ChatMode, question: bool, consented: bool, muted: bool, host: bool
) -> None:
    """Raise unless a participant (or the host) may write this kind of message now."""
    if host:
        return
    if not consented:
        raise ChatRefused("consent_required")
    if muted:
        raise ChatRefused("muted")
    if mode is ChatMode.OFF:
        raise ChatRefused("chat_off")
    if mode is ChatMode.QUESTIONS and not question:
        raise ChatRefused("questions_only")


@dataclass(frozen=True, slots=True)
class QuestionRank:
    message_id: int
    votes: int
    state: QuestionState


def question_order(questions: Iterable[QuestionRank]) -> list[int]:
    """Questions as the host sees them: the one being answered first, then open ones by votes
    (older first among equals), answered ones last."""
    weight = {QuestionState.ANSWERING: 0, QuestionState.OPEN: 1, QuestionState.ANSWERED: 2}
    ranked = sorted(questions, key=lambda q: (weight[q.state], -q.votes, q.message_id))
    return [q.message_id for q in ranked]
