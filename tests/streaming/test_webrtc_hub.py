"""The WebRTC fan-out's queue and hub, without network or browser: fast and deterministic."""

from __future__ import annotations

import asyncio
import itertools
from fractions import Fraction

import av
import pytest
from aiortc.codecs.h264 import H264Encoder, H264PayloadDescriptor
from aiortc.mediastreams import MediaStreamError

from streaming.webrtc.hub import BURST_STEP, FeedHub, PacketQueue, start_burst
from streaming.webrtc.rtp.packets import (
    PAYLOAD_MAX,
    MediaPacket,
    audio_packet,
    send_groups,
    video_packet,
)

FRAME = 3000  # one 30 fps frame at 90 kHz


def frame(index: int, *, key: bool = False) -> MediaPacket:
    return MediaPacket([bytes([index % 256]) * 10], index * FRAME, is_keyframe=key)


def drain(queue: PacketQueue) -> list[MediaPacket]:
    items = []
    while len(queue):
        items.append(queue._items.popleft())
    return items


def test_queue_starts_on_a_keyframe() -> None:
    queue = PacketQueue(10, keyframe_aware=True)
    queue.put(frame(0))
    queue.put(frame(1))
    assert len(queue) == 0 and queue.stats.dropped == 2
    queue.put(frame(2, key=True))
    queue.put(frame(3))
    assert [p.timestamp for p in drain(queue)] == [2 * FRAME, 3 * FRAME]


def test_lagging_viewer_skips_to_the_next_keyframe_with_bounded_memory() -> None:
    limit = 5
    queue = PacketQueue(limit, keyframe_aware=True)
    sizes = []
    # GOP of 10 frames; nobody reads: the queue never holds more than `limit` frames.
    for index in range(33):
        queue.put(frame(index, key=index % 10 == 0))
        sizes.append(len(queue))
    assert max(sizes) == limit
    items = drain(queue)
    # What is left starts on a keyframe (decodable), and nothing older than it survived.
    assert items[0].is_keyframe and items[0].timestamp == 30 * FRAME
    assert [p.timestamp for p in items] == [i * FRAME for i in range(30, 33)]
    assert queue.stats.dropped == 30


def test_lagging_viewer_resumes_on_the_keyframe_itself() -> None:
    queue = PacketQueue(3, keyframe_aware=True)
    for index in range(3):
        queue.put(frame(index, key=index == 0))
    queue.put(frame(3, key=True))  # full, but a keyframe: start over on it
    assert [p.timestamp for p in drain(queue)] == [3 * FRAME]


def test_audio_queue_drops_the_oldest() -> None:
    queue = PacketQueue(3, keyframe_aware=False)
    for index in range(5):
        queue.put(frame(index))
    assert [p.timestamp for p in drain(queue)] == [2 * FRAME, 3 * FRAME, 4 * FRAME]
    assert queue.stats.dropped == 2


def test_pli_skips_to_the_newest_queued_keyframe() -> None:
    queue = PacketQueue(20, keyframe_aware=True)
    for index in range(12):
        queue.put(frame(index, key=index in (0, 8)))
    assert queue.skip_to_latest_keyframe()
    assert [p.timestamp for p in drain(queue)] == [i * FRAME for i in range(8, 12)]
    assert not queue.skip_to_latest_keyframe()  # nothing queued: wait for the feed's next


async def test_get_waits_and_close_ends_the_reader() -> None:
    queue = PacketQueue(5, keyframe_aware=True)
    getter = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    assert not getter.done()
    queue.put(frame(0, key=True))
    assert (await asyncio.wait_for(getter, 1)).timestamp == 0
    assert queue.stats.packets == 1 and queue.stats.bytes == 10
    getter = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.close()
    with pytest.raises(MediaStreamError):
        await asyncio.wait_for(getter, 1)
    queue.put(frame(1, key=True))  # ignored once closed
    assert len(queue) == 0


async def test_new_viewer_starts_with_the_last_gop_retimed() -> None:
    hub = FeedHub(1, "t")
    for index in range(25):  # keyframes at 0, 10, 20
        hub.push_video(frame(index, key=index % 10 == 0))
    subscription = hub.subscribe()
    burst = drain(subscription.video)
    # The last GOP, keyframe first, same payloads (shared, not copied)...
    assert len(burst) == 5 and burst[0].is_keyframe
    assert all(not p.is_keyframe for p in burst[1:])
    assert [p.payloads for p in burst] == [hub.gop[i].payloads for i in range(5)]
    assert all(p.payloads is g.payloads for p, g in zip(burst, hub.gop, strict=True))
    # ...retimed 1 ms apart, ending at the newest frame's own timestamp.
    stamps = [p.timestamp for p in burst]
    assert stamps[-1] == 24 * FRAME
    assert [b - a for a, b in itertools.pairwise(stamps)] == [BURST_STEP] * 4
    # Live frames follow at their own timestamps: strictly increasing for the viewer.
    hub.push_video(frame(25))
    assert drain(subscription.video)[0].timestamp == 25 * FRAME > stamps[-1]
    # The hub's GOP itself is untouched (other viewers share it).
    assert [p.timestamp for p in hub.gop] == [i * FRAME for i in range(20, 26)]


async def test_viewer_before_the_first_keyframe_waits_for_it() -> None:
    hub = FeedHub(1, "t")
    hub.push_video(frame(0))
    subscription = hub.subscribe()
    hub.push_video(frame(1))
    assert len(subscription.video) == 0
    hub.push_video(frame(2, key=True))
    assert [p.timestamp for p in drain(subscription.video)] == [2 * FRAME]
    assert hub.has_keyframe.is_set()


async def test_a_stalled_viewer_does_not_affect_the_others() -> None:
    hub = FeedHub(1, "t", video_queue_frames=8, audio_queue_packets=4)
    hub.push_video(frame(0, key=True))
    stalled = hub.subscribe()
    healthy = hub.subscribe()
    received = drain(healthy.video)
    for index in range(1, 100):
        hub.push_video(frame(index, key=index % 30 == 0))
        hub.push_audio(frame(index))
        received += drain(healthy.video)
        drain(healthy.audio)
        assert len(stalled.video) <= 8 and len(stalled.audio) <= 4
    assert [p.timestamp for p in received] == [i * FRAME for i in range(100)]
    assert healthy.video.stats.dropped == 0 and healthy.audio.stats.dropped == 0
    assert stalled.video.stats.dropped > 80
    hub.unsubscribe(stalled)
    assert stalled.video.closed and stalled not in hub.subscribers
    hub.close()
    assert not hub.subscribers and healthy.video.closed


def test_direct_sink_gets_the_backlog_then_each_packet_and_a_refusal_skips_to_a_keyframe() -> None:
    queue = PacketQueue(10, keyframe_aware=True)
    for index in range(3):
        queue.put(frame(index, key=index == 0))
    sent: list[int] = []
    accept = True

    def sink(packet: MediaPacket) -> bool:
        if accept:
            sent.append(packet.timestamp // FRAME)
        return accept

    queue.send_to(sink)
    assert sent == [0, 1, 2] and len(queue) == 0
    queue.put(frame(3))
    accept = False  # the viewer's socket is full
    queue.put(frame(4))
    accept = True
    queue.put(frame(5))  # not decodable without frame 4: dropped
    queue.put(frame(6, key=True))
    queue.put(frame(7))
    assert sent == [0, 1, 2, 3, 6, 7]
    assert queue.stats.packets == 6 and queue.stats.dropped == 2 and len(queue) == 0
    queue.close()
    queue.put(frame(8, key=True))
    assert sent[-1] == 7


def test_start_burst_of_nothing() -> None:
    assert start_burst([]) == []


def test_packetization_reassembles_with_aiortcs_depacketizer() -> None:
    """Packetized once in the reader: STAP-A as aiortc's own encoder, FU-A in equal fragments
    (all but the last), and aiortc's receiver gets the same NAL units back."""
    nal = b"\x00\x00\x00\x01\x67" + b"\x11" * 20 + b"\x00\x00\x01\x68" + b"\x22" * 4
    idr = b"\x00\x00\x01\x65" + bytes(range(256)) * 12  # > 1300 bytes: FU-A
    packet = av.Packet(nal + idr)
    packet.pts = 180_000
    packet.time_base = Fraction(1, 90_000)
    packet.is_keyframe = True
    ours = video_packet(packet)
    payloads, timestamp = H264Encoder().pack(packet)
    assert ours.payloads[0] == payloads[0]  # the STAP-A of SPS + PPS
    assert [len(p) for p in ours.payloads] == [31, PAYLOAD_MAX, PAYLOAD_MAX, 478]
    assert ours.groups == ((0, 1, 31), (1, 4, PAYLOAD_MAX))
    assert ours.timestamp == timestamp == 180_000
    assert ours.is_keyframe and ours.size == len(nal + idr)
    reassembled = b"".join(H264PayloadDescriptor.parse(p)[1] for p in ours.payloads)
    start = b"\x00\x00\x00\x01"
    assert reassembled == start + nal[4:25] + start + nal[28:] + start + idr[3:]


def test_send_groups() -> None:
    assert send_groups([]) == ()
    assert send_groups([5]) == ((0, 1, 5),)
    assert send_groups([9, 9, 9, 4, 9, 9]) == ((0, 4, 9), (4, 6, 9))
    assert send_groups([3, 9, 9, 12, 12]) == ((0, 1, 3), (1, 3, 9), (3, 5, 12))
    assert send_groups([9] * 5, limit=2) == ((0, 2, 9), (2, 4, 9), (4, 5, 9))
    retimed = MediaPacket([b"a" * 9, b"b" * 4], 10, is_keyframe=True).retimed(20)
    assert retimed.timestamp == 20 and retimed.groups == ((0, 2, 9),) and retimed.is_keyframe

    opus = av.Packet(b"\x78" * 50)
    opus.pts = 90_000  # 1 s in MPEG-TS time → 48 kHz RTP clock
    opus.time_base = Fraction(1, 90_000)
    assert audio_packet(opus).timestamp == 48_000


def test_delimiters_and_filler_are_not_sent() -> None:
    """FFmpeg's MPEG-TS muxer starts every access unit with an AUD; a decoder needs neither it
    nor filler data, and alone each would be a packet of its own per frame and viewer."""
    aud = b"\x00\x00\x00\x01\x09\xf0"
    filler = b"\x00\x00\x01\x0c" + b"\xff" * 8
    slice_ = b"\x00\x00\x01\x41" + b"\x9a" * 40
    packet = av.Packet(aud + slice_ + filler)
    packet.pts = 0
    packet.time_base = Fraction(1, 90_000)
    assert video_packet(packet).payloads == [slice_[3:]]
