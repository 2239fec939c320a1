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


class SlotClock:
    """A slot's RTP clock: maps each speaker's own timestamps onto one continuous timeline.

    After :meth:`restart` (a new speaker), the first timestamp is placed ``max(min_step, wall
    time since the slot's last packet)`` after the slot's last one; later ones keep the
    speaker's own spacing, their 32-bit clock unwrapped. Shared by audio and video slots.
    """

    __slots__ = ("_anchor_at", "_last", "_min_step", "_rate", "_raw_last")

    def __init__(self, rate: int, min_step: int) -> None:
        self._rate = rate
        self._min_step = min_step
        self._last: int | None = None  # the slot's timestamp of the newest packet
        self._raw_last: int | None = None  # the speaker's own timestamp of that packet
        self._anchor_at = 0.0

    def restart(self) -> None:
        """The next timestamp comes from another speaker (or after a pause)."""
        self._raw_last = None

    def map(self, timestamp: int) -> int:
        """The slot's timestamp of the current speaker's ``timestamp``."""
        raw_last = self._raw_last
        if raw_last is None:
            # First packet of this speaker here: the slot's clock moves on by the time since
            # its last packet (never back, at least one frame).
            now = time.monotonic()
            if self._last is None:
                slot_timestamp = 0
            else:
                elapsed = int((now - self._anchor_at) * self._rate)
                slot_timestamp = self._last + max(self._min_step, elapsed)
            self._last = slot_timestamp
            self._raw_last = timestamp
            self._anchor_at = now
            return slot_timestamp
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
        return slot_timestamp


class StageSlot:
    """One audio slot of an occurrence's stage."""

    __slots__ = ("_clock", "bytes", "index", "outputs", "packets", "speaker_id")

    def __init__(self, index: int) -> None:
        self.index = index
        self.speaker_id: int | None = None
        #: ``(queue, own speaker id)`` per listener of this slot; the id (None for the room
        #: display and the host) is the speaker whose voice that listener must not get back.
        self.outputs: list[tuple[PacketQueue, int | None]] = []
        self.packets = 0
        self.bytes = 0
        self._clock = SlotClock(AUDIO_CLOCK, MIN_STEP)

    def assign(self, speaker_id: int | None) -> None:
        """Carry ``speaker_id``'s packets from now on (None: the slot goes quiet)."""
        self.speaker_id = speaker_id
        self._clock.restart()

    def add_output(self, queue: PacketQueue, own_speaker_id: int | None) -> None:
        self.outputs.append((queue, own_speaker_id))

    def remove_output(self, queue: PacketQueue) -> None:
        self.outputs = [output for output in self.outputs if output[0] is not queue]

    def forward(self, speaker_id: int, timestamp: int, payload: bytes) -> None:
        """One Opus packet of ``speaker_id`` (its own RTP timestamp): to every listener but
        the speaker's own. Ignored unless the speaker holds this slot."""
        if speaker_id != self.speaker_id:
            return
        slot_timestamp = self._clock.map(timestamp)
        size = len(payload)
        self.packets += 1
        self.bytes += size
        packet = MediaPacket([payload], slot_timestamp, size=size)
        for queue, own in self.outputs:
            if own != speaker_id:
                queue.put(packet)
