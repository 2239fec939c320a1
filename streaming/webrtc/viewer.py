"""One WebRTC viewer: its peer connection, its two pass-through tracks and its life cycle."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from streaming.webrtc.aiortc_boundary import (
    RTCRtpSender,
    RTCSessionDescription,
    create_answer,
    peer_connection,
)
from streaming.webrtc.errors import InvalidOffer
from streaming.webrtc.hub import FeedHub, Subscription
from streaming.webrtc.ice import host_addresses_scope
from streaming.webrtc.options import WebrtcOptions
from streaming.webrtc.tracks import PacketTrack

log = logging.getLogger(__name__)


def _h264_only() -> list:
    # aiortc's order: 42001f then 42e01f, each with its RTX; constrained baseline decodes with both.
    capabilities = RTCRtpSender.getCapabilities("video")
    return [
        codec
        for codec in capabilities.codecs
        if codec.mimeType.lower() in ("video/h264", "video/rtx")
    ]


class Viewer:
    """A viewer of one occurrence. ``ended`` is set once the peer failed or closed."""

    def __init__(
        self,
        viewer_id: str,
        hub: FeedHub,
        options: WebrtcOptions,
        host_addresses: tuple[str, ...] | None,
        on_first_frame: Callable[[Viewer], None],
    ) -> None:
        self.id = viewer_id
        self.hub = hub
        self.created = time.monotonic()
        self.first_frame_s: float | None = None
        self.connected = asyncio.Event()
        self.ended = asyncio.Event()
        self.end_reason = ""
        self._options = options
        self._host_addresses = host_addresses
        self._on_first_frame = on_first_frame
        self.subscription: Subscription | None = None
        self.tracks: list[PacketTrack] = []
        self.pc = peer_connection(options.ice_servers)
        self.pc.on("connectionstatechange", self._state_changed)
        self._closed = False
        self.counted = False  # its counters were added to the registry's totals

    @property
    def state(self) -> str:
        return self.pc.connectionState

    def _state_changed(self) -> None:
        state = self.pc.connectionState
        log.info("viewer %s of occurrence %s: %s", self.id, self.hub.occurrence_id, state)
        if state == "connected":
            self.connected.set()
        elif state in ("failed", "closed"):
            self.end_reason = self.end_reason or f"peer {state}"
            self.ended.set()

    def _first_video(self) -> None:
        self.first_frame_s = time.monotonic() - self.created
        self._on_first_frame(self)

    async def answer(self, offer_sdp: str, kinds: frozenset[str]) -> str:
        """Negotiate H.264 and/or Opus from the hub, as ``kinds`` (what the offer receives,
        see :func:`~streaming.webrtc.sdp.check_offer`) asks; return the SDP answer."""
        self.subscription = self.hub.subscribe()
        # Transceivers made before the offer is applied: aiortc picks their codecs while applying
        # it, so the H.264-only preference must already be set then.
        if "video" in kinds:
            video = PacketTrack("video", self.subscription.video, self._first_video)
            self.tracks.append(video)
            transceiver = self.pc.addTransceiver(video, direction="sendonly")
            transceiver.setCodecPreferences(_h264_only())
            # Pass-through sending, and PLI/FIR answered from the queue (aiortc would only flag
            # its encoder, which pass-through never uses).
            video.attach(transceiver.sender)
        else:
            self.subscription.video.close()  # an audio-only viewer: queue no pictures
        if "audio" in kinds:
            audio = PacketTrack("audio", self.subscription.audio)
            self.tracks.append(audio)
            audio.attach(self.pc.addTransceiver(audio, direction="sendonly").sender)
        else:
            self.subscription.audio.close()
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            answer = await create_answer(self.pc)  # as DTLS server: see there
        except Exception as exc:  # aiortc raises ValueError/OperationError on odd offers
            raise InvalidOffer(f"SDP offer refused: {exc}") from None
        # Candidates are gathered here; the scope decides which local addresses are offered.
        with host_addresses_scope(self._host_addresses):
            await self.pc.setLocalDescription(answer)
        return self.pc.localDescription.sdp

    def counters(self) -> tuple[int, int, int]:
        """Packets and bytes handed to the senders, packets dropped for lag."""
        packets = bytes_ = dropped = 0
        for track in self.tracks:
            packets += track.queue.stats.packets
            bytes_ += track.queue.stats.bytes
            dropped += track.queue.stats.dropped
        return packets, bytes_, dropped

    def stats(self) -> dict[str, object]:
        packets, bytes_, dropped = self.counters()
        return {
            "id": self.id,
            "state": self.state,
            "packets": packets,
            "bytes": bytes_,
            "dropped": dropped,
            "keyframe_requests": sum(t.keyframe_requests for t in self.tracks),
            "send_path": {t.kind: t.send_path for t in self.tracks},
            "time_to_first_frame_s": self.first_frame_s,
        }

    async def aclose(self, reason: str) -> None:
        """Close the peer and stop the tracks (idempotent; returns once aiortc has stopped)."""
        if self._closed:
            return
        self._closed = True
        self.end_reason = self.end_reason or reason
        if self.subscription is not None:
            self.hub.unsubscribe(self.subscription)
        for track in self.tracks:
            track.stop()
        await self.pc.close()
        self.ended.set()
        log.info("viewer %s of occurrence %s closed (%s)", self.id, self.hub.occurrence_id, reason)
