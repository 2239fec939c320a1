"""aiortc tracks that hand already-encoded packets to their sender (pass-through, no encoder).

aiortc's ``RTCRtpSender`` packs anything that is not a decoded frame with ``encoder.pack()``, so
returning ``av.Packet`` from ``recv()`` sends the feed's own H.264/Opus bytes. It paces itself on
``recv()``: packets leave as fast as the feed delivers them.
"""

from __future__ import annotations

from collections.abc import Callable

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from streaming.webrtc.hub import PacketQueue


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

    async def recv(self) -> av.Packet:  # type: ignore[override]  # packets, not frames
        if self.readyState != "live":
            raise MediaStreamError
        packet = await self.queue.get()
        if self._on_first is not None:
            on_first, self._on_first = self._on_first, None
            on_first()
        return packet

    def request_keyframe(self) -> None:
        """PLI/FIR from the viewer. aiortc ignores them in pass-through, and the feed has no back
        channel to its encoder; the best answer is to skip straight to the newest keyframe already
        queued. Otherwise the feed's next keyframe (≤ 1 s by contract) repairs the picture."""
        self.keyframe_requests += 1
        self.queue.skip_to_latest_keyframe()

    def stop(self) -> None:
        super().stop()
        self.queue.close()
