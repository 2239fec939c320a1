"""WHIP ingest (RFC 9725): OBS or a browser publishes a room's camera over WebRTC.

:class:`WhipIngest` owns at most one :class:`WhipPublisher` per room (a second one is refused
with :class:`PublisherPresent` while the first is connecting or connected). A publisher's
packets are never decoded here: each RTP packet aiortc has decrypted is taken as it arrives
(:func:`~streaming.webrtc.aiortc_boundary.tap_received_video_rtp`), given a fixed payload type
and sent as plain RTP to the room's loopback ports (:class:`~streaming.sources.WhipPorts`),
as one continuous stream per kind whoever publishes (:class:`RtpContinuity`),
where the room's camera FFmpeg reads them through an SDP description, depacketizes and decodes
them once and encodes the master like for every other camera kind. aiortc's decoders for them
are stopped (:func:`~streaming.webrtc.aiortc_boundary.skip_decoding`).

FFmpeg can only start decoding at a keyframe, and a browser sends one only when asked: the
publisher gets a PLI every :data:`KEYFRAME_REQUEST_INTERVAL_S`, so a camera FFmpeg that
(re)starts while the host is publishing has a picture within that time. A publisher that
fails, closes, or sends nothing for :data:`SILENCE_TIMEOUT_S` is closed and its room free
again; the camera FFmpeg then sees no packets and the session puts the slate on air, as for
any lost camera.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
import struct
import time
from collections.abc import Callable

from streaming.sources import WHIP_AUDIO_PT, WHIP_VIDEO_PT, WhipPorts
from streaming.webrtc.aiortc_boundary import (
    RTCRtpReceiver,
    RTCRtpSender,
    RTCSessionDescription,
    check_aiortc,
    codecs_compatible,
    create_answer,
    parse_sdp,
    peer_connection,
    send_picture_loss,
    skip_decoding,
    tap_received_rtp,
    tap_received_video_rtp,
)
from streaming.webrtc.errors import InvalidOffer, PublisherPresent
from streaming.webrtc.ice import host_addresses_scope, install, resolve_host_addresses
from streaming.webrtc.options import WebrtcOptions
from streaming.webrtc.sdp import parse_offer, sends

log = logging.getLogger(__name__)

#: A PLI this often: each makes the publisher encode a keyframe, the most a (re)starting camera
#: FFmpeg waits for its first picture. Browsers otherwise send keyframes only when asked.
KEYFRAME_REQUEST_INTERVAL_S = 2.0
#: A connected publisher that sent nothing for this long is gone (closed lid, lost network)
#: even before ICE consent expires (≈30 s): the room is free for the next one.
SILENCE_TIMEOUT_S = 5.0
_HEADER = struct.Struct("!BBHII")
#: The SSRCs FFmpeg sees, whoever publishes: one stream of each kind for the RTP demuxer.
_VIDEO_SSRC, _AUDIO_SSRC = 0x4B4E0001, 0x4B4E0002


def _codecs(kind: str, name: str) -> list:
    wanted = f"{kind}/{name}".lower()
    return [c for c in RTCRtpSender.getCapabilities(kind).codecs if c.mimeType.lower() == wanted]


def check_whip_offer(offer: bytes) -> str:
    """The offer as text, or :class:`InvalidOffer` unless it sends H.264 (packetization-mode 1)
    video and Opus audio: what OBS and browsers publish, and what the RTP description handed to
    FFmpeg carries."""
    text, description = parse_offer(offer)
    h264 = _codecs("video", "H264")
    video = audio = False
    for media in sends(text, description):
        if media.kind == "video":
            video = video or any(
                codecs_compatible(ours, theirs) for ours in h264 for theirs in media.rtp.codecs
            )
        elif media.kind == "audio":
            audio = audio or any(c.mimeType.lower() == "audio/opus" for c in media.rtp.codecs)
    if not video:
        raise InvalidOffer("WHIP offer sends no H.264 (packetization-mode=1) video")
    if not audio:
        raise InvalidOffer("WHIP offer sends no Opus audio")
    return text


class RtpContinuity:
    """One room's RTP stream of one kind as the camera FFmpeg sees it, across publishers: each
    new publisher's sequence numbers and timestamps are shifted to go on right after the last
    packet of the previous one. FFmpeg keeps running while nobody publishes, and its RTP
    demuxer refused the next publisher's packets outright ("bad cseq"): a sequence jump looks
    like garbage to it, and a timestamp jump would have been filled with seconds of repeated
    frames. Nominally one ``step`` (a frame, an audio packet) passes between the two."""

    def __init__(self, step: int) -> None:
        self._step = step
        self._next: tuple[int, int] | None = None

    def splice(self) -> Callable[[int, int], tuple[int, int]]:
        """The rewrite ``(seq, timestamp) → (seq, timestamp)`` for the next publisher."""
        offset: tuple[int, int] | None = None

        def rewrite(seq: int, timestamp: int) -> tuple[int, int]:
            nonlocal offset
            if offset is None:
                following = self._next
                offset = (
                    (0, 0)
                    if following is None
                    else ((following[0] - seq) & 0xFFFF, (following[1] - timestamp) & 0xFFFFFFFF)
                )
            out = ((seq + offset[0]) & 0xFFFF, (timestamp + offset[1]) & 0xFFFFFFFF)
            self._next = ((out[0] + 1) & 0xFFFF, (out[1] + self._step) & 0xFFFFFFFF)
            return out

        return rewrite


class WhipPublisher:
    """One publishing peer: its packets go as plain RTP to ``video_to`` and ``audio_to``."""

    def __init__(
        self,
        publisher_id: str,
        room_id: int,
        options: WebrtcOptions,
        host_addresses: tuple[str, ...] | None,
        video_to: tuple[str, int],
        audio_to: tuple[str, int],
        continuity: tuple[RtpContinuity, RtpContinuity],
    ) -> None:
        self.id = publisher_id
        self.room_id = room_id
        self.ended = asyncio.Event()
        self.end_reason = ""
        self.packets = 0
        self.bytes = 0
        self._options = options
        self._host_addresses = host_addresses
        self._video_to = video_to
        self._audio_to = audio_to
        self._rewrite_video = continuity[0].splice()
        self._rewrite_audio = continuity[1].splice()
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.setblocking(False)
        self._payload_types: dict[str, int] = {}
        self._video_ssrc: int | None = None
        self._last_packet = 0.0
        self._video_receiver: RTCRtpReceiver | None = None
        self._watch: asyncio.Task[None] | None = None
        self._closed = False
        self.pc = peer_connection(options.ice_servers)
        self.pc.on("connectionstatechange", self._state_changed)

    @property
    def state(self) -> str:
        return self.pc.connectionState

    def _state_changed(self) -> None:
        state = self.pc.connectionState
        log.info("WHIP publisher %s of room %s: %s", self.id, self.room_id, state)
        if state in ("failed", "closed"):
            self.end_reason = self.end_reason or f"peer {state}"
            self.ended.set()

    async def answer(self, offer_sdp: str, on_end: Callable[[WhipPublisher], None]) -> str:
        """Receive H.264 and Opus as packets; return the SDP answer. ``on_end`` is called once
        the publisher has gone (any reason)."""
        video = self.pc.addTransceiver("video", direction="recvonly")
        video.setCodecPreferences(_codecs("video", "H264"))
        audio = self.pc.addTransceiver("audio", direction="recvonly")
        audio.setCodecPreferences(_codecs("audio", "opus"))
        for transceiver in (video, audio):
            skip_decoding(transceiver.receiver)
        tap_received_video_rtp(video.receiver, self._on_video)
        tap_received_rtp(audio.receiver, self._on_audio)
        self._video_receiver = video.receiver
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            answer = await create_answer(self.pc)  # as DTLS server, see there
        except Exception as exc:  # aiortc raises ValueError/OperationError on odd offers
            raise InvalidOffer(f"SDP offer refused: {exc}") from None
        with host_addresses_scope(self._host_addresses):
            await self.pc.setLocalDescription(answer)
        local = self.pc.localDescription.sdp
        # What the publisher will send (the answer's first codec of each kind); RTX and
        # anything else is not forwarded.
        for media in parse_sdp(local).media:
            if media.kind in ("video", "audio") and media.rtp.codecs:
                self._payload_types[media.kind] = media.rtp.codecs[0].payloadType
        self._watch = asyncio.create_task(self._run(on_end), name=f"whip-{self.id}")
        return local

    # -- packets (synchronous, as aiortc hands them over) -----------------------------------

    def _on_video(
        self, pt: int, seq: int, timestamp: int, marker: bool, ssrc: int, payload: bytes
    ) -> None:
        if pt != self._payload_types.get("video"):
            return
        self._video_ssrc = ssrc
        first = (0x80 if marker else 0) | WHIP_VIDEO_PT
        seq, timestamp = self._rewrite_video(seq, timestamp)
        header = _HEADER.pack(0x80, first, seq, timestamp, _VIDEO_SSRC)
        self._forward(header + payload, self._video_to)

    def _on_audio(self, pt: int, seq: int, timestamp: int, payload: bytes) -> None:
        if pt != self._payload_types.get("audio"):
            return
        seq, timestamp = self._rewrite_audio(seq, timestamp)
        header = _HEADER.pack(0x80, WHIP_AUDIO_PT, seq, timestamp, _AUDIO_SSRC)
        self._forward(header + payload, self._audio_to)

    def _forward(self, packet: bytes, to: tuple[str, int]) -> None:
        self._last_packet = time.monotonic()
        self.packets += 1
        self.bytes += len(packet)
        try:  # noqa: SIM105 - per packet: try/except costs less than contextlib.suppress
            self._socket.sendto(packet, to)
        except OSError:
            pass  # nobody listens while no seminar of the room is live (or FFmpeg restarts)

    # -- life cycle --------------------------------------------------------------------------

    async def _run(self, on_end: Callable[[WhipPublisher], None]) -> None:
        """Connect timeout, keyframe requests, silence watchdog; then ``on_end``."""
        started = time.monotonic()
        next_pli = started
        connected_at: float | None = None
        try:
            while not self.ended.is_set():
                now = time.monotonic()
                if connected_at is None and self.state == "connected":
                    connected_at = now
                if connected_at is None and now - started > self._options.connect_timeout_s:
                    await self.aclose("not connected in time")
                    break
                if connected_at is not None:
                    # Since the last packet, or since connecting if none came at all.
                    silent_s = now - max(connected_at, self._last_packet)
                    if silent_s > SILENCE_TIMEOUT_S:
                        await self.aclose("no packets")
                        break
                if self._video_ssrc is not None and now >= next_pli:
                    next_pli = now + KEYFRAME_REQUEST_INTERVAL_S
                    if self._video_receiver is not None:
                        with contextlib.suppress(Exception):  # the transport may just be closing
                            await send_picture_loss(self._video_receiver, self._video_ssrc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.ended.wait(), 0.25)
        finally:
            on_end(self)

    async def stopped(self) -> None:
        """Return once the watcher has finished (after :meth:`aclose`)."""
        if self._watch is not None and self._watch is not asyncio.current_task():
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch

    async def aclose(self, reason: str) -> None:
        """Close the peer and the socket (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.end_reason = self.end_reason or reason
        await self.pc.close()
        self._socket.close()
        self.ended.set()
        log.info("WHIP publisher %s of room %s closed (%s)", self.id, self.room_id, self.end_reason)


class WhipIngest:
    """The WHIP publishers of all rooms, at most one per room."""

    def __init__(self, options: WebrtcOptions, ports: WhipPorts) -> None:
        check_aiortc()
        install()
        self.options = options
        self.ports = ports
        self._host_addresses = resolve_host_addresses(options.host_addresses, options.interfaces)
        self._publishers: dict[int, WhipPublisher] = {}
        self._continuity: dict[int, tuple[RtpContinuity, RtpContinuity]] = {}
        self._closed = False

    async def start(self) -> None:
        self._closed = False

    def publisher(self, room_id: int) -> WhipPublisher | None:
        return self._publishers.get(room_id)

    async def publish(self, room_id: int, offer: bytes) -> tuple[str, str]:
        """Answer a publisher's offer: ``(publisher_id, answer)``. Raises InvalidOffer (400) or
        PublisherPresent (409: the room has one connecting or connected)."""
        text = check_whip_offer(offer)
        if self._closed:
            raise PublisherPresent("the service is shutting down")
        if room_id in self._publishers:
            raise PublisherPresent(f"room {room_id} already has a publisher; DELETE it first")
        publisher = WhipPublisher(
            secrets.token_urlsafe(12),
            room_id,
            self.options,
            self._host_addresses,
            self.ports.video(room_id),
            self.ports.audio(room_id),
            # One video frame at 90 kHz (30 fps), one 20 ms Opus packet at 48 kHz.
            self._continuity.setdefault(room_id, (RtpContinuity(3000), RtpContinuity(960))),
        )
        self._publishers[room_id] = publisher  # taken at once: a concurrent offer gets 409
        try:
            answer = await publisher.answer(text, self._ended)
        except BaseException:
            self._publishers.pop(room_id, None)
            await publisher.aclose("offer refused")
            raise
        log.info("WHIP publisher %s publishes room %s", publisher.id, room_id)
        return publisher.id, answer

    def _ended(self, publisher: WhipPublisher) -> None:
        if self._publishers.get(publisher.room_id) is publisher:
            del self._publishers[publisher.room_id]

    async def unpublish(self, room_id: int, publisher_id: str) -> bool:
        """End the publisher (WHIP DELETE); False if it had already gone."""
        publisher = self._publishers.get(room_id)
        if publisher is None or publisher.id != publisher_id:
            return False
        await publisher.aclose("DELETE")
        self._ended(publisher)
        return True

    async def aclose(self) -> None:
        """Close every publisher; returns once their peers and watchers have stopped."""
        self._closed = True
        publishers = list(self._publishers.values())
        for publisher in publishers:
            await publisher.aclose("service shutting down")
        for publisher in publishers:
            await publisher.stopped()
        self._publishers.clear()
