"""The interface the service uses for WebRTC viewing, and the status it reads.

:class:`ViewerRegistry` is what the composition root, the WHEP endpoint and the live pipeline
see; :class:`~streaming.webrtc.registry.WebrtcRegistry` (viewers in the service process) and
:class:`~streaming.webrtc.shards.ShardedRegistry` (viewers in worker processes) both implement
it with the same signatures, so the service treats them alike. :class:`OccurrenceStats` is one
occurrence's status as the admin API shows it (:meth:`OccurrenceStats.as_dict`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from streaming.webrtc.metrics import Snapshot
from streaming.webrtc.options import WebrtcOptions


@dataclass(frozen=True, slots=True)
class FeedStats:
    """What one reader of an occurrence's feed delivered."""

    connections: int = 0
    video_packets: int = 0
    audio_packets: int = 0
    bytes: int = 0
    keyframes: int = 0


@dataclass(frozen=True, slots=True)
class OccurrenceStats:
    """Viewer count and counters of one occurrence (``live=False``: no feed, nothing else)."""

    live: bool
    viewers: int = 0
    feed: FeedStats | None = None
    #: Packets and bytes handed to the viewers' senders, packets dropped for lag.
    packets: int = 0
    bytes: int = 0
    dropped: int = 0
    time_to_first_frame_s_max: float | None = None
    #: Viewer worker processes (None: the viewers are in the service process).
    workers: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON body of the admin API (``GET /api/v1/occurrences/{id}/viewers``)."""
        if not self.live:
            return {"live": False, "viewers": self.viewers}
        data: dict[str, Any] = {
            "live": True,
            "viewers": self.viewers,
            "feed": None if self.feed is None else asdict(self.feed),
            "packets": self.packets,
            "bytes": self.bytes,
            "dropped": self.dropped,
            "time_to_first_frame_s_max": self.time_to_first_frame_s_max,
        }
        if self.workers is not None:
            data["workers"] = self.workers
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OccurrenceStats:
        """The inverse of :meth:`as_dict`."""
        feed = data.get("feed")
        return cls(**{**data, "feed": None if feed is None else FeedStats(**feed)})


@runtime_checkable
class ViewerRegistry(Protocol):
    """Owner of every WebRTC feed and viewer (see the module docstring)."""

    options: WebrtcOptions

    async def start(self) -> None:
        """Get ready to serve (checks aiortc, starts worker processes where there are any)."""

    async def aclose(self) -> None:
        """Close every viewer and feed; idempotent, returns when all have stopped."""

    async def open(self, occurrence_id: int, feed: Path, title: str) -> None:
        """Start serving ``feed`` for ``occurrence_id`` (idempotent)."""

    async def close(self, occurrence_id: int) -> None:
        """Stop the occurrence's feed and close its viewers (idempotent)."""

    def is_live(self, occurrence_id: int) -> bool: ...

    def live_occurrences(self) -> set[int]: ...

    def viewer_count(self, occurrence_id: int | None = None) -> int:
        """Viewers of one occurrence, or of all."""

    @property
    def connecting(self) -> int:
        """Viewers in their handshake now."""

    async def add_viewer(self, occurrence_id: int, offer: bytes | str) -> tuple[str, str]:
        """Answer a WHEP offer: ``(viewer_id, answer_sdp)``; raises the errors of
        :mod:`streaming.webrtc.errors`."""

    async def remove_viewer(self, occurrence_id: int, viewer_id: str) -> None:
        """Close one viewer (WHEP DELETE); ViewerNotFound if there is none."""

    async def viewer_stats(self, occurrence_id: int, viewer_id: str) -> dict[str, object] | None:
        """One viewer's counters and send path (None if there is no such viewer)."""

    def stats(self, occurrence_id: int) -> OccurrenceStats:
        """One occurrence's status, for the admin API."""

    def snapshot(self) -> Snapshot:
        """Feeds, viewers and totals, as the metrics collector reads them."""
