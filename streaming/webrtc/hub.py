"""Fan-out of one occurrence's encoded packets: the last GOP and bounded per-viewer queues.

Everything here runs on the event loop and never awaits while holding state, so it needs no
locks. Packets are shared, not copied: every viewer's sender reads the same
:class:`~streaming.webrtc.rtp.packets.MediaPacket` (payloads packetized once).

A new viewer starts with the last GOP, retimed: its frames keep their order but get timestamps
1 ms apart ending at the newest frame's, so the browser decodes the burst at once and continues
with live frames without a jump. Sent with their original timestamps (a second of frames
arriving in one burst) the burst made Chromium's jitter buffer add up to a second of delay or
drop the burst, and the frame rate sagged while it recovered.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from streaming.webrtc.aiortc_boundary import MediaStreamError
from streaming.webrtc.rtp.packets import MediaPacket

log = logging.getLogger(__name__)

#: A GOP longer than this is not a GOP the contract allows (≤ 1 s); stop growing the buffer.
MAX_GOP_FRAMES = 300
#: Spacing of the retimed start burst: 1 ms at 90 kHz.
BURST_STEP = 90


@dataclass
class QueueStats:
    """What one queue handed to its sender, and what it dropped."""

    packets: int = 0
    bytes: int = 0
    dropped: int = 0


class PacketQueue:
    """A bounded queue of packets for one viewer's track.

    Video (``keyframe_aware``): the queue starts on a keyframe (anything before the first one is
    dropped), and when full, everything queued is dropped and the queue waits for the next
    keyframe, so a lagging viewer skips ahead to a decodable picture instead of growing memory or
    stalling the others. Audio: the oldest packet is dropped. Memory is bounded by ``limit``
    items either way.

    Once the viewer is connected the queue normally stays empty: :meth:`send_to` gives it a
    sink (the viewer's :class:`~streaming.webrtc.rtp.stream.RtpStream`) that sends each packet
    while the hub fans it out. A sink that refuses a packet (the viewer's socket is backed up)
    puts a video queue into the same skip-to-the-next-keyframe state.
    """

    __slots__ = (
        "_items",
        "_limit",
        "_sink",
        "_skipping",
        "_waiter",
        "closed",
        "keyframe_aware",
        "stats",
    )

    def __init__(self, limit: int, *, keyframe_aware: bool) -> None:
        self._items: deque[MediaPacket] = deque()
        self._limit = limit
        self._skipping = keyframe_aware
        self._waiter: asyncio.Future[None] | None = None
        self._sink: Callable[[MediaPacket], bool] | None = None
        self.keyframe_aware = keyframe_aware
        self.closed = False
        self.stats = QueueStats()

    def __len__(self) -> int:
        return len(self._items)

    def put(self, packet: MediaPacket) -> None:
        """Queue ``packet``, or hand it to the sink at once (never blocks; drops as described
        above when full or when the sink refuses it)."""
        if self.closed:
            return
        items = self._items
        if self.keyframe_aware:
            if self._skipping:
                if not packet.is_keyframe:
                    self.stats.dropped += 1
                    return
                self._skipping = False
            if len(items) >= self._limit:
                self.stats.dropped += len(items)
                items.clear()
                if not packet.is_keyframe:
                    self._skipping = True
                    self.stats.dropped += 1
                    return
        elif len(items) >= self._limit:
            items.popleft()
            self.stats.dropped += 1
        sink = self._sink
        if sink is not None:
            self._deliver(sink, packet)
            return
        items.append(packet)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _deliver(self, sink: Callable[[MediaPacket], bool], packet: MediaPacket) -> None:
        if sink(packet):
            stats = self.stats
            stats.packets += 1
            stats.bytes += packet.size
        else:
            # The viewer cannot take more now: the next decodable picture is a keyframe.
            self.stats.dropped += 1
            if self.keyframe_aware:
                self._skipping = True

    def send_to(self, sink: Callable[[MediaPacket], bool]) -> None:
        """From now on hand packets to ``sink`` as they arrive (it returns False to refuse one);
        what is queued goes first. Used once the viewer's RTP stream is connected."""
        if self.closed:
            return
        self._sink = sink
        items = self._items
        while items and self._sink is sink and not self.closed:
            packet = items.popleft()
            if self._skipping and not packet.is_keyframe:
                self.stats.dropped += 1
                continue
            self._skipping = False
            self._deliver(sink, packet)

    def extend(self, packets: list[MediaPacket]) -> None:
        """``put`` each of ``packets`` in order."""
        for packet in packets:
            self.put(packet)

    def skip_to_latest_keyframe(self) -> bool:
        """Drop what precedes the newest queued keyframe (the answer to a PLI); False if none."""
        items = self._items
        for index in range(len(items) - 1, -1, -1):
            if items[index].is_keyframe:
                for _ in range(index):
                    items.popleft()
                self.stats.dropped += index
                return True
        return False

    async def get(self) -> MediaPacket:
        """The next packet; raises MediaStreamError once the queue is closed."""
        while not self._items:
            if self.closed:
                raise MediaStreamError
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        packet = self._items.popleft()
        self.stats.packets += 1
        self.stats.bytes += packet.size
        return packet

    def close(self) -> None:
        """Drop everything and wake the reader, which then gets MediaStreamError."""
        self.closed = True
        self._sink = None
        self._items.clear()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


@dataclass(eq=False)
class Subscription:
    """One viewer's pair of queues."""

    video: PacketQueue
    audio: PacketQueue


@dataclass
class HubStats:
    """What the feed delivered."""

    video_packets: int = 0
    audio_packets: int = 0
    bytes: int = 0
    keyframes: int = 0


@dataclass(eq=False)
class FeedHub:
    """The packets of one occurrence's feed and everyone subscribed to them."""

    occurrence_id: int
    title: str
    video_queue_frames: int = 90
    audio_queue_packets: int = 100
    gop: list[MediaPacket] = field(default_factory=list)
    subscribers: set[Subscription] = field(default_factory=set)
    stats: HubStats = field(default_factory=HubStats)
    #: Set once the first keyframe arrived; until then a new viewer has nothing to start on.
    has_keyframe: asyncio.Event = field(default_factory=asyncio.Event)

    def push_video(self, packet: MediaPacket) -> None:
        """A video frame from the feed: keep it in the GOP and queue it for every viewer."""
        self.stats.video_packets += 1
        self.stats.bytes += packet.size
        if packet.is_keyframe:
            self.stats.keyframes += 1
            # A new list, not clear(): a start burst copied from the old one stays intact.
            self.gop = [packet]
            self.has_keyframe.set()
        elif self.gop and len(self.gop) < MAX_GOP_FRAMES:
            self.gop.append(packet)
        for subscription in self.subscribers:
            subscription.video.put(packet)

    def push_audio(self, packet: MediaPacket) -> None:
        """An audio packet from the feed: queue it for every viewer (audio needs no GOP)."""
        self.stats.audio_packets += 1
        self.stats.bytes += packet.size
        for subscription in self.subscribers:
            subscription.audio.put(packet)

    def subscribe(self) -> Subscription:
        """A new viewer's queues; video starts with the current GOP (its keyframe first, retimed,
        see the module docstring), so the browser can decode at once instead of waiting for the
        next keyframe. Before the feed's first keyframe the queue waits for it."""
        subscription = Subscription(
            video=PacketQueue(self.video_queue_frames, keyframe_aware=True),
            audio=PacketQueue(self.audio_queue_packets, keyframe_aware=False),
        )
        subscription.video.extend(start_burst(self.gop))
        self.subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop feeding ``subscription`` and close its queues (idempotent)."""
        self.subscribers.discard(subscription)
        subscription.video.close()
        subscription.audio.close()

    def close(self) -> None:
        """Close every subscription and forget the GOP."""
        for subscription in list(self.subscribers):
            self.unsubscribe(subscription)
        self.gop = []


def start_burst(gop: list[MediaPacket]) -> list[MediaPacket]:
    """``gop`` for one new viewer: same frames, timestamps ``BURST_STEP`` apart ending at the
    newest frame's own, so the next live frame follows at its usual distance."""
    if not gop:
        return []
    last = gop[-1].timestamp
    count = len(gop)
    return [
        packet.retimed(last - (count - 1 - index) * BURST_STEP) for index, packet in enumerate(gop)
    ]
