"""Reads one occurrence's WebRTC feed (MPEG-TS on a Unix socket) and hands packets to its hub.

PyAV's demuxer blocks, so it runs in a thread of its own. The thread also packetizes each frame
for RTP (once for all viewers, see :mod:`streaming.webrtc.rtp.packets`); each
:class:`~streaming.webrtc.rtp.packets.MediaPacket` crosses to the event loop with
``call_soon_threadsafe``. When the feed ends or breaks (the pipeline restarted FFmpeg) the
reader reconnects with capped backoff, and shifts timestamps so they keep increasing across the
break: the viewers' RTP timestamps stay monotonic and their players need not resynchronise.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from pathlib import Path

import av

from streaming.webrtc.rtp.packets import MediaPacket, audio_packet, video_packet

log = logging.getLogger(__name__)

#: 90 kHz, MPEG-TS's clock; the gap inserted between two connections is one 30 fps frame.
RESUME_GAP = 3000
#: PyAV read timeout: how long close() may wait for the thread to notice.
READ_TIMEOUT_S = 0.5
OPEN_TIMEOUT_S = 5.0


class FeedReader:
    """Demuxes ``path`` into ``on_video``/``on_audio`` (called on ``loop``) until closed."""

    def __init__(
        self,
        path: Path,
        loop: asyncio.AbstractEventLoop,
        on_video: Callable[[MediaPacket], None],
        on_audio: Callable[[MediaPacket], None],
        *,
        name: str = "feed",
    ) -> None:
        self.path = path
        self._loop = loop
        self._on_video = on_video
        self._on_audio = on_audio
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"webrtc-{name}", daemon=True)
        self._last_pts: int | None = None
        self.connections = 0
        self.errors = 0
        self.connected = threading.Event()

    def start(self) -> None:
        """Start the reader thread (it connects, and reconnects, by itself)."""
        self._thread.start()

    async def aclose(self) -> None:
        """Stop the thread; returns once it has ended (or after a bounded wait)."""
        self._stop.set()
        if self._thread.is_alive():
            # The demuxer returns within READ_TIMEOUT_S (or OPEN_TIMEOUT_S while connecting).
            await asyncio.to_thread(self._thread.join, OPEN_TIMEOUT_S + 2)
        if self._thread.is_alive():
            log.warning("feed reader for %s did not stop in time", self.path)

    def _run(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            try:
                if self.path.exists():
                    self._read_once()
                    backoff = 0.1
            except Exception as exc:  # a broken feed is retried, never fatal
                if self._stop.is_set():
                    break
                self.errors += 1
                log.info("feed %s: %s; reconnecting in %.1f s", self.path, exc, backoff)
            self.connected.clear()
            self._stop.wait(backoff)
            backoff = min(backoff * 2, 2.0)

    def _read_once(self) -> None:
        container = av.open(
            f"unix:{self.path}",
            format="mpegts",
            timeout=(OPEN_TIMEOUT_S, READ_TIMEOUT_S),
            # The feed is ours and well-formed: probe little so viewers start sooner.
            options={"probesize": "500000", "analyzeduration": "500000"},
        )
        try:
            self.connections += 1
            self.connected.set()
            log.info("feed %s connected (connection %d)", self.path, self.connections)
            video = next(
                (s for s in container.streams.video if s.codec_context.name == "h264"), None
            )
            audio = next(
                (s for s in container.streams.audio if s.codec_context.name == "opus"), None
            )
            if video is None:
                raise RuntimeError("feed has no H.264 video stream")
            wanted = [s for s in (video, audio) if s is not None]
            video_index = video.index
            offset: int | None = None
            call = self._loop.call_soon_threadsafe
            for packet in container.demux(wanted):
                if self._stop.is_set():
                    return
                if packet.pts is None or packet.size == 0:
                    continue
                if offset is None:
                    # Continue after the previous connection's last timestamp.
                    offset = (
                        0 if self._last_pts is None else (self._last_pts + RESUME_GAP - packet.pts)
                    )
                packet.pts += offset
                if packet.dts is not None:
                    packet.dts += offset
                if self._last_pts is None or packet.pts > self._last_pts:
                    self._last_pts = packet.pts
                if packet.stream_index == video_index:
                    call(self._on_video, video_packet(packet))
                else:
                    call(self._on_audio, audio_packet(packet))
        finally:
            container.close()
            log.info("feed %s disconnected", self.path)
