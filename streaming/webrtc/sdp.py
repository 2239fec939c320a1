"""Checks an SDP offer before any peer exists (viewers, speakers, listeners): refuse early,
with a reason a person can read."""

from __future__ import annotations

from typing import Any

from streaming.webrtc.aiortc_boundary import parse_sdp
from streaming.webrtc.errors import InvalidOffer

#: An SDP offer from a browser is a few kB; anything this large is not one.
MAX_OFFER_BYTES = 64 * 1024


def offer_text(offer: str | bytes) -> str:
    """The offer as text, or :class:`InvalidOffer` when it is too large, not UTF-8 or no SDP."""
    raw = offer.encode() if isinstance(offer, str) else offer
    if len(raw) > MAX_OFFER_BYTES:
        raise InvalidOffer("SDP offer too large")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidOffer("SDP offer is not UTF-8 text") from None
    if not text.lstrip().startswith("v=0") or "\x00" in text:
        raise InvalidOffer("not an SDP offer (must start with v=0)")
    return text


def parse_offer(offer: str | bytes) -> tuple[str, Any]:
    """The offer as text and as aiortc's parsed session description (InvalidOffer if not)."""
    text = offer_text(offer)
    try:
        return text, parse_sdp(text)
    except Exception as exc:  # aiortc's parser raises assorted errors on garbage
        raise InvalidOffer(f"malformed SDP offer: {type(exc).__name__}") from None


def check_offer(raw: bytes) -> tuple[str, bool]:
    """The offer as text, and whether it asks for Opus audio too.

    Raises :class:`InvalidOffer` unless the offer parses and has a receivable video section with
    H.264 packetization-mode 1 (the only video we send; aiortc would otherwise wrap H.264 bytes
    as VP8 if VP8 were negotiated).
    """
    if not raw.strip():
        raise InvalidOffer("empty offer; expected an SDP offer (application/sdp)")
    text, description = parse_offer(raw)
    if not description.media:
        raise InvalidOffer("SDP offer has no media sections")
    video_ok = False
    audio_ok = False
    for media in description.media:
        if media.port == 0 or media.direction not in (None, "recvonly", "sendrecv"):
            continue
        if media.kind == "video":
            if "SAVP" not in media.profile:
                raise InvalidOffer("SDP video section is not DTLS-SRTP (UDP/TLS/RTP/SAVPF)")
            if (
                media.ice is None
                or not media.ice.usernameFragment
                or not media.ice.password
                or media.dtls is None
                or not media.dtls.fingerprints
            ):
                raise InvalidOffer("SDP video section lacks ICE credentials or a DTLS fingerprint")
            video_ok = video_ok or any(
                codec.mimeType.lower() == "video/h264"
                and codec.payloadType in media.fmt
                and str(codec.parameters.get("packetization-mode", "0")) == "1"
                for codec in media.rtp.codecs
            )
        elif media.kind == "audio":
            audio_ok = audio_ok or any(
                codec.mimeType.lower() == "audio/opus" for codec in media.rtp.codecs
            )
    if not video_ok:
        raise InvalidOffer("SDP offer has no receivable H.264 (packetization-mode=1) video")
    return text, audio_ok
