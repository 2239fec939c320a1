"""Checks an SDP offer before any peer exists (viewers, speakers, listeners): refuse early,
with a reason a person can read."""

from __future__ import annotations

import re
from typing import Any

from streaming.webrtc.aiortc_boundary import parse_sdp
from streaming.webrtc.errors import InvalidOffer

#: An SDP offer from a browser is a few kB; anything this large is not one.
MAX_OFFER_BYTES = 64 * 1024

#: The DTLS fingerprint hashes aiortc can check, with their digest sizes in bytes; an offer with
#: only others (md5, sha-1) could never finish its handshake.
_FINGERPRINT_BYTES = {"sha-256": 32, "sha-384": 48, "sha-512": 64}
_HEX_PAIRS = re.compile(r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2})*")


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
        description = parse_sdp(text)
    except Exception as exc:  # aiortc's parser raises assorted errors on garbage
        raise InvalidOffer(f"malformed SDP offer: {type(exc).__name__}") from None
    _check_transport(description)
    return text, description


def _check_transport(description: Any) -> None:
    """Refuse what parses but can never connect, before it takes a viewer or speaker slot."""
    mids = [media.rtp.muxId for media in description.media if media.rtp.muxId]
    if len(mids) != len(set(mids)):
        raise InvalidOffer("SDP offer gives the same a=mid to two media sections")
    for media in description.media:
        for candidate in media.ice_candidates:
            if not 0 < candidate.port < 65536:
                raise InvalidOffer(f"ICE candidate port {candidate.port} is not a UDP/TCP port")
        if media.dtls is None or not media.dtls.fingerprints:
            continue  # whoever needs the fingerprint says so with its own message
        usable = False
        for fingerprint in media.dtls.fingerprints:
            if _HEX_PAIRS.fullmatch(fingerprint.value) is None:
                raise InvalidOffer("malformed DTLS fingerprint (expected hex pairs with colons)")
            size = _FINGERPRINT_BYTES.get(fingerprint.algorithm.lower())
            if size is not None:
                if len(fingerprint.value) != size * 3 - 1:
                    raise InvalidOffer(f"DTLS {fingerprint.algorithm} fingerprint has wrong length")
                usable = True
        if not usable:
            raise InvalidOffer("DTLS fingerprint must be sha-256, sha-384 or sha-512")


def _sections(text: str) -> list[str]:
    """The offer's media sections as text, in order (what aiortc's parser does not keep, such
    as ``a=bundle-only``, is read from these)."""
    return ["m=" + part for part in text.replace("\r\n", "\n").split("\nm=")[1:]]


def _in_use(media: Any, section: str) -> bool:
    """Port 0 marks a rejected section, except with ``a=bundle-only`` (RFC 8843 §6): GStreamer's
    webrtcbin offers every section but the first that way, to be carried on the first one's
    transport."""
    bundle_only = any(line.strip() == "a=bundle-only" for line in section.splitlines())
    return media.port != 0 or bundle_only


def _receivable(media: Any, section: str) -> bool:
    """Whether the viewer wants to receive this section."""
    return _in_use(media, section) and media.direction in (None, "recvonly", "sendrecv")


def sends(text: str, description: Any) -> list[Any]:
    """The parsed media sections of an offer that send (a publisher's)."""
    sections = _sections(text)
    return [
        media
        for media, section in zip(description.media, sections, strict=False)
        if _in_use(media, section) and media.direction in (None, "sendonly", "sendrecv")
    ]


def check_offer(raw: bytes) -> tuple[str, frozenset[str]]:
    """The offer as text, and what it receives: ``video`` and/or ``audio``.

    Raises :class:`InvalidOffer` unless the offer parses and receives H.264
    packetization-mode 1 video (the only video we send; aiortc would otherwise wrap H.264 bytes
    as VP8 if VP8 were negotiated), or Opus audio only (an audio-only viewer), each in a
    DTLS-SRTP section with ICE credentials and a fingerprint.
    """
    if not raw.strip():
        raise InvalidOffer("empty offer; expected an SDP offer (application/sdp)")
    text, description = parse_offer(raw)
    if not description.media:
        raise InvalidOffer("SDP offer has no media sections")
    sections = _sections(text)
    kinds: set[str] = set()
    for index, media in enumerate(description.media):
        section = sections[index] if index < len(sections) else ""
        if media.kind not in ("video", "audio") or not _receivable(media, section):
            continue
        if "SAVP" not in media.profile:
            raise InvalidOffer(f"SDP {media.kind} section is not DTLS-SRTP (UDP/TLS/RTP/SAVPF)")
        if (
            media.ice is None
            or not media.ice.usernameFragment
            or not media.ice.password
            or media.dtls is None
            or not media.dtls.fingerprints
        ):
            raise InvalidOffer(
                f"SDP {media.kind} section lacks ICE credentials or a DTLS fingerprint"
            )
        if media.kind == "video":
            if not any(
                codec.mimeType.lower() == "video/h264"
                and codec.payloadType in media.fmt
                and str(codec.parameters.get("packetization-mode", "0")) == "1"
                for codec in media.rtp.codecs
            ):
                raise InvalidOffer("SDP offer has no receivable H.264 (packetization-mode=1) video")
            kinds.add("video")
        elif any(codec.mimeType.lower() == "audio/opus" for codec in media.rtp.codecs):
            kinds.add("audio")
    if not kinds:
        raise InvalidOffer(
            "SDP offer receives neither H.264 (packetization-mode=1) video nor Opus audio"
        )
    return text, frozenset(kinds)
