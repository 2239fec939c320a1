"""Pass-through tracks: each viewer's sender sends the feed's packetized payloads as they are.

:meth:`PacketTrack.attach` takes over the send loop of the viewer's aiortc ``RTCRtpSender``
(``_run_rtp``, which aiortc starts once DTLS is connected): it opens an
:class:`~streaming.webrtc.rtp.stream.RtpStream` on the connected transports and makes it the
sink of the viewer's queue, so from then on the hub sends each frame synchronously while it fans
it out. It also takes over the sender's RTCP loop (``_run_rtcp``): the stream sends the sender
reports, at the intervals browsers use. NACKs are answered from the stream's history, PLI/FIR
from the queue. No encoder is ever created. Should the stream not open (aiortc's internals
changed), aiortc's own loops run instead, reading the same queue through
``_next_encoded_frame``. The sender's parts are reached through
:mod:`streaming.webrtc.aiortc_boundary`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Any

from streaming.webrtc.aiortc_boundary import (
    MediaStreamError,
    MediaStreamTrack,
    RTCRtpSender,
    encoded_frame,
    random16,
    random32,
    replace_retransmit,
    replace_sender_loops,
    sender_loops,
)
from streaming.webrtc.hub import PacketQueue
from streaming.webrtc.rtp.packets import MediaPacket
from streaming.webrtc.rtp.stream import RtpStream, open_stream

log = logging.getLogger(__name__)

#: Mean seconds between RTCP sender reports: what browsers send (video 1 s, audio 5 s); they
#: give the receiver lip sync and round-trip times. aiortc's loop sends both every second.
REPORT_INTERVAL_S = {"video": 1.0, "audio": 5.0}


class PacketTrack(MediaStreamTrack):
    """One viewer's audio or video track, fed from that viewer's bounded queue."""

    def __init__(
        self, kind: str, queue: PacketQueue, on_first: Callable[[], None] | None = None
    ) -> None:
        super().__init__()
        self.kind = kind
        self.queue = queue
        self._on_first = on_first
        self._ended = asyncio.Event()
        self.keyframe_requests = 0
        self.stream: RtpStream | None = None

    @property
    def send_path(self) -> str:
        """How packets leave: ``direct`` (with its encryption) or aiortc's own sender loop."""
        if self.stream is None:
            return "aiortc"
        return f"direct/{self.stream.encryption}"

    def attach(self, sender: RTCRtpSender) -> None:
        """Make ``sender`` send this track's packets without an encoder, and answer PLI/FIR."""
        aiortc = sender_loops(sender)

        async def run_rtp(codec: Any) -> None:
            stream = open_stream(sender, codec, random16(), random32())
            if stream is None:
                await aiortc.run_rtp(codec)
                return
            aiortc.rtp_started.set()
            self.stream = stream
            replace_retransmit(sender, stream.retransmit)
            try:
                stream.on_first = self._first
                self.queue.send_to(stream.send)
                await self._ended.wait()
            except asyncio.CancelledError:
                pass
            finally:
                stream.send_bye()  # the RTCP loop ends after this one, with the socket closed
                stream.close()
                aiortc.rtp_exited.set()

        interval = REPORT_INTERVAL_S[self.kind]

        async def run_rtcp() -> None:
            # aiortc starts this right after run_rtp, whose first step opened the stream.
            stream = self.stream
            if stream is None:
                await aiortc.run_rtcp()
                return
            aiortc.rtcp_started.set()
            try:
                while True:
                    # Randomised over [0.5, 1.5] × the interval, as RFC 3550 §6.3.1 asks.
                    await asyncio.sleep(interval * (0.5 + random.random()))
                    stream.send_report()
            except asyncio.CancelledError:
                pass
            finally:
                aiortc.rtcp_exited.set()

        replace_sender_loops(
            sender,
            run_rtp=run_rtp,
            run_rtcp=run_rtcp,
            next_encoded_frame=self._next_encoded_frame,
            send_keyframe=self.request_keyframe,
        )

    def _first(self) -> None:
        if self._on_first is not None:
            on_first, self._on_first = self._on_first, None
            on_first()

    async def _next_encoded_frame(self, codec: object = None) -> Any:
        packet = await self.recv()
        return encoded_frame(packet.payloads, packet.timestamp)

    async def recv(self) -> MediaPacket:  # type: ignore[override]  # packets, not frames
        """The next packet of the viewer's queue (MediaStreamError once stopped)."""
        if self.readyState != "live":
            raise MediaStreamError
        packet = await self.queue.get()
        self._first()
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
        self._ended.set()
