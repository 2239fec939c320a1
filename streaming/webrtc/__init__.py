"""WebRTC viewing: one encoded feed per live occurrence, fanned out to browser viewers (WHEP).

The feed (MPEG-TS with H.264 constrained baseline + Opus on a Unix socket) is demuxed once per
occurrence; every viewer gets the same encoded packets (no decoding, no per-viewer encoding).
The service sees a :class:`ViewerRegistry`: :class:`WebrtcRegistry` keeps every hub and peer in
this process, :class:`~streaming.webrtc.shards.ShardedRegistry` in viewer worker processes.
The per-packet send path is :mod:`streaming.webrtc.rtp`; everything of aiortc, aioice and
pylibsrtp is reached through :mod:`streaming.webrtc.aiortc_boundary` (:func:`check_aiortc`).
"""

from streaming.webrtc.aiortc_boundary import AiortcUnsupported, check_aiortc
from streaming.webrtc.errors import (
    HandshakesBusy,
    InvalidOffer,
    NotLive,
    ViewerLimitReached,
    ViewerNotFound,
    WebrtcError,
)
from streaming.webrtc.options import IceServer, WebrtcOptions
from streaming.webrtc.registry import WebrtcRegistry
from streaming.webrtc.viewer_registry import FeedStats, OccurrenceStats, ViewerRegistry

__all__ = [
    "AiortcUnsupported",
    "FeedStats",
    "HandshakesBusy",
    "IceServer",
    "InvalidOffer",
    "NotLive",
    "OccurrenceStats",
    "ViewerLimitReached",
    "ViewerNotFound",
    "ViewerRegistry",
    "WebrtcError",
    "WebrtcOptions",
    "WebrtcRegistry",
    "check_aiortc",
]
