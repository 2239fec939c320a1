"""WebRTC viewing: one encoded feed per live occurrence, fanned out to browser viewers (WHEP).

The feed (MPEG-TS with H.264 constrained baseline + Opus on a Unix socket) is demuxed once per
occurrence; every viewer gets the same encoded packets (no decoding, no per-viewer encoding).
:class:`~streaming.webrtc.registry.WebrtcRegistry` owns every hub and peer.
"""

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

__all__ = [
    "HandshakesBusy",
    "IceServer",
    "InvalidOffer",
    "NotLive",
    "ViewerLimitReached",
    "ViewerNotFound",
    "WebrtcError",
    "WebrtcOptions",
    "WebrtcRegistry",
]
