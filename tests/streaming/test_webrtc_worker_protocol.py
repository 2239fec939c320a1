"""The service ↔ viewer worker messages: every one survives its line, and a line that is not
a message is recognised as such (the reader skips it)."""

from __future__ import annotations

import pytest

from streaming.webrtc import (
    FeedStats,
    HandshakesBusy,
    IceServer,
    InvalidOffer,
    OccurrenceStats,
    WebrtcOptions,
)
from streaming.webrtc.metrics import Totals
from streaming.webrtc.worker_protocol import (
    AddViewer,
    Answered,
    Close,
    Done,
    Failed,
    FirstFrame,
    GetViewerStats,
    Message,
    Open,
    RemoveViewer,
    Report,
    Shutdown,
    Start,
    Stopped,
    ViewerClosed,
    ViewerStats,
    decode,
    encode,
)

LIVE = OccurrenceStats(True, 2, FeedStats(1, 300, 250, 10_000, 10), 500, 60_000, 3, 0.07, None)
MESSAGES: list[Message] = [
    Start(
        WebrtcOptions(
            ice_servers=(IceServer(("turn:turn.example:3478",), "u", "p"),),
            host_addresses=("127.0.0.1",),
            max_viewers=50,
        )
    ),
    Open(1, 7, "/run/knoten/feed.sock", "Lesekreis"),
    Close(2, 7),
    AddViewer(3, 7, "v=0\r\n..."),
    RemoveViewer(4, 7, "abc"),
    GetViewerStats(5, 7, "abc"),
    Shutdown(),
    Done(1),
    Answered(3, "abc", "v=0\r\nanswer"),
    ViewerStats(5, {"id": "abc", "send_path": {"video": "direct/aes-gcm"}}),
    ViewerStats(6, None),
    Failed(7, "NotLive", "occurrence 7 is not live"),
    ViewerClosed(7, "abc"),
    FirstFrame(0.08),
    Report({7: LIVE, 8: OccurrenceStats(False)}, Totals(3, 500, 60_000, 3, 1), 2),
    Stopped(),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_each_message_survives_its_line(message: Message) -> None:
    line = encode(message)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert decode(line) == message


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"not json\n",
        b"[1, 2]\n",
        b'{"id": 1}\n',
        b'{"type": "Launch"}\n',
        b'{"type": "Open", "id": 1}\n',
    ],
)
def test_a_line_that_is_no_message_decodes_to_none(line: bytes) -> None:
    assert decode(line) is None


def test_failures_come_back_as_the_same_errors() -> None:
    busy = decode(encode(Failed.of(9, HandshakesBusy("wait", 2)))).exception()  # type: ignore[union-attr]
    assert isinstance(busy, HandshakesBusy) and busy.retry_after_s == 2
    invalid = Failed.of(9, InvalidOffer("no video")).exception()
    assert type(invalid) is InvalidOffer and str(invalid) == "no video"
    assert type(Failed(9, "SystemExit", "?").exception()).__name__ == "WebrtcError"
