"""The stage's speaker slots of one occurrence: which speaker each carries, the slot's own RTP
clock, and the hand-off of each forwarded Opus packet to every listener's track of that slot.

A listener's page negotiates a fixed number of audio tracks once (one per slot), so the stage
can change without renegotiation. Each incoming Opus packet becomes one
:class:`~streaming.webrtc.rtp.packets.MediaPacket` (the payload as it arrived, never decoded or
re-encoded), shared by every listener: per listener only the RTP header, SRTP and the send call
remain. Mix-minus: a speaker's own listening peer is left out of that speaker's slot.

The slot's timestamps continue across speaker changes: a new speaker's packets are shifted so
the slot's clock moves on by the time that passed (at least one frame) instead of jumping to the
new speaker's random origin, which a receiver would take for a huge gap or a step back. Each
listener's stream keeps its own sequence numbers, so they run on without gaps too.
"""

from __future__ import annotations

import time

from streaming.webrtc.hub import PacketQueue
from streaming.webrtc.rtp.packets import AUDIO_CLOCK, MediaPacket

#: One Opus frame of 20 ms at 48 kHz: the least a slot's clock advances at a speaker change.
MIN_STEP = 960
_HALF = 1 << 31
_WRAP = 1 << 32


class StageSlot:
    """One audio slot of an occurrence's stage."""

    __slots__ = (
        "_anchor_at",
        "_last",
        "_raw_last",
        "bytes",
        "index",
        "outputs",
        "packets",
        "speaker_id",
    )

    def __init__(self, index: int) -> None:
        self.index = index
        self.speaker_id: int | None = None
        #: ``(queue, own speaker id)`` per listener of this slot; the id (None for the room
        #: display and the host) is the speaker whose voice that listener must not get back.
        self.outputs: list[tuple[PacketQueue, int | None]] = []
        self.packets = 0
        self.bytes = 0
        self._last: int | None = None  # the slot's timestamp of the newest packet
        self._raw_last: int | None = None  # the speaker's own timestamp of that packet
        self._anchor_at = 0.0

    def assign(self, speaker_id: int | None) -> None:
        """Carry ``speaker_id``'s packets from now on (None: the slot goes quiet)."""
        self.speaker_id = speaker_id
        self._raw_last = None

    def add_output(self, queue: PacketQueue, own_speaker_id: int | None) -> None:
        self.outputs.append((queue, own_speaker_id))

    def remove_output(self, queue: PacketQueue) -> None:
        self.outputs = [output for output in self.outputs if output[0] is not queue]

    def forward(self, speaker_id: int, timestamp: int, payload: bytes) -> None:
        """One Opus packet of ``speaker_id`` (its own RTP timestamp): to every listener but
        the speaker's own. Ignored unless the speaker holds this slot."""
        if speaker_id != self.speaker_id:
            return
        raw_last = self._raw_last
        if raw_last is None:
            # First packet of this speaker here: the slot's clock moves on by the time since
            # its last packet (never back, at least one frame).
            now = time.monotonic()
            if self._last is None:
                slot_timestamp = 0
            else:
                elapsed = int((now - self._anchor_at) * AUDIO_CLOCK)
                slot_timestamp = self._last + max(MIN_STEP, elapsed)
            self._last = slot_timestamp
            self._raw_last = timestamp
            self._anchor_at = now
        else:
            # Signed distance in the speaker's 32-bit clock (wraps; a late packet is negative).
            delta = (timestamp - raw_last) % _WRAP
            if delta >= _HALF:
                delta -= _WRAP
            last = self._last
            assert last is not None
            slot_timestamp = last + delta
            if delta > 0:
                self._last = slot_timestamp
                self._raw_last = timestamp
                self._anchor_at = time.monotonic()
        size = len(payload)
        self.packets += 1
        self.bytes += size
        packet = MediaPacket([payload], slot_timestamp, size=size)
        for queue, own in self.outputs:
            if own != speaker_id:
                queue.put(packet)
