"""Errors of the WebRTC fan-out; the web layer maps each to one HTTP status (WHEP)."""

from __future__ import annotations

from streaming.errors import StreamingError


class WebrtcError(StreamingError):
    """Base class of the errors below."""

    code = "webrtc_error"


class InvalidOffer(WebrtcError):
    """The SDP offer cannot be answered: malformed, no media, or no usable H.264 video (400)."""

    code = "invalid_offer"


class NotLive(WebrtcError):
    """The occurrence has no feed right now (409)."""

    code = "not_live"


class ViewerNotFound(WebrtcError):
    """No such viewer (404): already gone, or never existed."""

    code = "viewer_not_found"


class ViewerLimitReached(WebrtcError):
    """The configured viewer limit is reached (503 + Retry-After); existing viewers keep going."""

    code = "viewer_limit"

    def __init__(self, message: str, retry_after_s: int = 30) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class HandshakesBusy(ViewerLimitReached):
    """Too many viewers are connecting at once and the queue for a handshake slot is full or
    its wait ran out (503 + a short Retry-After); the viewer limit itself is not reached."""

    code = "busy"


class PublisherPresent(WebrtcError):
    """The room already has a WHIP publisher, connecting or connected (409)."""

    code = "publisher_present"
