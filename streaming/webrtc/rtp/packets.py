"""Encoded media, packetized once for every viewer.

The feed reader turns each demuxed ``av.Packet`` into a :class:`MediaPacket` in its own thread:
the H.264 access unit is split into RTP payloads (packetization-mode 1: small NAL units
aggregated in STAP-A as aiortc does, large ones fragmented in FU-A) and the timestamp is
converted to the RTP clock. Every viewer's stream then sends the same payload list; per viewer
only the RTP header, SRTP and the send call remain.

FU-A fragments are cut to one fixed size with only the last one shorter (aiortc spreads the
remainder over all of them). Packets of equal size can leave in one ``sendmsg`` with UDP
segmentation offload, so :attr:`MediaPacket.groups` lists the runs of payloads that can: a run of
equal sizes, optionally closed by one shorter payload, which is exactly what the kernel accepts.
"""

from __future__ import annotations

from fractions import Fraction

import av

from streaming.webrtc.aiortc_boundary import h264_split_bitstream, h264_stap_a

VIDEO_CLOCK = 90_000
AUDIO_CLOCK = 48_000
#: Largest RTP payload (aiortc's limit too): with header, extensions and SRTP tag well under
#: a 1500-byte MTU.
PAYLOAD_MAX = 1300
#: Most payloads sent in one segmented datagram (the kernel allows 64).
GROUP_MAX = 48
NAL_TYPE_FU_A = 28
#: NAL unit types never sent: access unit delimiters (9) and filler data (12) carry nothing a
#: WebRTC decoder uses (the RTP marker bit ends an access unit), and the AUD FFmpeg's MPEG-TS
#: muxer puts first in every frame would otherwise be a packet of its own per frame and viewer.
DROPPED_NAL_TYPES = frozenset({9, 12})


class MediaPacket:
    """One video frame (access unit) or one audio packet, ready for RTP.

    ``timestamp`` is in the RTP clock of its kind (90 kHz video, 48 kHz Opus), before the
    sender's random origin is added. ``groups`` holds ``(start, end, size)`` runs of
    ``payloads`` (see the module docstring). Instances are shared by all viewers and never
    mutated; :meth:`retimed` makes a viewer's own copy (used for the start burst).
    """

    __slots__ = ("groups", "is_keyframe", "payloads", "size", "timestamp")

    def __init__(
        self, payloads: list[bytes], timestamp: int, *, is_keyframe: bool = False, size: int = 0
    ) -> None:
        self.payloads = payloads
        self.timestamp = timestamp
        self.is_keyframe = is_keyframe
        self.size = size or sum(len(p) for p in payloads)
        self.groups = send_groups([len(p) for p in payloads])

    def retimed(self, timestamp: int) -> MediaPacket:
        """The same payloads (shared, not copied) at another timestamp."""
        copy = MediaPacket.__new__(MediaPacket)
        copy.payloads = self.payloads
        copy.timestamp = timestamp
        copy.is_keyframe = self.is_keyframe
        copy.size = self.size
        copy.groups = self.groups
        return copy

    def __repr__(self) -> str:
        kind = "key" if self.is_keyframe else "delta"
        return f"MediaPacket({kind}, ts={self.timestamp}, {len(self.payloads)} payloads)"


def send_groups(sizes: list[int], limit: int = GROUP_MAX) -> tuple[tuple[int, int, int], ...]:
    """Runs ``(start, end, size)`` of ``sizes``: equal sizes, at most one shorter one at the
    end, at most ``limit`` long. A run of one is sent as a plain datagram."""
    groups = []
    start = 0
    count = len(sizes)
    while start < count:
        size = sizes[start]
        end = start + 1
        while end < count and end - start < limit and sizes[end] == size:
            end += 1
        if end < count and end - start < limit and sizes[end] < size:
            end += 1
        groups.append((start, end, size))
        start = end
    return tuple(groups)


def fragment(nal: bytes, limit: int = PAYLOAD_MAX) -> list[bytes]:
    """FU-A fragments of one NAL unit (RFC 6184 §5.8): all ``limit`` bytes but the last."""
    indicator = (nal[0] & 0xE0) | NAL_TYPE_FU_A
    nal_type = nal[0] & 0x1F
    chunk = limit - 2
    body = memoryview(nal)[1:]
    pieces = [body[offset : offset + chunk] for offset in range(0, len(body), chunk)]
    last = len(pieces) - 1
    return [
        bytes((indicator, nal_type | (0x80 if i == 0 else 0) | (0x40 if i == last else 0))) + piece
        for i, piece in enumerate(pieces)
    ]


def packetize(nals: list[bytes]) -> list[bytes]:
    """RTP payloads of an access unit's NAL units: FU-A for large ones, STAP-A (aiortc's) for
    runs of small ones, single NAL unit packets otherwise; delimiters and filler left out."""
    payloads: list[bytes] = []
    iterator = iter([nal for nal in nals if nal and nal[0] & 0x1F not in DROPPED_NAL_TYPES])
    nal = next(iterator, None)
    while nal is not None:
        if len(nal) > PAYLOAD_MAX:
            payloads.extend(fragment(nal))
            nal = next(iterator, None)
        else:
            aggregated, nal = h264_stap_a(nal, iterator)
            payloads.append(aggregated)
    return payloads


def to_clock(pts: int, time_base: Fraction, clock: int) -> int:
    """``pts`` in ``time_base`` units as ticks of a ``clock`` Hz clock."""
    return pts * time_base.numerator * clock // time_base.denominator


def video_packet(packet: av.Packet) -> MediaPacket:
    """An H.264 Annex B access unit as RTP payloads (packetization-mode 1)."""
    data = bytes(packet)
    assert packet.pts is not None and packet.time_base is not None
    payloads = packetize(list(h264_split_bitstream(data)))
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
