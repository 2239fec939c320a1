"""Speakers' cameras with real aiortc peers on 127.0.0.1: a speaker publishes a camera (aiortc
encodes a moving pattern with its H.264 encoder, as a browser would) and the microphone; the
room display gets the camera in a video slot as forwarded packets (never decoded or
re-encoded on the way), a late listener starts on a keyframe the server asked for (PLI), a
speaker never gets their own picture, and leaving the stage darkens the slot.

Uses the harness of :mod:`tests.streaming.test_dialog_stage` (``Room``, ``Speaker``, ``Ear``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time

import av
import pytest
from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    VideoStreamTrack,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from streaming.dialog import ListenerKey
from streaming.dialog.frames import FrameAssembler, h264_starts_keyframe
from streaming.dialog.publisher import Publisher
from streaming.dialog.video_slots import VideoSlot
from streaming.webrtc.aiortc_boundary import (
    tap_encoded_frames,
    tap_received_rtp,
    tap_received_video_rtp,
)
from tests.streaming.test_dialog_stage import (
    OCCURRENCE,
    Ear,
    OpusTrack,
    Room,
    Speaker,
    encode_opus,
    tone_pcm,
)
from tests.support.webrtc_peers import until

pytestmark = pytest.mark.timeout(90)

WIDTH, HEIGHT = 320, 240


class PatternTrack(VideoStreamTrack):
    """A camera: a moving grey ramp, 30 frames a second (aiortc encodes it)."""

    def __init__(self) -> None:
        super().__init__()
        self._index = 0
        chroma = bytes([128]) * (WIDTH * HEIGHT // 4)
        self._chroma = chroma

    async def recv(self) -> av.VideoFrame:  # type: ignore[override]
        pts, time_base = await self.next_timestamp()
        shift = (self._index * 4) & 0xFF
        self._index += 1
        row = bytes((x + shift) & 0xFF for x in range(WIDTH))
        frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")  # planes unpadded at this size
        frame.planes[0].update(row * HEIGHT)
        frame.planes[1].update(self._chroma)
        frame.planes[2].update(self._chroma)
        frame.pts = pts
        frame.time_base = time_base
        return frame


class CameraSpeaker(Speaker):
    """A browser publishing microphone and camera; records the camera's RTP payloads as its
    encoder made them. ``codecs``: what its offer lists (default aiortc's VP8 and H.264)."""

    def __init__(self, track: MediaStreamTrack, codecs: list[str] | None = None) -> None:
        super().__init__(track)
        self.camera = PatternTrack()
        self.video = self.pc.addTransceiver(self.camera, direction="sendonly")
        if codecs is not None:
            wanted = {f"video/{name}".lower() for name in codecs}
            self.video.setCodecPreferences(
                [
                    c
                    for c in RTCRtpSender.getCapabilities("video").codecs
                    if c.mimeType.lower() in wanted
                ]
            )
        self.sent_video: set[bytes] = set()
        tap_encoded_frames(self.video.sender, lambda payloads, _: self.sent_video.update(payloads))

    async def close(self) -> None:
        self.camera.stop()
        await super().close()


class Screen(Ear):
    """A listening page that also shows the video slots: RTP payloads and decoded frames
    (with their size and when they came) per video slot."""

    def __init__(self) -> None:
        super().__init__()
        # Made again with max-bundle: under aiortc's default (balanced) an offerer's second
        # video transceiver stays on a transport of its own that never connects, and the
        # first one's receiver gets both slots' packets. (Browsers bundle correctly.)
        slots = len(self.audio)
        self.pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self.audio = [self.pc.addTransceiver("audio", direction="recvonly") for _ in range(slots)]
        for slot, transceiver in enumerate(self.audio):
            tap_received_rtp(transceiver.receiver, self._tap(slot))
        self.cameras = [self.pc.addTransceiver("video", direction="recvonly") for _ in range(2)]
        self.video_payloads: list[list[bytes]] = [[] for _ in self.cameras]
        self.keyframes: list[int] = [0 for _ in self.cameras]
        self.decoded: list[list[tuple[float, int, int]]] = [[] for _ in self.cameras]
        for slot, transceiver in enumerate(self.cameras):
            tap_received_video_rtp(transceiver.receiver, self._video_tap(slot))

    def _video_tap(self, slot: int):  # type: ignore[no-untyped-def]
        def on_rtp(pt: int, seq: int, ts: int, marker: bool, ssrc: int, payload: bytes) -> None:
            self.video_payloads[slot].append(payload)
            if h264_starts_keyframe(payload):
                self.keyframes[slot] += 1

        return on_rtp

    async def _watch(self, slot: int, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                self.decoded[slot].append((time.monotonic(), frame.width, frame.height))

    async def accept(self, answer: str) -> None:
        await super().accept(answer)
        for slot, transceiver in enumerate(self.cameras):
            self.tasks.append(asyncio.create_task(self._watch(slot, transceiver.receiver.track)))

    def frames_since(self, slot: int, since: float) -> int:
        return sum(1 for at, _, _ in self.decoded[slot] if at >= since)


async def speak_with_camera(
    room: Room, speaker_id: int, codecs: list[str] | None = None
) -> CameraSpeaker:
    speaker = CameraSpeaker(OpusTrack(encode_opus(tone_pcm(50))), codecs)
    room.peers.append(speaker)
    _, answer = await room.stage.publish(OCCURRENCE, speaker_id, await speaker.offer())
    await speaker.accept(answer)
    return speaker


async def watch(room: Room, key: ListenerKey) -> Screen:
    screen = Screen()
    room.peers.append(screen)
    _, answer = await room.stage.listen(OCCURRENCE, key, await screen.offer())
    await screen.accept(answer)
    return screen


@pytest.fixture
async def room():  # type: ignore[no-untyped-def]
    room = Room()
    try:
        yield room
    finally:
        await room.close()


async def test_the_room_display_shows_a_speakers_camera_as_forwarded_packets(
    room: Room,
) -> None:
    room.stage.set_stage(OCCURRENCE, {1})
    display = await watch(room, ListenerKey.display())
    own = await watch(room, ListenerKey.speaker(1))
    speaker = await speak_with_camera(room, 1)  # offers VP8 and H.264: H.264 is taken
    await until(lambda: room.stage.snapshot(OCCURRENCE).video_slots == (1, None))
    await until(lambda: len(display.decoded[0]) > 0)
    started = time.monotonic()
    await asyncio.sleep(2.0)
    assert display.frames_since(0, started) > 20
    assert {(w, h) for _, w, h in display.decoded[0]} == {(WIDTH, HEIGHT)}
    # The payloads arrive exactly as the speaker's encoder packetized them.
    received = display.video_payloads[0]
    assert len(received) > 20 and all(payload in speaker.sent_video for payload in received)
    assert display.keyframes[0] >= 1
    assert display.decoded[1] == [] and display.video_payloads[1] == []
    # The speaker's own page gets the others' voices and pictures, never their own.
    assert own.video_payloads == [[], []] and own.decoded == [[], []]
    snapshot = room.stage.snapshot(OCCURRENCE)
    assert snapshot.video_slot_packets[0] >= len(received)
    assert snapshot.video_slot_frames[0] > 20
    (publisher,) = snapshot.publishers
    assert publisher.video_slot == 0 and publisher.video_packets >= snapshot.video_slot_packets[0]
    listener = next(i for i in snapshot.listeners if i.key == ListenerKey.display())
    assert listener.video_frames[0] > 20
    own_info = next(i for i in snapshot.listeners if i.key == ListenerKey.speaker(1))
    assert own_info.video_frames == (0, 0)


async def test_a_late_listener_starts_on_a_keyframe_it_asked_for(room: Room) -> None:
    room.stage.set_stage(OCCURRENCE, {1})
    await speak_with_camera(room, 1)
    first = await watch(room, ListenerKey.display())
    await until(lambda: len(first.decoded[0]) > 0)
    # aiortc's H.264 encoder makes a keyframe only every 250 frames (8 s) unless asked.
    await asyncio.sleep(1.5)
    requests = room.stage.snapshot(OCCURRENCE).publishers[0].keyframe_requests
    joined = time.monotonic()
    late = await watch(room, ListenerKey.host())
    await until(lambda: len(late.decoded[0]) > 0, timeout=5.0)
    assert late.decoded[0][0][0] - joined < 1.5
    assert room.stage.snapshot(OCCURRENCE).publishers[0].keyframe_requests > requests
    assert late.keyframes[0] >= 1


async def test_leaving_the_stage_darkens_the_slot_and_the_next_camera_takes_it(
    room: Room,
) -> None:
    room.stage.set_stage(OCCURRENCE, {1, 2, 3})
    display = await watch(room, ListenerKey.display())
    await speak_with_camera(room, 1)
    await speak_with_camera(room, 2)
    await speak_with_camera(room, 3)  # a third camera waits for a video slot
    assert room.stage.snapshot(OCCURRENCE).video_slots == (1, 2)
    await until(lambda: len(display.decoded[0]) > 5 and len(display.decoded[1]) > 5)

    room.stage.set_stage(OCCURRENCE, {2, 3})
    assert room.stage.snapshot(OCCURRENCE).video_slots == (3, 2)
    switched = time.monotonic()
    # The slot's new speaker starts on a keyframe (asked for at once), on the same track.
    await until(lambda: display.frames_since(0, switched + 0.2) > 5, timeout=5.0)
    assert {(w, h) for _, w, h in display.decoded[0]} == {(WIDTH, HEIGHT)}

    room.stage.set_stage(OCCURRENCE, {2})
    assert room.stage.snapshot(OCCURRENCE).video_slots == (None, 2)
    await asyncio.sleep(0.3)
    dark_from = len(display.video_payloads[0])
    other_from = len(display.video_payloads[1])
    await asyncio.sleep(0.5)
    assert len(display.video_payloads[0]) == dark_from
    assert len(display.video_payloads[1]) > other_from + 10


async def test_a_vp8_only_camera_is_answered_inactive(room: Room) -> None:
    room.stage.set_stage(OCCURRENCE, {1})
    display = await watch(room, ListenerKey.display())
    speaker = await speak_with_camera(room, 1, codecs=["VP8"])
    assert speaker.pc.remoteDescription is not None
    camera = next(m for m in speaker.pc.remoteDescription.sdp.split("m=")[1:] if m[:5] == "video")
    assert "a=inactive" in camera
    await until(lambda: display.packets[0] > 20)  # the voice still gets through
    snapshot = room.stage.snapshot(OCCURRENCE)
    assert snapshot.video_slots == (None, None)
    assert snapshot.publishers[0].video_slot is None


def test_frames_are_whole_or_dropped() -> None:
    frames = []
    losses = []
    assembler = FrameAssembler(frames.append, lambda: losses.append(1))
    idr = bytes([0x7C, 0x85]) + b"idr"  # FU-A start of an IDR slice
    assembler.push(10, 3000, False, idr)
    assembler.push(11, 3000, True, bytes([0x7C, 0x45]) + b"end")
    assembler.push(12, 6000, True, bytes([0x41]) + b"delta")
    assembler.push(11, 3000, True, b"late duplicate")
    assembler.push(14, 9000, True, bytes([0x41]) + b"after a gap")  # 13 lost
    assert [(f.timestamp, f.keyframe, len(f.payloads)) for f in frames] == [
        (3000, True, 2),
        (6000, False, 1),
    ]
    assert losses == [1]
    # STAP-A with SPS, PPS and an IDR slice.
    stap = bytes([0x78, 0, 2, 0x67, 1, 0, 2, 0x68, 1, 0, 2, 0x65, 1])
    assert h264_starts_keyframe(stap)
    assert not h264_starts_keyframe(bytes([0x78, 0, 2, 0x67, 1]))


@pytest.mark.skipif(not os.environ.get("KNOTEN_MEASURE"), reason="a measurement, not a test")
async def test_measure_cpu_per_forwarded_camera(
    room: Room, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Event-loop time the server spends on one camera: taking each packet in (tap, frame
    assembly) and forwarding each frame to N listeners (MediaPacket, header, AES-GCM,
    sendto). The peers (encoding, decoding) run in this process too, so process CPU would
    say nothing; the two steps are timed instead. Run with ``KNOTEN_MEASURE=1 -s``."""
    spent = {"in": 0.0, "out": 0.0}

    def timed(name: str, method):  # type: ignore[no-untyped-def]
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            began = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - began

        return wrapper

    monkeypatch.setattr(Publisher, "_on_video_rtp", timed("in", Publisher._on_video_rtp))
    monkeypatch.setattr(VideoSlot, "forward", timed("out", VideoSlot.forward))
    room.stage.set_stage(OCCURRENCE, {1})
    await speak_with_camera(room, 1)
    for count in (1, 4):
        screens = [await watch(room, ListenerKey.host()) for _ in range(count)]
        await until(lambda: all(len(s.decoded[0]) > 0 for s in screens), timeout=10.0)  # noqa: B023
        spent.update({"in": 0.0, "out": 0.0})
        packets_from = room.stage.snapshot(OCCURRENCE).video_slot_packets[0]
        start = time.monotonic()
        await asyncio.sleep(5.0)
        wall = time.monotonic() - start
        packets = room.stage.snapshot(OCCURRENCE).video_slot_packets[0] - packets_from
        print(
            f"\n{count} listener(s): {packets / wall:.0f} packets/s in; taking in "
            f"{spent['in'] / wall:.5f} cores; forwarding {spent['out'] / wall:.5f} cores "
            f"({spent['out'] / wall / count:.5f} per listener)"
        )
        for screen in screens:
            await screen.close()
