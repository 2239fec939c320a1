"""The conversation's rules without I/O: cleaning, the rate limit, who may write, question order,
and a sentence for every refusal the pages can receive."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from knoten.conversation.rules import (
    ChatLimits,
    ChatMode,
    ChatRefused,
    QuestionRank,
    QuestionState,
    TokenBucket,
    check_may_write,
    clean_message,
    clean_name,
    question_order,
)
from knoten.conversation.subscriber import (
    DIRECT_WRITE_LIMIT,
    QUEUE_EVENTS,
    Subscriber,
    text_frame,
)
from knoten.web.chat_texts import CHAT_TEXTS, recording_notice

LIMITS = ChatLimits()


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  Hallo  ", "Hallo"),
        ("a\tb\r\nc", "a b \nc"),
        ("\u202eevil\u200b", "evil"),  # bidi override and zero-width space dropped
        ("<b>x</b>", "<b>x</b>"),  # kept as text; the pages never render it as HTML
        ("ä" * 500, "ä" * 500),
    ],
)
def test_clean_message(raw: str, clean: str) -> None:
    assert clean_message(raw, LIMITS) == clean


@pytest.mark.parametrize(("raw", "code"), [("", "empty"), ("\u200b \n", "empty"),
                                           ("x" * 501, "too_long"), (5, "invalid")])  # fmt: skip
def test_refused_messages(raw: object, code: str) -> None:
    with pytest.raises(ChatRefused) as refused:
        clean_message(raw, LIMITS)
    assert refused.value.code == code


def test_names() -> None:
    assert clean_name("  Anna \n Schmidt ") == "Anna Schmidt"
    for bad in ("", "\u200b", "x" * 41, None):
        with pytest.raises(ChatRefused):
            clean_name(bad)


def test_token_bucket_allows_a_burst_then_one_per_second() -> None:
    bucket = TokenBucket(rate=1.0, burst=5, now=0.0)
    assert [bucket.take(0.0) for _ in range(6)] == [True] * 5 + [False]
    assert bucket.wait_s() == pytest.approx(1.0)
    assert bucket.take(0.5) is False
    assert bucket.take(1.0) is True
    assert bucket.take(100.0) and sum(bucket.take(100.0) for _ in range(10)) == 4  # burst cap


@pytest.mark.parametrize(
    ("mode", "question", "consented", "muted", "host", "code"),
    [
        (ChatMode.OPEN, False, True, False, False, None),
        (ChatMode.OPEN, False, False, False, False, "consent_required"),
        (ChatMode.OPEN, False, True, True, False, "muted"),
        (ChatMode.OFF, True, True, False, False, "chat_off"),
        (ChatMode.QUESTIONS, False, True, False, False, "questions_only"),
        (ChatMode.QUESTIONS, True, True, False, False, None),
        (ChatMode.OFF, False, False, True, True, None),  # the host always writes
    ],
)
def test_who_may_write(mode: ChatMode, question: bool, consented: bool, muted: bool,
                       host: bool, code: str | None) -> None:  # fmt: skip
    if code is None:
        check_may_write(mode=mode, question=question, consented=consented, muted=muted, host=host)
        return
    with pytest.raises(ChatRefused) as refused:
        check_may_write(mode=mode, question=question, consented=consented, muted=muted, host=host)
    assert refused.value.code == code


def test_question_order() -> None:
    ranks = [
        QuestionRank(1, 5, QuestionState.ANSWERED),
        QuestionRank(2, 1, QuestionState.OPEN),
        QuestionRank(3, 3, QuestionState.OPEN),
        QuestionRank(4, 0, QuestionState.ANSWERING),
        QuestionRank(5, 3, QuestionState.OPEN),
    ]
    assert question_order(ranks) == [4, 3, 5, 2, 1]


def test_every_refusal_has_a_sentence_in_both_languages() -> None:
    root = Path(__file__).resolve().parents[2]
    sources = [
        *(root / "knoten" / "conversation").glob("*.py"),
        root / "knoten" / "web" / "conversation.py",
        root / "knoten" / "web" / "display.py",
    ]
    pattern = re.compile(r'(?:ChatRefused|ChatTargetNotFound|refuse)\(\s*(?:ws,\s*)?"([a-z_]+)"')
    codes = {code for path in sources for code in pattern.findall(path.read_text("utf-8"))}
    assert {"rate_limited", "consent_required", "full", "removed"} <= codes
    for lang, texts in CHAT_TEXTS.items():
        assert not [c for c in codes if f"chat_{c}" not in texts], lang
    assert CHAT_TEXTS["de"].keys() == CHAT_TEXTS["en"].keys()


def test_recording_notice() -> None:
    assert recording_notice("de", True, ("Innovation Port", "Campus")) == (
        "Diese Veranstaltung wird aufgezeichnet und an Innovation Port, Campus übertragen."
    )
    assert recording_notice("de", False, ()) is None
    assert recording_notice("en", True, ()) == "This event is recorded."


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
def test_text_frame_follows_rfc_6455(size: int) -> None:
    payload = b"x" * size
    frame = text_frame(payload)
    assert frame[0] == 0x81  # FIN, text
    length, offset = frame[1], 2
    assert not length & 0x80  # servers never mask
    if length == 126:
        length, offset = int.from_bytes(frame[2:4], "big"), 4
    elif length == 127:
        length, offset = int.from_bytes(frame[2:10], "big"), 10
    assert length == size and frame[offset:] == payload


class _Transport(asyncio.WriteTransport):
    """A transport that records writes and reports a chosen buffer size (the rule's inputs)."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.buffered = 0

    def write(self, data: bytes) -> None:  # type: ignore[override]
        self.written.append(bytes(data))

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def is_closing(self) -> bool:
        return False


async def test_events_keep_their_order_between_direct_writes_and_the_queue() -> None:
    transport = _Transport()
    page = Subscriber("participant", 1, transport)
    page.deliver("a", text_frame(b"a"))
    assert transport.written == [text_frame(b"a")] and page.queue.empty()
    transport.buffered = DIRECT_WRITE_LIMIT  # the page is not reading: queue from here on
    page.deliver("b", text_frame(b"b"))
    transport.buffered = 0
    page.deliver("c", text_frame(b"c"))  # still behind "b": it must wait in the queue too
    assert len(transport.written) == 1
    assert [page.queue.get_nowait(), page.queue.get_nowait()] == ["b", "c"]
    for index in range(QUEUE_EVENTS + 1):  # far behind: cut loose, it reconnects
        page.push(str(index))
    assert page.closed and page.queue.get_nowait() is None
