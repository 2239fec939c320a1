"""The one place Knoten touches aiortc, aioice and pylibsrtp: their public names, and every
private attribute, internal module and patch the fan-out relies on.

aiortc has no API for what the send path needs (the connected socket, the SRTP keys, the
sender's header extensions, a way to replace the sender's loops), so Knoten reads and replaces
a few private parts of it, pinned to the tested minor versions (:data:`SUPPORTED_AIORTC`,
:data:`SUPPORTED_AIOICE`). Each of them is a named function or alias here, and
:data:`INTERNALS` lists a probe for every one; :func:`check_aiortc` runs them (and the version
check) at start-up of each registry and viewer worker, so an upgrade that breaks one fails
there, naming what broke, instead of in the middle of a seminar.

Nothing here runs per packet. The send path takes what it needs once, when a viewer's stream
opens (:func:`sender_link`: bound methods, the socket, the keys), and holds it in locals.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import types
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Protocol

import aioice.ice
import aiortc.rtcpeerconnection
import pylibsrtp
from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.codecs.h264 import H264Encoder
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcdtlstransport import RTCCertificate, RTCDtlsTransport, SRTPProtectionProfile
from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtcicetransport import RTCIceTransport
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpsender import RTCEncodedFrame
from aiortc.rtp import RtpPacket
from aiortc.sdp import SessionDescription
from aiortc.utils import random16, random32
from OpenSSL import SSL

__all__ = [
    "DTLS_CIPHERS",
    "INTERNALS",
    "SUPPORTED_AIOICE",
    "SUPPORTED_AIORTC",
    "AiortcUnsupported",
    "MediaStreamError",
    "MediaStreamTrack",
    "RTCConfiguration",
    "RTCIceServer",
    "RTCPeerConnection",
    "RTCRtpReceiver",
    "RTCRtpSender",
    "RTCSessionDescription",
    "SenderLink",
    "SenderLoops",
    "aiortc_problems",
    "bundled_peer_connection",
    "check_aiortc",
    "codecs_compatible",
    "create_answer",
    "encoded_frame",
    "h264_split_bitstream",
    "h264_stap_a",
    "on_dtls_ended",
    "parse_sdp",
    "random16",
    "random32",
    "record_sender_report",
    "replace_host_address_lookup",
    "replace_retransmit",
    "replace_sender_loops",
    "send_picture_loss",
    "sender_link",
    "sender_loops",
    "skip_decoding",
    "tap_encoded_frames",
    "tap_received_rtp",
    "tap_received_video_rtp",
    "update_sender_counters",
]

#: The versions the internals below were read from and tested with (pyproject pins the same).
SUPPORTED_AIORTC = ">=1.16,<1.17"
SUPPORTED_AIOICE = ">=0.13,<0.14"

#: Name-mangled prefix of ``RTCRtpSender``'s private attributes.
_SENDER = "_RTCRtpSender__"


class AiortcUnsupported(RuntimeError):
    """The installed aiortc/aioice is not the one Knoten's send path was written against."""


# -- public aiortc API (re-exported above) and internal helpers used as they are -------------

#: ``bytes → NAL units`` of an Annex B access unit (aiortc's own splitter, a static method).
h264_split_bitstream: Callable[[bytes], Iterator[bytes]] = H264Encoder._split_bitstream
#: ``(first NAL, iterator) → (STAP-A payload, next NAL)``: aiortc's STAP-A aggregation.
h264_stap_a: Callable[[bytes, Iterator[bytes]], tuple[bytes, bytes]] = H264Encoder._packetize_stap_a


class IceServerLike(Protocol):
    """What :func:`peer_connection` reads of a configured STUN/TURN server."""

    @property
    def urls(self) -> Sequence[str]: ...
    @property
    def username(self) -> str | None: ...
    @property
    def credential(self) -> str | None: ...


#: DTLS cipher suites offered when Knoten is the DTLS client: aiortc's ECDSA-only list plus the
#: same suites for RSA certificates. A DTLS server whose certificate is RSA (GStreamer, some
#: embedded players) can pick none of aiortc's and ends the handshake with "no shared cipher".
#: As the server Knoten's own (ECDSA) certificate decides, so the list changes nothing there.
DTLS_CIPHERS = b":".join(
    (
        b"ECDHE-ECDSA-AES128-GCM-SHA256",
        b"ECDHE-ECDSA-CHACHA20-POLY1305",
        b"ECDHE-ECDSA-AES128-SHA",
        b"ECDHE-ECDSA-AES256-SHA",
        b"ECDHE-RSA-AES128-GCM-SHA256",
        b"ECDHE-RSA-CHACHA20-POLY1305",
        b"ECDHE-RSA-AES128-SHA",
        b"ECDHE-RSA-AES256-SHA",
    )
)


def _servers(ice_servers: Iterable[IceServerLike]) -> list[RTCIceServer]:
    return [
        RTCIceServer(urls=list(s.urls), username=s.username, credential=s.credential)
        for s in ice_servers
    ]


def _with_rsa_suites(pc: RTCPeerConnection) -> RTCPeerConnection:
    """Make ``pc``'s DTLS contexts offer :data:`DTLS_CIPHERS`. aiortc fixes its cipher list in
    ``RTCCertificate._create_ssl_context``; the peer's one certificate is made in its
    constructor and used by every DTLS transport it creates later, so wrapping that method on
    this certificate (not on the class) changes this peer only."""
    for certificate in pc._RTCPeerConnection__certificates:  # type: ignore[attr-defined]
        create = certificate._create_ssl_context

        def create_with_rsa_suites(srtp_profiles: Any, create: Any = create) -> SSL.Context:
            context = create(srtp_profiles=srtp_profiles)
            context.set_cipher_list(DTLS_CIPHERS)
            return context

        certificate._create_ssl_context = create_with_rsa_suites
    return pc


def peer_connection(ice_servers: Iterable[IceServerLike]) -> RTCPeerConnection:
    """A peer connection with exactly these ICE servers: always an explicit list, since aiortc's
    default would ask Google's STUN server. Its DTLS also works with RSA peers
    (:data:`DTLS_CIPHERS`)."""
    return _with_rsa_suites(RTCPeerConnection(RTCConfiguration(iceServers=_servers(ice_servers))))


def bundled_peer_connection(ice_servers: Iterable[IceServerLike]) -> RTCPeerConnection:
    """:func:`peer_connection` with every transceiver on one transport from the start
    (max-bundle), for an answerer that adds several transceivers of a kind before the offer.
    With aiortc's default (balanced) the second one of a kind shares the first one's transport
    at creation, then keeps that original transport when the offer's BUNDLE moves the first
    one to the bundle's: it never connects and its sender never starts."""
    configuration = RTCConfiguration(
        iceServers=_servers(ice_servers), bundlePolicy=RTCBundlePolicy.MAX_BUNDLE
    )
    return _with_rsa_suites(RTCPeerConnection(configuration))


async def create_answer(pc: RTCPeerConnection) -> RTCSessionDescription:
    """``pc.createAnswer()`` (after the offer was applied), answering as the DTLS server
    (``a=setup:passive``) wherever the offer left the choice to us (``actpass``). aiortc
    answers ``active`` and so would be the client: with the server's certificate choosing the
    cipher suite, a peer with an RSA certificate then failed with "no shared cipher". As the
    server Knoten's ECDSA certificate picks an ECDSA suite, which every WebRTC stack offers.
    An offer that insists on ``passive`` (the peer is the server) still gets ``active``, with
    :data:`DTLS_CIPHERS` offered."""
    offer = parse_sdp(pc.remoteDescription.sdp)
    # aiortc takes the role only from an offered "active"; an offered "passive" stays "auto".
    insists = {m.rtp.muxId for m in offer.media if m.dtls is not None and m.dtls.role == "server"}
    for transceiver in pc.getTransceivers():
        transport = transceiver.receiver.transport
        if transport is not None and transport._role == "auto":
            transport._set_role("client" if transceiver.mid in insists else "server")
    return await pc.createAnswer()


def parse_sdp(text: str) -> SessionDescription:
    """aiortc's SDP parser (``aiortc.sdp``, not part of its public API)."""
    return SessionDescription.parse(text)


def encoded_frame(payloads: list[bytes], timestamp: int) -> RTCEncodedFrame:
    """What aiortc's sender loop expects from ``_next_encoded_frame``."""
    return RTCEncodedFrame(payloads, timestamp, None)  # type: ignore[arg-type]


def replace_host_address_lookup(
    lookup: Callable[[bool, bool], list[str]],
) -> Callable[[bool, bool], list[str]]:
    """Make aioice gather host candidates through ``lookup(use_ipv4, use_ipv6)``; returns the
    lookup it replaced. aioice reads the module global at each gathering."""
    original = aioice.ice.get_host_addresses
    aioice.ice.get_host_addresses = lookup
    return original


# -- a receiver's packets (dialog: speakers' Opus forwarded as packets) --------------------------


def tap_received_rtp(
    receiver: RTCRtpReceiver, on_rtp: Callable[[int, int, int, bytes], None]
) -> None:
    """Call ``on_rtp(payload_type, sequence_number, timestamp, payload)`` for every RTP packet
    ``receiver`` gets, synchronously and before aiortc's own handling (statistics for receiver
    reports, jitter buffer, decoder thread), which then goes on as before. aiortc has no hook
    for encoded packets; its DTLS transport calls the receiver's ``_handle_rtp_packet`` through
    the instance, so wrapping that one attribute taps this receiver only."""
    handle = receiver._handle_rtp_packet

    async def tapped(packet: RtpPacket, arrival_time_ms: int) -> None:
        on_rtp(packet.payload_type, packet.sequence_number, packet.timestamp, packet.payload)
        await handle(packet, arrival_time_ms)

    receiver._handle_rtp_packet = tapped  # type: ignore[method-assign]


def tap_received_video_rtp(
    receiver: RTCRtpReceiver,
    on_rtp: Callable[[int, int, int, bool, int, bytes], None],
) -> None:
    """Like :func:`tap_received_rtp`, for video: ``on_rtp(payload_type, sequence_number,
    timestamp, marker, ssrc, payload)``. A forwarded video frame needs the marker (its end) and
    the sender's SSRC (what a picture loss indication names)."""
    handle = receiver._handle_rtp_packet

    async def tapped(packet: RtpPacket, arrival_time_ms: int) -> None:
        on_rtp(
            packet.payload_type,
            packet.sequence_number,
            packet.timestamp,
            bool(packet.marker),
            packet.ssrc,
            packet.payload,
        )
        await handle(packet, arrival_time_ms)

    receiver._handle_rtp_packet = tapped  # type: ignore[method-assign]


def skip_decoding(receiver: RTCRtpReceiver) -> None:
    """Stop ``receiver``'s decoder thread as soon as aiortc starts it (in ``receive``, when the
    peer connects), so received media is never decoded; its track then ends. aiortc still
    keeps statistics (receiver reports), sends NACK, REMB and its jitter buffer's PLI; it only
    hands complete frames to the decoder while that thread exists. There is no public switch."""
    receive = receiver.receive

    async def receive_without_decoder(parameters: Any) -> None:
        await receive(parameters)
        receiver._RTCRtpReceiver__stop_decoder()  # type: ignore[attr-defined]

    receiver.receive = receive_without_decoder  # type: ignore[method-assign]


async def send_picture_loss(receiver: RTCRtpReceiver, media_ssrc: int) -> None:
    """Send an RTCP PLI for ``media_ssrc`` through ``receiver`` (the sender answers with a
    keyframe). Nothing is sent before aiortc knows the receiver's RTCP SSRC."""
    await receiver._send_rtcp_pli(media_ssrc)


def codecs_compatible(local: RTCRtpCodecParameters, remote: RTCRtpCodecParameters) -> bool:
    """aiortc's own test whether an offered codec matches one of its capabilities (name, clock
    rate, and for H.264 the packetization mode and profile), so an offer is judged exactly as
    ``setRemoteDescription`` will."""
    return aiortc.rtcpeerconnection.is_codec_compatible(local, remote)


def tap_encoded_frames(sender: RTCRtpSender, on_frame: Callable[[list[bytes], int], None]) -> None:
    """Call ``on_frame(payloads, timestamp)`` with every frame ``sender`` is about to send: the
    RTP payloads exactly as aiortc's encoder or packer made them (tests compare them with what
    arrives elsewhere)."""
    next_frame = sender._next_encoded_frame

    async def tapped(codec: Any) -> RTCEncodedFrame | None:
        frame = await next_frame(codec)
        if frame is not None:
            on_frame(list(frame.payloads), frame.timestamp)
        return frame

    sender._next_encoded_frame = tapped  # type: ignore[method-assign]


# -- a sender's loops ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SenderLoops:
    """aiortc's own RTP and RTCP loops of one sender and the events they set."""

    run_rtp: Callable[[Any], Awaitable[None]]
    run_rtcp: Callable[[], Awaitable[None]]
    rtp_started: asyncio.Event
    rtp_exited: asyncio.Event
    rtcp_started: asyncio.Event
    rtcp_exited: asyncio.Event


def sender_loops(sender: RTCRtpSender) -> SenderLoops:
    """The sender's loops as aiortc made them (before :func:`replace_sender_loops`)."""
    return SenderLoops(
        run_rtp=sender._run_rtp,
        run_rtcp=sender._run_rtcp,
        rtp_started=getattr(sender, _SENDER + "rtp_started"),
        rtp_exited=getattr(sender, _SENDER + "rtp_exited"),
        rtcp_started=getattr(sender, _SENDER + "rtcp_started"),
        rtcp_exited=getattr(sender, _SENDER + "rtcp_exited"),
    )


def replace_sender_loops(
    sender: RTCRtpSender,
    *,
    run_rtp: Callable[[Any], Awaitable[None]],
    run_rtcp: Callable[[], Awaitable[None]],
    next_encoded_frame: Callable[[Any], Awaitable[RTCEncodedFrame]],
    send_keyframe: Callable[[], None],
) -> None:
    """Have ``sender`` run these instead of its own loops once DTLS is connected; its own
    RTP loop (should the replacement fall back to it) reads frames from
    ``next_encoded_frame``, and PLI/FIR call ``send_keyframe``."""
    sender._run_rtp = run_rtp  # type: ignore[method-assign]
    sender._run_rtcp = run_rtcp  # type: ignore[method-assign]
    sender._next_encoded_frame = next_encoded_frame  # type: ignore[method-assign]
    sender._send_keyframe = send_keyframe  # type: ignore[method-assign]


def replace_retransmit(sender: RTCRtpSender, retransmit: Callable[[int], Awaitable[None]]) -> None:
    """Answer the sender's NACKs with ``retransmit(sequence_number)``."""
    sender._retransmit = retransmit  # type: ignore[method-assign]


def update_sender_counters(
    sender: RTCRtpSender, ntp: int, rtp_timestamp: int, octets: int, packets: int
) -> None:
    """What aiortc's RTP loop records for sender reports and ``getStats()``."""
    setattr(sender, _SENDER + "ntp_timestamp", ntp)
    setattr(sender, _SENDER + "rtp_timestamp", rtp_timestamp)
    setattr(sender, _SENDER + "octet_count", octets)
    setattr(sender, _SENDER + "packet_count", packets)


def record_sender_report(sender: RTCRtpSender, lsr: int, lsr_time: float) -> None:
    """A sender report went out: aiortc computes round-trip times from receiver reports that
    echo ``lsr``."""
    setattr(sender, _SENDER + "lsr", lsr)
    setattr(sender, _SENDER + "lsr_time", lsr_time)


# -- a connected sender's transports -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SenderLink:
    """What the direct send path needs of a sender whose DTLS transport is connected."""

    ssrc: int
    #: The RTP header serialized by aiortc with the negotiated extensions (mid, abs-send-time),
    #: and the offset of the three abs-send-time bytes (None if not negotiated).
    header: bytes
    abs_send_time_at: int | None
    #: ``(payload type, SSRC)`` of RTX, None if not negotiated.
    rtx: tuple[int, int] | None
    cname: str | None
    #: The selected DTLS-SRTP profile (OpenSSL's name) and this side's ``key || salt``.
    srtp_profile: bytes | None
    srtp_keying: bytes | None
    #: The ICE pair's socket and the peer's address.
    socket: Any
    address: tuple[str, int]
    #: aiortc's libsrtp session (bound methods) and its RTP send (for RTX).
    protect: Callable[[bytes], bytes]
    protect_rtcp: Callable[[bytes], bytes]
    send_rtp: Callable[[bytes], Awaitable[None]]
    dtls: RTCDtlsTransport


def sender_link(sender: RTCRtpSender, payload_type: int) -> SenderLink:
    """The :class:`SenderLink` of ``sender``. Raises (LookupError, AttributeError…) when the
    transport is not connected or aiortc's internals are not what this module expects."""
    dtls = sender.transport
    connection = dtls.transport._connection
    pair = connection._nominated.get(1)
    if pair is None or dtls._state is not DtlsState.CONNECTED:
        raise LookupError("transport not connected")
    sock = pair.protocol.transport.get_extra_info("socket")
    profile = dtls._ssl.get_selected_srtp_profile()
    keying = None
    for srtp_profile in dtls._srtp_profiles:
        if srtp_profile.openssl_profile == profile:
            material = dtls._ssl.export_keying_material(
                b"EXTRACTOR-dtls_srtp", 2 * (srtp_profile.key_length + srtp_profile.salt_length)
            )
            keying = srtp_profile.get_key_and_salt(material, 1 if dtls._role == "server" else 0)
            break
    ssrc = sender._ssrc
    header, abs_send_time_at = _header_template(sender, payload_type, ssrc)
    rtx_payload_type = getattr(sender, _SENDER + "rtx_payload_type")
    for name in ("ntp_timestamp", "rtp_timestamp", "octet_count", "packet_count", "lsr"):
        getattr(sender, _SENDER + name)  # written by update_sender_counters/record_sender_report
    tx_srtp = dtls._tx_srtp
    return SenderLink(
        ssrc=ssrc,
        header=header,
        abs_send_time_at=abs_send_time_at,
        rtx=None if rtx_payload_type is None else (rtx_payload_type, sender._rtx_ssrc),
        cname=getattr(sender, _SENDER + "cname"),
        srtp_profile=profile if keying is not None else None,
        srtp_keying=keying,
        socket=sock,
        address=pair.remote_addr,
        protect=tx_srtp.protect,
        protect_rtcp=tx_srtp.protect_rtcp,
        send_rtp=dtls._send_rtp,
        dtls=dtls,
    )


def on_dtls_ended(dtls: RTCDtlsTransport, callback: Callable[[], None]) -> None:
    """Call ``callback`` (synchronously, once or more) when ``dtls`` leaves "connected"."""

    def changed() -> None:
        if dtls.state != "connected":
            callback()

    dtls.on("statechange", changed)


def _header_template(
    sender: RTCRtpSender, payload_type: int, ssrc: int
) -> tuple[bytes, int | None]:
    extensions_map = getattr(sender, _SENDER + "rtp_header_extensions_map")
    template = RtpPacket(payload_type=payload_type, sequence_number=0, timestamp=0, ssrc=ssrc)
    template.extensions.mid = getattr(sender, _SENDER + "mid")
    template.extensions.abs_send_time = 0
    zeros = template.serialize(extensions_map)
    template.extensions.abs_send_time = 0xFFFFFF
    ones = template.serialize(extensions_map)
    changed = [i for i, (a, b) in enumerate(zip(zeros, ones, strict=True)) if a != b]
    if not changed:
        return zeros, None
    if len(changed) != 3 or changed[2] - changed[0] != 2:
        raise ValueError("unexpected abs-send-time layout")
    return zeros, changed[0]


# -- the check ----------------------------------------------------------------------------------


def _names_used(cls: type) -> frozenset[str]:
    """Every attribute name any method of ``cls`` reads or writes (mangled names included)."""
    names: set[str] = set()
    stack = [
        member.__code__
        for member in (inspect.unwrap(m) for m in vars(cls).values())
        if isinstance(member, types.FunctionType)
    ]
    stack += [m.fget.__code__ for m in vars(cls).values() if isinstance(m, property) and m.fget]
    while stack:
        code = stack.pop()
        names.update(code.co_names)
        stack.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    return frozenset(names)


def _attributes(cls: type, *names: str) -> Callable[[], str | None]:
    def probe() -> str | None:
        used = _names_used(cls)
        missing = [n for n in names if n not in used and not hasattr(cls, n)]
        return f"{cls.__qualname__} no longer has {', '.join(missing)}" if missing else None

    return probe


# Probes look their subject up when they run (``owner.name``), not when this module loads.


def _parameters(owner: Any, name: str, *names: str) -> Callable[[], str | None]:
    def probe() -> str | None:
        function = getattr(owner, name)
        found = tuple(inspect.signature(function).parameters)
        return None if found == names else f"{name}{found} is not {name}{names}"

    return probe


def _coroutine(owner: Any, name: str) -> Callable[[], str | None]:
    def probe() -> str | None:
        if inspect.iscoroutinefunction(getattr(owner, name)):
            return None
        return f"{name} is no longer a coroutine function"

    return probe


def _module_global_read(owner: Any, name: str, global_name: str) -> Callable[[], str | None]:
    def probe() -> str | None:
        if global_name in getattr(owner, name).__code__.co_names:
            return None
        return f"{name} no longer looks up the module global {global_name}"

    return probe


def _emits(cls: type, method: str, event: str) -> Callable[[], str | None]:
    def probe() -> str | None:
        code = getattr(cls, method).__code__
        if "emit" in code.co_names and event in code.co_consts:
            return None
        return f"{cls.__qualname__}.{method} no longer emits {event!r}"

    return probe


def _calls_through_instance(cls: type, method: str, called: str) -> Callable[[], str | None]:
    def probe() -> str | None:
        if called in getattr(cls, method).__code__.co_names:
            return None
        return f"{cls.__qualname__}.{method} no longer calls {called}"

    return probe


#: ``(what, probe)``: one entry per aiortc/aioice/pylibsrtp internal used above. A probe
#: returns None when the internal is as expected, else what broke.
INTERNALS: tuple[tuple[str, Callable[[], str | None]], ...] = (
    ("h264_split_bitstream", _parameters(H264Encoder, "_split_bitstream", "buf")),
    (
        "h264_stap_a",
        _parameters(H264Encoder, "_packetize_stap_a", "data", "packages_iterator"),
    ),
    ("parse_sdp", _parameters(SessionDescription, "parse", "sdp")),
    (
        "encoded_frame",
        _parameters(RTCEncodedFrame, "__init__", "self", "payloads", "timestamp", "audio_level"),
    ),
    (
        "host address lookup",
        _parameters(aioice.ice, "get_host_addresses", "use_ipv4", "use_ipv6"),
    ),
    (
        "host address lookup is a global",
        _module_global_read(aioice.ice.Connection, "gather_candidates", "get_host_addresses"),
    ),
    ("sender._run_rtp", _parameters(RTCRtpSender, "_run_rtp", "self", "codec")),
    ("sender._run_rtcp", _parameters(RTCRtpSender, "_run_rtcp", "self")),
    (
        "sender._next_encoded_frame",
        _parameters(RTCRtpSender, "_next_encoded_frame", "self", "codec"),
    ),
    ("sender._send_keyframe", _parameters(RTCRtpSender, "_send_keyframe", "self")),
    ("sender._retransmit", _parameters(RTCRtpSender, "_retransmit", "self", "sequence_number")),
    ("sender._retransmit is async", _coroutine(RTCRtpSender, "_retransmit")),
    (
        "sender loops and events",
        _attributes(
            RTCRtpSender,
            "_ssrc",
            "_rtx_ssrc",
            *(
                _SENDER + name
                for name in (
                    "rtp_started",
                    "rtp_exited",
                    "rtcp_started",
                    "rtcp_exited",
                    "rtx_payload_type",
                    "rtp_header_extensions_map",
                    "mid",
                    "cname",
                    "ntp_timestamp",
                    "rtp_timestamp",
                    "octet_count",
                    "packet_count",
                    "lsr",
                    "lsr_time",
                )
            ),
        ),
    ),
    (
        "RTP header template",
        _parameters(
            RtpPacket,
            "__init__",
            "self",
            "payload_type",
            "marker",
            "sequence_number",
            "timestamp",
            "ssrc",
            "payload",
        ),
    ),
    ("RTP header serialize", _parameters(RtpPacket, "serialize", "self", "extensions_map")),
    (
        "DTLS transport internals",
        _attributes(
            RTCDtlsTransport, "_state", "_ssl", "_srtp_profiles", "_role", "_tx_srtp", "state"
        ),
    ),
    ("DTLS state CONNECTED", lambda: None if hasattr(DtlsState, "CONNECTED") else "gone"),
    ("create_answer: DTLS role", _parameters(RTCDtlsTransport, "_set_role", "self", "role")),
    (
        "create_answer: the answer's setup follows the transport's role",
        _attributes(aiortc.rtcpeerconnection.RTCPeerConnection, "_role"),
    ),
    (
        "DTLS_CIPHERS: the certificate makes the SSL context",
        _parameters(RTCCertificate, "_create_ssl_context", "self", "srtp_profiles"),
    ),
    (
        "DTLS_CIPHERS: the peer's certificates",
        _attributes(RTCPeerConnection, "_RTCPeerConnection__certificates"),
    ),
    ("DTLS statechange event", _emits(RTCDtlsTransport, "_set_state", "statechange")),
    ("DTLS _send_rtp", _parameters(RTCDtlsTransport, "_send_rtp", "self", "data")),
    ("DTLS _send_rtp is async", _coroutine(RTCDtlsTransport, "_send_rtp")),
    (
        "SRTP profile",
        _attributes(
            SRTPProtectionProfile,
            "openssl_profile",
            "key_length",
            "salt_length",
            "get_key_and_salt",
        ),
    ),
    (
        "OpenSSL keying material",
        _attributes(SSL.Connection, "get_selected_srtp_profile", "export_keying_material"),
    ),
    ("ICE transport connection", _attributes(RTCIceTransport, "_connection")),
    ("ICE nominated pairs", _attributes(aioice.ice.Connection, "_nominated")),
    ("ICE candidate pair", _attributes(aioice.ice.CandidatePair, "protocol", "remote_addr")),
    (
        "tap_received_rtp: receiver._handle_rtp_packet",
        _parameters(RTCRtpReceiver, "_handle_rtp_packet", "self", "packet", "arrival_time_ms"),
    ),
    ("tap_received_rtp: handler is async", _coroutine(RTCRtpReceiver, "_handle_rtp_packet")),
    (
        "tap_received_rtp: the DTLS transport calls the receiver's handler",
        _calls_through_instance(RTCDtlsTransport, "_handle_rtp_data", "_handle_rtp_packet"),
    ),
    (
        "tap_received_rtp: RTP packet fields",
        _attributes(RtpPacket, "payload_type", "sequence_number", "timestamp", "payload"),
    ),
    (
        "tap_received_video_rtp: RTP packet marker and SSRC",
        _attributes(RtpPacket, "marker", "ssrc"),
    ),
    (
        "skip_decoding: receiver.receive",
        _parameters(RTCRtpReceiver, "receive", "self", "parameters"),
    ),
    ("skip_decoding: receive is async", _coroutine(RTCRtpReceiver, "receive")),
    (
        "skip_decoding: receiver's decoder thread",
        _attributes(
            RTCRtpReceiver, "_RTCRtpReceiver__stop_decoder", "_RTCRtpReceiver__decoder_thread"
        ),
    ),
    (
        "skip_decoding: the handler decodes only while the thread exists",
        _calls_through_instance(
            RTCRtpReceiver, "_handle_rtp_packet", "_RTCRtpReceiver__decoder_thread"
        ),
    ),
    (
        "send_picture_loss",
        _parameters(RTCRtpReceiver, "_send_rtcp_pli", "self", "media_ssrc"),
    ),
    ("send_picture_loss is async", _coroutine(RTCRtpReceiver, "_send_rtcp_pli")),
    ("codecs_compatible", _parameters(aiortc.rtcpeerconnection, "is_codec_compatible", "a", "b")),
    (
        "tap_encoded_frames: the RTP loop calls the instance's _next_encoded_frame",
        _calls_through_instance(RTCRtpSender, "_run_rtp", "_next_encoded_frame"),
    ),
    (
        "tap_encoded_frames: encoded frame fields",
        _attributes(RTCEncodedFrame, "payloads", "timestamp"),
    ),
    ("libsrtp protect", _parameters(pylibsrtp.Session, "protect", "self", "packet")),
    ("libsrtp protect_rtcp", _parameters(pylibsrtp.Session, "protect_rtcp", "self", "packet")),
)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:3] if part.isdigit())


def _in_range(version: str, supported: str) -> bool:
    """``version`` within ``supported`` (``>=A,<B`` as in pyproject)."""
    found = _version(version)
    for clause in supported.split(","):
        clause = clause.strip()
        if clause.startswith(">=") and not found >= _version(clause[2:]):
            return False
        if clause.startswith("<") and not found < _version(clause[1:]):
            return False
    return True


def aiortc_problems() -> list[str]:
    """Everything that is not as the send path expects: versions outside the tested ranges,
    then each internal whose probe fails. Empty when all is well."""
    problems = []
    for package, supported in (("aiortc", SUPPORTED_AIORTC), ("aioice", SUPPORTED_AIOICE)):
        installed = metadata.version(package)
        if not _in_range(installed, supported):
            problems.append(
                f"{package} {installed} is installed; Knoten supports {package}{supported}"
            )
    for what, probe in INTERNALS:
        try:
            problem = probe()
        except Exception as exc:  # a probe that cannot even look is a broken internal too
            problem = f"{type(exc).__name__}: {exc}"
        if problem is not None:
            problems.append(f"{what}: {problem}")
    return problems


@functools.cache
def check_aiortc() -> None:
    """Raise :class:`AiortcUnsupported`, naming what broke, unless the installed aiortc and
    aioice are the tested versions and every internal used here is as expected (checked once
    per process: a failed check is not cached)."""
    problems = aiortc_problems()
    if problems:
        raise AiortcUnsupported(
            "the installed aiortc/aioice do not fit Knoten's WebRTC send path: "
            + "; ".join(problems)
        )
