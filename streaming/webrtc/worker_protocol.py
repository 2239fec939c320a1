"""The messages between the service (:mod:`~streaming.webrtc.shards`) and a viewer worker
(:mod:`~streaming.webrtc.worker`), and their one wire format.

One JSON object per line, ``{"type": <class name>, <fields>}``: the service sends :class:`Start`
(the options) first, then requests; the worker answers each request by its ``id`` and sends
events on its own. :func:`encode` and :func:`decode` are the only way in and out; ``decode``
returns None for a line that is not a known message (garbled, or from another version), which
the reader skips. The offer and answer SDP are the only large fields (≤ 64 KiB).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from streaming.webrtc import errors
from streaming.webrtc.errors import ViewerLimitReached, WebrtcError
from streaming.webrtc.metrics import Totals
from streaming.webrtc.options import IceServer, WebrtcOptions
from streaming.webrtc.viewer_registry import OccurrenceStats

# -- service → worker ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Start:
    """The first line: the worker's options."""

    options: WebrtcOptions


@dataclass(frozen=True, slots=True)
class Open:
    id: int
    occurrence_id: int
    feed: str
    title: str


@dataclass(frozen=True, slots=True)
class Close:
    id: int
    occurrence_id: int


@dataclass(frozen=True, slots=True)
class AddViewer:
    id: int
    occurrence_id: int
    offer: str


@dataclass(frozen=True, slots=True)
class RemoveViewer:
    id: int
    occurrence_id: int
    viewer_id: str


@dataclass(frozen=True, slots=True)
class GetViewerStats:
    id: int
    occurrence_id: int
    viewer_id: str


@dataclass(frozen=True, slots=True)
class Shutdown:
    """Close every viewer and exit (end of input does the same)."""


Request = Open | Close | AddViewer | RemoveViewer | GetViewerStats
#: The request classes, for ``isinstance``.
REQUESTS = (Open, Close, AddViewer, RemoveViewer, GetViewerStats)

# -- worker → service: replies ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Done:
    """A request without a result succeeded."""

    id: int


@dataclass(frozen=True, slots=True)
class Answered:
    """The reply to :class:`AddViewer`."""

    id: int
    viewer_id: str
    answer: str


@dataclass(frozen=True, slots=True)
class ViewerStats:
    """The reply to :class:`GetViewerStats` (None: no such viewer)."""

    id: int
    stats: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Failed:
    """A request failed with one of :mod:`streaming.webrtc.errors` (by class name)."""

    id: int
    error: str
    message: str
    retry_after_s: int | None = None

    @classmethod
    def of(cls, request_id: int, exc: WebrtcError) -> Failed:
        retry = exc.retry_after_s if isinstance(exc, ViewerLimitReached) else None
        return cls(request_id, type(exc).__name__, str(exc), retry)

    def exception(self) -> WebrtcError:
        """The error as the exception the web layer maps (unknown names: WebrtcError)."""
        kind = getattr(errors, self.error, None)
        if isinstance(kind, type) and issubclass(kind, ViewerLimitReached):
            return kind(self.message, 2 if self.retry_after_s is None else self.retry_after_s)
        if isinstance(kind, type) and issubclass(kind, WebrtcError):
            return kind(self.message)
        return WebrtcError(self.message)


Reply = Done | Answered | ViewerStats | Failed

# -- worker → service: events -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ViewerClosed:
    occurrence_id: int
    viewer_id: str


@dataclass(frozen=True, slots=True)
class FirstFrame:
    """A viewer's time from the answer to its first video packet."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Report:
    """Once a second: every live occurrence's status, the totals, handshakes in progress."""

    occurrences: dict[int, OccurrenceStats]
    totals: Totals
    connecting: int


@dataclass(frozen=True, slots=True)
class Stopped:
    """The worker closed everything and is exiting."""


Event = ViewerClosed | FirstFrame | Report | Stopped
Message = Start | Request | Shutdown | Reply | Event

_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        Start,
        Open,
        Close,
        AddViewer,
        RemoveViewer,
        GetViewerStats,
        Shutdown,
        Done,
        Answered,
        ViewerStats,
        Failed,
        ViewerClosed,
        FirstFrame,
        Report,
        Stopped,
    )
}


def encode(message: Message) -> bytes:
    """``message`` as one line (with its newline)."""
    fields = dataclasses.asdict(message)
    if isinstance(message, Report):  # JSON object keys are strings
        fields["occurrences"] = {str(o): s.as_dict() for o, s in message.occurrences.items()}
    return (
        json.dumps({"type": type(message).__name__, **fields}, separators=(",", ":")).encode()
        + b"\n"
    )


def decode(line: bytes) -> Message | None:
    """The message on ``line``; None if it is not one (garbled, unknown type or fields)."""
    try:
        data = json.loads(line)
        kind = _TYPES[data.pop("type")]
        if kind is Start:
            return Start(_options(data["options"]))
        if kind is Report:
            return Report(
                {int(o): OccurrenceStats.from_dict(s) for o, s in data["occurrences"].items()},
                Totals(**data["totals"]),
                int(data["connecting"]),
            )
        message: Message = kind(**data)
        return message
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def _options(data: dict[str, Any]) -> WebrtcOptions:
    servers = tuple(
        IceServer(tuple(s["urls"]), s.get("username"), s.get("credential"))
        for s in data.pop("ice_servers", ())
    )
    for key in ("host_addresses", "interfaces"):
        data[key] = tuple(data.get(key, ()))
    return WebrtcOptions(ice_servers=servers, **data)
