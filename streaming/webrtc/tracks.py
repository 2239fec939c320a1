"""Pass-through tracks: each viewer's sender sends the feed's packetized payloads as they are.

aiortc's ``RTCRtpSender`` gets its next frame from ``_next_encoded_frame()`` (track ``recv()``,
then encode or ``encoder.pack()``). :meth:`PacketTrack.attach` replaces that one method on the
viewer's sender: it takes the next :class:`~streaming.webrtc.packets.MediaPacket` from the
viewer's queue and returns its payloads, which were packetized once for all viewers. No encoder
is ever created. The sender paces itself on the queue: packets leave as the feed delivers them.
"""

from __future__ import annotations

from collections.abc import Callable

from aiortc import RTCRtpSender
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcrtpsender import RTCEncodedFrame

from streaming.webrtc.hub import PacketQueue
from streaming.webrtc.packets import MediaPacket


class PacketTrack(MediaStreamTrack):
    """One viewer's audio or video track, fed from that viewer's bounded queue."""

    def __init__(
        self, kind: str, queue: PacketQueue, on_first: Callable[[], None] | None = None
    ) -> None:
        super().__init__()
        self.kind = kind
        self.queue = queue
        self._on_first = on_first
        self.keyframe_requests = 0

    def attach(self, sender: RTCRtpSender) -> None:
        """Make ``sender`` send this track's packets without an encoder, and answer PLI/FIR."""
        sender._next_encoded_frame = self._next_encoded_frame  # type: ignore[method-assign]
        sender._send_keyframe = self.request_keyframe  # type: ignore[method-assign]

    async def _next_encoded_frame(self, codec: object = None) -> RTCEncodedFrame:
        packet = await self.recv()
        return RTCEncodedFrame(packet.payloads, packet.timestamp, None)  # type: ignore[arg-type]

    async def recv(self) -> MediaPacket:  # type: ignore[override]  # packets, not frames
        """The next packet of the viewer's queue (MediaStreamError once stopped)."""
        if self.readyState != "live":
            raise MediaStreamError
        packet = await self.queue.get()
        if self._on_first is not None:
            on_first, self._on_first = self._on_first, None
            on_first()
        return packet

    def request_keyframe(self) -> None:
        """PLI/FIR from the viewer. The feed has no back channel to its encoder; the best answer
        is to skip straight to the newest keyframe already queued. Otherwise the feed's next
        keyframe (≤ 1 s by contract) repairs the picture."""
        self.keyframe_requests += 1
        self.queue.skip_to_latest_keyframe()

    def stop(self) -> None:
        """End the track and close its queue."""
        super().stop()
        self.queue.close()
