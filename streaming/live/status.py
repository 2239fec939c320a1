"""The state of a live session as the host sees it: the room camera and each partner output.

Frozen values, read at the moment they are asked for; the API, the live panel and the
Prometheus collector all render these same objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SourceState = Literal["starting", "standby", "live", "lost"]
OutputState = Literal["starting", "live", "retrying", "failed", "stopped"]
SOURCE_STATES: tuple[SourceState, ...] = ("starting", "standby", "live", "lost")
OUTPUT_STATES: tuple[OutputState, ...] = ("starting", "live", "retrying", "failed", "stopped")


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """The room camera: ``standby`` before the seminar starts, ``lost`` while the slate
    replaces it."""

    state: SourceState
    kind: str
    on_air: Literal["camera", "slate"] | None
    width: int | None
    height: int | None
    fps: float | None
    restarts: int
    #: While the camera is lost: where Knoten reads it (credentials left out), FFmpeg's last
    #: message (secrets masked) and the seconds until the next try.
    address: str | None = None
    problem: str | None = None
    retry_in_s: float | None = None
    #: The room microphone: RMS level of the last 100 ms (dBFS; None: silence or no report
    #: yet) and for how long it has been below the silence threshold (None: it is not).
    audio_level_db: float | None = None
    silent_s: float | None = None


@dataclass(frozen=True, slots=True)
class OutputStatus:
    """One partner destination."""

    name: str
    kind: Literal["rtmp", "srt", "hls"]
    partner_id: int | None
    profile: str | None
    state: OutputState
    bitrate_kbps: float | None
    fps: float | None
    uptime_s: float | None
    restarts: int
    last_error: str | None
    # Load shedding: this partner's own-profile encoder runs a reduced profile just now.
    reduced: bool = False


@dataclass(frozen=True, slots=True)
class LiveStatus:
    source: SourceStatus
    outputs: tuple[OutputStatus, ...]
