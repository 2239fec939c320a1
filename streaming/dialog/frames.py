"""A speaker's camera RTP (H.264, packetization-mode 1) regrouped into whole frames.

The listeners' send path (:class:`~streaming.webrtc.rtp.stream.RtpStream`) sends one
:class:`~streaming.webrtc.rtp.packets.MediaPacket` as one frame: its payloads with consecutive
sequence numbers, the marker on the last. So the received packets are collected per frame (one
RTP timestamp, closed by the marker) and handed on whole, each payload unchanged.

A frame with a gap in its sequence numbers, or that ends without its marker (the next
timestamp began), is dropped, not forwarded: each listener's stream numbers its packets itself,
so a hole forwarded would reach the listener's decoder unseen as corrupt picture data. The
caller then waits for a keyframe. Retransmissions and duplicates (older than what was seen)
are ignored: their frame has gone already. :func:`annexb` turns a frame back into the access
unit a decoder takes (for the picture-in-picture tiles).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

#: H.264 NAL unit types (RFC 6184): an IDR slice, STAP-A aggregation and FU-A fragments.
NAL_IDR = 5
NAL_STAP_A = 24
NAL_FU_A = 28
_HALF16 = 1 << 15


def h264_starts_keyframe(payload: bytes) -> bool:
    """Whether this RTP payload carries (the start of) an IDR slice: as a single NAL unit, in
    a STAP-A (usually with the SPS and PPS before it) or as the first FU-A fragment. A frame
    with one of these is a picture a decoder can start on."""
    if not payload:
        return False
    nal_type = payload[0] & 0x1F
    if nal_type == NAL_IDR:
        return True
    if nal_type == NAL_FU_A:
        return len(payload) > 1 and payload[1] & 0x80 != 0 and payload[1] & 0x1F == NAL_IDR
    if nal_type == NAL_STAP_A:
        offset = 1
        end = len(payload)
        while offset + 2 < end:
            size = (payload[offset] << 8) | payload[offset + 1]
            if payload[offset + 2] & 0x1F == NAL_IDR:
                return True
            offset += 2 + size
    return False


_START_CODE = b"\x00\x00\x00\x01"


def annexb(payloads: list[bytes]) -> bytes:
    """A frame's RTP payloads as one H.264 access unit in Annex B (start codes before each NAL
    unit), what a decoder takes: single NAL units as they are, STAP-A unpacked, FU-A
    fragments joined under the header rebuilt from their indicator and header bytes."""
    out = bytearray()
    for payload in payloads:
        if not payload:
            continue
        nal_type = payload[0] & 0x1F
        if nal_type == NAL_STAP_A:
            offset, end = 1, len(payload)
            while offset + 2 <= end:
                size = (payload[offset] << 8) | payload[offset + 1]
                offset += 2
                if size == 0 or offset + size > end:
                    break
                out += _START_CODE + payload[offset : offset + size]
                offset += size
        elif nal_type == NAL_FU_A:
            if len(payload) < 2:
                continue
            if payload[1] & 0x80:  # the first fragment: the NAL unit begins
                out += _START_CODE + bytes([(payload[0] & 0xE0) | (payload[1] & 0x1F)])
            out += payload[2:]
        else:
            out += _START_CODE + payload
    return bytes(out)


@dataclass(frozen=True, slots=True)
class Frame:
    """One whole received frame: its payloads in order, the sender's RTP timestamp, whether a
    decoder can start on it."""

    payloads: list[bytes]
    timestamp: int
    keyframe: bool
    size: int


class FrameAssembler:
    """Collects one stream's RTP packets into :class:`Frame`\\ s for ``on_frame``; calls
    ``on_loss`` when a frame had to be dropped (the next decodable one is a keyframe)."""

    __slots__ = (
        "_broken",
        "_keyframe",
        "_next_sequence",
        "_on_frame",
        "_on_loss",
        "_payloads",
        "_size",
        "_timestamp",
        "frames",
        "lost",
    )

    def __init__(self, on_frame: Callable[[Frame], None], on_loss: Callable[[], None]) -> None:
        self._on_frame = on_frame
        self._on_loss = on_loss
        self._payloads: list[bytes] = []
        self._timestamp: int | None = None
        self._next_sequence: int | None = None
        self._keyframe = False
        self._broken = False
        self._size = 0
        self.frames = 0
        self.lost = 0

    def push(self, sequence_number: int, timestamp: int, marker: bool, payload: bytes) -> None:
        """One received RTP packet (in arrival order)."""
        expected = self._next_sequence
        if expected is not None:
            ahead = (sequence_number - expected) & 0xFFFF
            if ahead >= _HALF16:
                return  # older than what was seen: a retransmission or a duplicate
            gap = ahead != 0
        else:
            gap = False
        self._next_sequence = (sequence_number + 1) & 0xFFFF
        if self._timestamp is not None and timestamp != self._timestamp:
            self._drop()  # the previous frame never got its marker
        if self._timestamp is None:
            self._timestamp = timestamp
            # A gap right before a frame's first packet may have taken the previous frame's end
            # (dropped above or already gone) or this frame's beginning: either breaks it.
            self._broken = gap
        elif gap:
            self._broken = True
        self._payloads.append(payload)
        self._size += len(payload)
        if not self._keyframe and h264_starts_keyframe(payload):
            self._keyframe = True
        if marker:
            if self._broken:
                self._drop()
            else:
                frame = Frame(self._payloads, timestamp, self._keyframe, self._size)
                self._reset()
                self.frames += 1
                self._on_frame(frame)

    def _drop(self) -> None:
        self._reset()
        self.lost += 1
        self._on_loss()

    def _reset(self) -> None:
        self._payloads = []
        self._timestamp = None
        self._keyframe = False
        self._broken = False
        self._size = 0
