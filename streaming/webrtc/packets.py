"""Encoded media, packetized once for every viewer.

The feed reader turns each demuxed ``av.Packet`` into a :class:`MediaPacket` in its own thread:
the H.264 access unit is split into RTP payloads (FU-A/STAP-A, exactly as aiortc's own
``H264Encoder.pack`` would) and the timestamp is converted to the RTP clock. Every viewer's sender
then sends the same payload list; per viewer only the RTP header, SRTP and ``sendto`` remain.
"""

from __future__ import annotations

from fractions import Fraction

import av
from aiortc.codecs.h264 import H264Encoder

VIDEO_CLOCK = 90_000
AUDIO_CLOCK = 48_000


class MediaPacket:
    """One video frame (access unit) or one audio packet, ready for RTP.

    ``timestamp`` is in the RTP clock of its kind (90 kHz video, 48 kHz Opus), before the
    sender's random origin is added. Instances are shared by all viewers and never mutated;
    :meth:`retimed` makes a viewer's own copy (used for the start burst).
    """

    __slots__ = ("is_keyframe", "payloads", "size", "timestamp")

    def __init__(
        self, payloads: list[bytes], timestamp: int, *, is_keyframe: bool = False, size: int = 0
    ) -> None:
        self.payloads = payloads
        self.timestamp = timestamp
        self.is_keyframe = is_keyframe
        self.size = size or sum(len(p) for p in payloads)

    def retimed(self, timestamp: int) -> MediaPacket:
        """The same payloads (shared, not copied) at another timestamp."""
        return MediaPacket(self.payloads, timestamp, is_keyframe=self.is_keyframe, size=self.size)

    def __repr__(self) -> str:
        kind = "key" if self.is_keyframe else "delta"
        return f"MediaPacket({kind}, ts={self.timestamp}, {len(self.payloads)} payloads)"


def to_clock(pts: int, time_base: Fraction, clock: int) -> int:
    """``pts`` in ``time_base`` units as ticks of a ``clock`` Hz clock."""
    return pts * time_base.numerator * clock // time_base.denominator


def video_packet(packet: av.Packet) -> MediaPacket:
    """An H.264 Annex B access unit as RTP payloads (packetization-mode 1)."""
    data = bytes(packet)
    assert packet.pts is not None and packet.time_base is not None
    payloads = H264Encoder._packetize(H264Encoder._split_bitstream(data))
    return MediaPacket(
        payloads,
        to_clock(packet.pts, packet.time_base, VIDEO_CLOCK),
        is_keyframe=bool(packet.is_keyframe),
        size=len(data),
    )


def audio_packet(packet: av.Packet) -> MediaPacket:
    """An Opus packet: one RTP payload, 48 kHz timestamp."""
    data = bytes(packet)
    assert packet.pts is not None and packet.time_base is not None
    return MediaPacket([data], to_clock(packet.pts, packet.time_base, AUDIO_CLOCK), size=len(data))
