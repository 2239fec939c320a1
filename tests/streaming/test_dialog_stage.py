"""Remote speakers' media with real aiortc peers on 127.0.0.1: a speaker publishes Opus, the
room display, the host and the other speakers hear it as forwarded packets (mix-minus), the
stage decides who may publish, and the bus gets 20 ms PCM frames.

The publishing test peer sends Opus packets it encoded itself (aiortc packs an ``av.Packet``
without encoding it), so a test knows the exact payload bytes that left the speaker and can
check the listener got the same bytes: forwarded, not re-encoded.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import itertools
import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import av
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from streaming.dialog import (
    MAX_STAGE,
    PCM_FRAME_BYTES,
    ListenerKey,
    NotOnStage,
    StageClosed,
    StageFull,
    StageMedia,
)
from streaming.webrtc import WebrtcOptions
from streaming.webrtc.aiortc_boundary import tap_received_rtp
from tests.support.webrtc_peers import LoopbackPeer, until

pytestmark = pytest.mark.timeout(60)

OCCURRENCE = 7
OPTIONS = WebrtcOptions(host_addresses=("127.0.0.1",), connect_timeout_s=10.0)
SAMPLES = 960  # 20 ms at 48 kHz
SILENCE_RMS = 30.0


def encode_opus(frames: list[bytes]) -> list[av.Packet]:
    """Opus packets of 20 ms stereo s16 frames (as a browser would send them)."""
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate = 48_000
    codec.layout = "stereo"
    codec.format = "s16"
    codec.bit_rate = 64_000
    codec.time_base = Fraction(1, 48_000)
    packets: list[av.Packet] = []
    for index, pcm in enumerate(frames):
        frame = av.AudioFrame(format="s16", layout="stereo", samples=SAMPLES)
        frame.planes[0].update(pcm)
        frame.sample_rate = 48_000
        frame.pts = index * SAMPLES
        frame.time_base = codec.time_base
        packets.extend(codec.encode(frame))
    packets.extend(codec.encode(None))
    return packets


def tone_pcm(count: int, frequency: float = 1000.0, amplitude: int = 8000) -> list[bytes]:
    frames = []
    for index in range(count):
        samples = array.array("h")
        for n in range(SAMPLES):
            value = int(
                amplitude * math.sin(2 * math.pi * frequency * (index * SAMPLES + n) / 48_000)
            )
            samples.extend((value, value))
        frames.append(samples.tobytes())
    return frames


def rms(pcm: bytes) -> float:
    samples = array.array("h", pcm)
    return math.sqrt(sum(s * s for s in samples) / len(samples)) if samples else 0.0


#: The click track: a 20 ms 1 kHz burst every CLICK_EVERY frames (0.5 s), silence otherwise.
CLICK_EVERY = 25
#: A decoded 20 ms frame with a larger RMS carries a click (the burst's is ≈ 8,500, silence 0).
CLICK_RMS = 2000.0
#: A click not seen this long after it was sent counts as lost (the next one is 0.5 s on).
CLICK_WINDOW_S = 0.45


def click_track(frames: int) -> list[av.Packet]:
    """Opus packets of ``frames`` × 20 ms of the click track. Encoded as one stream, not
    looped: Opus frames predict from their predecessors."""
    silence = bytes(SAMPLES * 4)
    burst = tone_pcm(1, amplitude=12000)[0]
    return encode_opus([burst if i % CLICK_EVERY == 0 else silence for i in range(frames)])


@dataclass(frozen=True, slots=True)
class Click:
    """One click of the track: when the packet carrying it was handed to the speaker's sender,
    and the seconds from then until the listener received that payload (RTP), its decoded
    audio was loud, the PCM frames for the bus were loud; None: not within CLICK_WINDOW_S."""

    sent_at: float
    forwarded: float | None
    decoded: float | None
    pcm: float | None


def clicks(
    sent: Sequence[tuple[float, bytes]],
    received: Sequence[tuple[float, bytes]],
    decoded: Sequence[tuple[float, float]],
    pcm: Sequence[tuple[float, float]] = (),
) -> list[Click]:
    """The clicks in ``sent`` (:attr:`OpusTrack.sent`) but the first and the last, matched
    with the listener's ``received`` (arrival, payload) and the ``decoded`` and ``pcm``
    (time, RMS) of 20 ms frames, all in ``time.monotonic()`` order."""
    # A click leaves in the first large packet after small (silent) ones.
    onsets = [
        (at, payload)
        for (_, before), (at, payload) in itertools.pairwise(sent)
        if len(payload) > 20 >= len(before)
    ]
    loud = [at for at, level in decoded if level > CLICK_RMS]
    loud_pcm = [at for at, level in pcm if level > CLICK_RMS]

    def after(times: list[float], since: float) -> float | None:
        first = next((at - since for at in times if at >= since), None)
        return first if first is not None and first < CLICK_WINDOW_S else None

    return [
        Click(
            sent_at,
            after([at for at, got in received if got == payload], sent_at),
            after(loud, sent_at),
            after(loud_pcm, sent_at),
        )
        for sent_at, payload in onsets[1:-1]
    ]


class OpusTrack(MediaStreamTrack):
    """Pre-encoded Opus packets, paced in real time, looping; records when each was sent."""

    kind = "audio"

    def __init__(self, packets: list[av.Packet]) -> None:
        super().__init__()
        self._payloads = [bytes(p) for p in packets]
        self._index = 0
        self._start: float | None = None
        self.sent: list[tuple[float, bytes]] = []

    async def recv(self) -> av.Packet:  # type: ignore[override]
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        wait = self._start + self._index * 0.02 - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        payload = self._payloads[self._index % len(self._payloads)]
        packet = av.Packet(payload)
        packet.pts = self._index * SAMPLES
        packet.time_base = Fraction(1, 48_000)
        self._index += 1
        self.sent.append((time.monotonic(), payload))
        return packet


class Speaker(LoopbackPeer):
    """A browser publishing its microphone (sendonly Opus)."""

    def __init__(self, track: MediaStreamTrack) -> None:
        self.track = track
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.addTransceiver(track, direction="sendonly")

    async def close(self) -> None:
        self.track.stop()
        await self.pc.close()


class Ear(LoopbackPeer):
    """A listening page: one recvonly audio section per slot (and two video ones); counts RTP
    packets and keeps payloads per slot, and decodes what it hears."""

    def __init__(self, slots: int = MAX_STAGE) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.packets = [0] * slots
        self.payloads: list[list[tuple[float, bytes]]] = [[] for _ in range(slots)]
        self.loud: list[list[float]] = [[] for _ in range(slots)]  # decoded frames' RMS
        self.loud_at: list[list[tuple[float, float]]] = [[] for _ in range(slots)]
        self.tasks: list[asyncio.Task[None]] = []
        self.audio = [self.pc.addTransceiver("audio", direction="recvonly") for _ in range(slots)]
        for slot, transceiver in enumerate(self.audio):
            tap_received_rtp(transceiver.receiver, self._tap(slot))
        for _ in range(2):
            self.pc.addTransceiver("video", direction="recvonly")

    def _tap(self, slot: int):  # type: ignore[no-untyped-def]
        def on_rtp(payload_type: int, sequence: int, timestamp: int, payload: bytes) -> None:
            self.packets[slot] += 1
            self.payloads[slot].append((time.monotonic(), payload))

        return on_rtp

    async def _pull(self, slot: int, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                level = rms(bytes(frame.planes[0])[: frame.samples * 4])
                self.loud[slot].append(level)
                self.loud_at[slot].append((time.monotonic(), level))

    def heard(self, slot: int) -> bool:
        return any(level > 10 * SILENCE_RMS for level in self.loud[slot])

    async def accept(self, answer: str) -> None:
        await super().accept(answer)
        # aiortc makes the receivers' tracks when it applies the answer.
        for slot, transceiver in enumerate(self.audio):
            self.tasks.append(asyncio.create_task(self._pull(slot, transceiver.receiver.track)))

    async def close(self) -> None:
        await self.pc.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


@pytest.fixture
def tone() -> list[av.Packet]:
    return encode_opus(tone_pcm(50))  # one second, looped


class Room:
    """A StageMedia with the test peers it answered, all closed at the end."""

    def __init__(self, **kwargs: object) -> None:
        self.pcm: list[tuple[int, int, bytes]] = []
        self.ended: list[tuple[int, int]] = []
        self.stage = StageMedia(
            OPTIONS,
            on_pcm=lambda o, s, pcm: self.pcm.append((o, s, pcm)),
            on_pcm_end=lambda o, s: self.ended.append((o, s)),
            **kwargs,  # type: ignore[arg-type]
        )
        self.peers: list[Speaker | Ear] = []

    async def speak(self, speaker_id: int, packets: list[av.Packet]) -> Speaker:
        speaker = Speaker(OpusTrack(packets))
        self.peers.append(speaker)
        _, answer = await self.stage.publish(OCCURRENCE, speaker_id, await speaker.offer())
        await speaker.accept(answer)
        return speaker

    async def listen(self, key: ListenerKey) -> tuple[str, Ear]:
        ear = Ear()
        self.peers.append(ear)
        resource, answer = await self.stage.listen(OCCURRENCE, key, await ear.offer())
        await ear.accept(answer)
        return resource, ear

    async def close(self) -> None:
        await self.stage.aclose()
        for peer in self.peers:
            await peer.close()


@pytest.fixture
async def room():  # type: ignore[no-untyped-def]
    room = Room()
    try:
        yield room
    finally:
        await room.close()


def slot_of(room: Room, speaker_id: int) -> int:
    return room.stage.snapshot(OCCURRENCE).slots.index(speaker_id)


async def test_the_room_display_hears_a_speaker_as_forwarded_packets(
    room: Room, tone: list[av.Packet]
) -> None:
    room.stage.set_stage(OCCURRENCE, {1})
    _, display = await room.listen(ListenerKey.display())
    speaker = await room.speak(1, tone)
    slot = slot_of(room, 1)
    await until(lambda: display.packets[slot] > 50 and display.heard(slot))
    # The payloads arrive exactly as the speaker's browser encoded them: forwarded, not
    # decoded and re-encoded on the way.
    sent = {payload for _, payload in speaker.track.sent}  # type: ignore[attr-defined]
    received = [payload for _, payload in display.payloads[slot]]
    assert received and all(payload in sent for payload in received)
    assert max(display.loud[slot]) > 1000  # the tone, not silence (its RMS is ≈ 5,700)
    # Nothing in the other slots.
    assert [n for i, n in enumerate(display.packets) if i != slot] == [0] * (MAX_STAGE - 1)
    snapshot = room.stage.snapshot(OCCURRENCE)
    (listener,) = snapshot.listeners
    assert listener.key == ListenerKey.display()
    assert listener.send_path == "direct/aes-gcm"
    assert listener.slot_packets[slot] > 50
    assert snapshot.slot_packets[slot] >= listener.slot_packets[slot]
    (publisher,) = snapshot.publishers
    assert (publisher.speaker_id, publisher.slot, publisher.state) == (1, slot, "connected")


async def test_mix_minus_a_speaker_hears_the_others_but_not_themselves(
    room: Room, tone: list[av.Packet]
) -> None:
    room.stage.set_stage(OCCURRENCE, {1, 2})
    _, ear_a = await room.listen(ListenerKey.speaker(1))
    _, host = await room.listen(ListenerKey.host())
    await room.speak(1, tone)
    await room.speak(2, encode_opus(tone_pcm(50, frequency=440.0)))
    slot_a, slot_b = slot_of(room, 1), slot_of(room, 2)
    assert slot_a != slot_b
    await until(lambda: ear_a.heard(slot_b) and host.heard(slot_a) and host.heard(slot_b))
    await asyncio.sleep(0.3)
    assert ear_a.packets[slot_a] == 0
    assert ear_a.packets[slot_b] > 20
    listener = next(
        i for i in room.stage.snapshot(OCCURRENCE).listeners if i.key == ListenerKey.speaker(1)
    )
    assert listener.slot_packets[slot_a] == 0


async def test_leaving_the_stage_closes_the_publisher_and_quiets_its_slot(
    room: Room, tone: list[av.Packet]
) -> None:
    room.stage.set_stage(OCCURRENCE, {1, 2})
    _, display = await room.listen(ListenerKey.display())
    speaker_a = await room.speak(1, tone)
    await room.speak(2, tone)
    slot_a, slot_b = slot_of(room, 1), slot_of(room, 2)
    await until(lambda: display.packets[slot_a] > 10 and display.packets[slot_b] > 10)

    room.stage.set_stage(OCCURRENCE, {2})
    # Cut off at once: the slot is free before the peer has even finished closing.
    assert room.stage.snapshot(OCCURRENCE).slots[slot_a] is None
    await until(lambda: speaker_a.pc.connectionState == "closed" or (OCCURRENCE, 1) in room.ended)
    await until(lambda: (OCCURRENCE, 1) in room.ended)
    quiet_from = display.packets[slot_a]
    other_from = display.packets[slot_b]
    await asyncio.sleep(0.5)
    assert display.packets[slot_a] == quiet_from
    assert display.packets[slot_b] > other_from + 10
    assert [p.speaker_id for p in room.stage.snapshot(OCCURRENCE).publishers] == [2]

    with pytest.raises(NotOnStage):
        await room.stage.publish(OCCURRENCE, 1, await Speaker(OpusTrack(tone)).offer())


async def test_who_may_publish(room: Room, tone: list[av.Packet]) -> None:
    with pytest.raises(StageClosed):
        await room.stage.publish(OCCURRENCE, 1, "v=0\r\n")
    room.stage.set_stage(OCCURRENCE, {1, 2, 3, 4, 5})
    with pytest.raises(NotOnStage):
        await room.stage.publish(OCCURRENCE, 6, "v=0\r\n")
    for speaker_id in (1, 2, 3, 4):
        await room.speak(speaker_id, tone)
    fifth = Speaker(OpusTrack(tone))
    room.peers.append(fifth)
    with pytest.raises(StageFull):
        await room.stage.publish(OCCURRENCE, 5, await fifth.offer())
    assert sorted(room.stage.snapshot(OCCURRENCE).slots) == [1, 2, 3, 4]  # type: ignore[type-var]
    # A slot freed is taken by the next speaker, and the listener's slot clock goes on.
    await room.stage.unpublish(OCCURRENCE, 3)
    await room.speak(5, tone)
    assert sorted(room.stage.snapshot(OCCURRENCE).slots) == [1, 2, 4, 5]  # type: ignore[type-var]


async def test_the_bus_gets_20ms_pcm_frames_of_the_voice(room: Room, tone: list[av.Packet]) -> None:
    room.stage.set_stage(OCCURRENCE, {3})
    await room.speak(3, tone)
    await until(lambda: len(room.pcm) >= 50)
    assert {(o, s) for o, s, _ in room.pcm} == {(OCCURRENCE, 3)}
    assert {len(pcm) for _, _, pcm in room.pcm} == {PCM_FRAME_BYTES} == {3840}
    # The tone's energy (RMS ≈ 5,700 sent), after the decoder's first few frames.
    levels = [rms(pcm) for _, _, pcm in room.pcm[10:50]]
    assert min(levels) > 2000
    await room.stage.unpublish(OCCURRENCE, 3)
    assert room.ended == [(OCCURRENCE, 3)]


async def test_a_slot_clock_continues_across_speaker_changes(
    room: Room, tone: list[av.Packet]
) -> None:
    room.stage.set_stage(OCCURRENCE, {1, 2})
    _, display = await room.listen(ListenerKey.display())
    await room.speak(1, tone)
    await until(lambda: display.packets[0] > 10)
    await room.stage.unpublish(OCCURRENCE, 1)
    before = display.packets[0]
    await room.speak(2, tone)
    assert slot_of(room, 2) == 0
    await until(lambda: display.packets[0] > before + 10)
    await until(lambda: display.heard(0))
    # The display's decoder took the second speaker without a hitch (nothing refused).
    (listener,) = room.stage.snapshot(OCCURRENCE).listeners
    assert listener.slot_dropped[0] == 0


async def test_aclose_leaves_no_peer_and_no_task(tone: list[av.Packet]) -> None:
    room = Room()
    try:
        room.stage.set_stage(OCCURRENCE, {1})
        _, display = await room.listen(ListenerKey.display())
        await room.speak(1, tone)
        await until(lambda: display.packets[slot_of(room, 1)] > 5)
        room.stage.set_stage(OCCURRENCE, set())  # a close in the background, awaited below
        await room.stage.aclose()
        assert room.stage.peer_count() == 0
        assert room.stage.snapshot(OCCURRENCE).publishers == ()
        left = [
            t.get_name()
            for t in asyncio.all_tasks()
            if t is not asyncio.current_task() and t.get_name().startswith("dialog-")
        ]
        assert left == []
        with pytest.raises(StageClosed):
            await room.stage.listen(OCCURRENCE, ListenerKey.host(), "v=0\r\n")
    finally:
        await room.close()


async def test_mouth_to_ear_latency_on_loopback(room: Room) -> None:
    """A click every 0.5 s from a speaker to the room display: time from the packet carrying
    the click leaving the speaker to (a) its payload arriving at the display, (b) the display's
    decoder producing loud audio (aiortc's receiver buffers 4 packets before decoding, as a
    browser's jitter buffer would hold some). Printed; p95 must stay within 250 ms. The same
    measurement, over more clicks and with the PCM path: bench/bench_dialog_latency.py."""
    room.stage.set_stage(OCCURRENCE, {1})
    _, display = await room.listen(ListenerKey.display())
    speaker = await room.speak(1, click_track(400))
    slot = slot_of(room, 1)
    await asyncio.sleep(6.0)
    track: OpusTrack = speaker.track  # type: ignore[assignment]
    heard = [
        (click.forwarded, click.decoded)
        for click in clicks(track.sent, display.payloads[slot], display.loud_at[slot])
        if click.forwarded is not None and click.decoded is not None
    ]
    network = [forwarded for forwarded, _ in heard]
    decoded = [decoded for _, decoded in heard]

    def quantiles(values: list[float]) -> tuple[float, float]:
        ordered = sorted(values)
        return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]

    assert len(network) >= 8 and len(decoded) >= 8
    net50, net95 = quantiles(network)
    dec50, dec95 = quantiles(decoded)
    print(
        f"\ndialog latency, {len(decoded)} clicks: forwarded packet p50 {net50 * 1000:.1f} ms "
        f"p95 {net95 * 1000:.1f} ms; decoded at listener p50 {dec50 * 1000:.1f} ms "
        f"p95 {dec95 * 1000:.1f} ms"
    )
    assert dec95 <= 0.25
