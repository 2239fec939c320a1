"""Remote-audio mix: CPU of the bus per speaker, CPU of the mix stage, the pipeline with the mix
on vs off, and the latency the mix adds.

1. The bus alone (``RemoteAudioBus`` in this process, one reader thread draining its socket the
   way FFmpeg does) with 0, 1, 2 and 4 speakers, each a task writing a 20 ms frame of a sine
   every 20 ms. CPU = this process's utime+stime over ``WINDOW_S`` (getrusage). What a speaker
   costs before the bus (Opus decode in the publisher) is not in here.
2. The whole pipeline (``LiveSession``: testsrc 720p30 camera, slate, WebRTC feed, one RTMP
   partner on 720p at a real nginx-rtmp): CPU of every FFmpeg child (``/proc/<pid>/stat``, pids
   checked unchanged) plus this process, with ``remote_audio`` off, on with the bus silent, and on
   with 4 speakers feeding it. The partner's nginx is not counted.
3. Picture-in-picture (``speaker_tiles``, the mix off so only the tiles differ): the same
   pipeline without tiles, with the tile canvas but no camera, and with 1 and 2 cameras shown
   (each a task handing a 640×480 30 fps H.264 camera of a moving test picture, ≈ 1 Mbit/s as a
   browser sends it, to ``SpeakerTiles.show`` frame by frame, as the stage's video slots do).
   The cameras are decoded and scaled in this process (the tiles' worker thread), the overlay
   happens in the camera and slate encoders.
4. Latency (separate runs, so that their decoding does not count above): (a) what the mix stage
   adds to the room's picture — the same video packet (bytes hashed) read from the switched feed
   and from the mixed master, wall-clock difference of their arrival; (b) a voice put on the bus
   until it is audible in the mixed master (1 kHz bursts, decoded from the master in a reader
   thread, first AAC frame whose 1 kHz energy jumps); (c) a camera frame handed to the tiles
   until its picture is in the master (a green camera shown for 1 s, hidden for 2 s, four
   times; the master's pictures decoded in a reader thread, first one whose tile is green).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import os
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from array import array
from pathlib import Path

import av

from bench.common import Figure, percentile, process_cpu_seconds, self_cpu_seconds
from streaming.dialog.bus import FRAME_S, SAMPLE_RATE, RemoteAudioBus, mix_frames
from streaming.dialog.frames import Frame
from streaming.dialog.pcm import tone_frames
from streaming.ffmpeg.registry import FfmpegProcesses
from streaming.ffmpeg.supervisor import ProcessState
from streaming.live.plan import CameraSource, PartnerTarget, SessionPlan
from streaming.live.session import LiveSession
from tests.streaming.test_live_tiles import GREEN_YUV, camera_frames, rtp_payloads
from tests.support.nginx_rtmp import NginxRtmpPartner

WINDOW_S = 10.0
SETTLE_S = 3.0
SPEAKER_COUNTS = (0, 1, 2, 4)
LIVE_TIMEOUT_S = 40.0
BURSTS = 4
BURST_S = 1.0
GAP_S = 2.0
_DEMUX_OPTIONS = {"probesize": "262144", "analyzeduration": "500000", "fflags": "nobuffer"}


def _loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


async def _speaker(bus: RemoteAudioBus, speaker_id: int, frames: list[bytes]) -> None:
    """A speaker on stage: one frame every 20 ms on the loop's clock, for ever."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    index = 0
    while True:
        bus.write(speaker_id, frames[index % len(frames)])
        index += 1
        await asyncio.sleep(max(0.0, started + index * FRAME_S - loop.time()))


@contextlib.asynccontextmanager
async def _speakers(bus: RemoteAudioBus, count: int):  # type: ignore[no-untyped-def]
    frames = tone_frames(300, 1.0, 6000)
    tasks = [asyncio.create_task(_speaker(bus, i + 1, frames)) for i in range(count)]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for i in range(count):
            bus.remove(i + 1)


def _drain(path: Path, stop: threading.Event) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(str(path))
        sock.settimeout(0.5)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                if not sock.recv(65536):
                    return


async def _bus_alone(tmp: Path) -> dict[int, float]:
    bus = RemoteAudioBus("bench", tmp / "bus.sock")
    await bus.start()
    stop = threading.Event()
    reader = threading.Thread(target=_drain, args=(bus.path, stop), daemon=True)
    reader.start()
    cores: dict[int, float] = {}
    try:
        for count in SPEAKER_COUNTS:
            async with _speakers(bus, count):
                await asyncio.sleep(1.0)
                cpu0, wall0 = self_cpu_seconds(), time.monotonic()
                await asyncio.sleep(WINDOW_S)
                cores[count] = (self_cpu_seconds() - cpu0) / (time.monotonic() - wall0)
    finally:
        stop.set()
        await bus.aclose()
        await asyncio.to_thread(reader.join, 2)
    return cores


def _tick_cost(speakers: int, ticks: int = 5000) -> float:
    """Seconds of CPU per 20 ms tick for ``speakers``: each speaker's ``write`` plus the mix
    (the work the bus does per speaker, without the noise of a shared machine's scheduler)."""
    bus = RemoteAudioBus("micro", Path("/nonexistent/bus.sock"), jitter_frames=ticks + 1)
    frames = tone_frames(300, 0.2, 6000)
    started = time.process_time()
    for tick in range(ticks):
        for speaker in range(speakers):
            bus.write(speaker, frames[tick % len(frames)])
        mix_frames([frames[(tick + i) % len(frames)] for i in range(speakers)])
    return (time.process_time() - started) / ticks


def _plan(
    tmp: Path, tag: str, partner: NginxRtmpPartner, remote_audio: bool, tiles: bool = False
) -> SessionPlan:
    return SessionPlan(
        occurrence_id=900 + len(tag) * 10 + sum(map(ord, tag)) % 10,
        title="Bench",
        start_label="18:00",
        camera=CameraSource("testsrc"),
        run_dir=tmp / f"run-{tag}",
        hls_dir=tmp / "hls",
        partners=(PartnerTarget(1, "Partner", "rtmp", "720p", partner.url(tag)),),
        remote_audio=remote_audio,
        speaker_tiles=tiles,
    )


async def _running(session: LiveSession, processes: FfmpegProcesses) -> None:
    deadline = time.monotonic() + LIVE_TIMEOUT_S
    while not (
        session.outputs_status()[0].state == "live"
        and all(s.state is ProcessState.RUNNING for s in processes)
        and session.source_status().on_air == "camera"
    ):
        if time.monotonic() > deadline:
            raise RuntimeError("session did not come up")
        await asyncio.sleep(0.2)
    await asyncio.sleep(SETTLE_S)


async def _cpu_window(processes: FfmpegProcesses) -> tuple[dict[str, float], float]:
    """Cores per FFmpeg role and of this process over WINDOW_S."""
    pids = {s.name.split("-", 1)[1]: s.pid for s in processes}
    cpu0 = {role: process_cpu_seconds(pid) for role, pid in pids.items() if pid}
    self0, wall0 = self_cpu_seconds(), time.monotonic()
    await asyncio.sleep(WINDOW_S)
    wall = time.monotonic() - wall0
    python = (self_cpu_seconds() - self0) / wall
    cpu1 = {role: process_cpu_seconds(pid) for role, pid in pids.items() if pid}
    if {s.name.split("-", 1)[1]: s.pid for s in processes} != pids:
        raise RuntimeError("an FFmpeg process restarted during the window")
    return {role: (cpu1[role] - cpu0[role]) / wall for role in cpu0}, python


async def _pipeline(
    tmp: Path, partner: NginxRtmpPartner
) -> dict[str, tuple[dict[str, float], float]]:
    results: dict[str, tuple[dict[str, float], float]] = {}
    for tag, remote_audio, speakers in (
        ("off", False, 0),
        ("on", True, 0),
        ("on4", True, 4),
    ):
        processes = FfmpegProcesses()
        session = LiveSession(_plan(tmp, tag, partner, remote_audio), processes)
        try:
            await session.start(live=True)
            await _running(session, processes)
            if speakers:
                assert session.bus is not None
                async with _speakers(session.bus, speakers):
                    await asyncio.sleep(1.0)
                    results[tag] = await _cpu_window(processes)
            else:
                results[tag] = await _cpu_window(processes)
        finally:
            await session.aclose()
            await processes.aclose()
    return results


def _camera(tmp: Path, seconds: int = 10) -> list[Frame]:
    """A browser-like camera: 640×480 30 fps constrained baseline H.264, a keyframe every 2 s,
    as the received frames a video slot hands on."""
    raw = tmp / "camera.h264"
    if not raw.exists():
        subprocess.run(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi",
             "-i", f"testsrc2=size=640x480:rate=30:duration={seconds}",
             "-c:v", "libx264", "-profile:v", "baseline", "-tune", "zerolatency",
             "-preset", "veryfast", "-b:v", "1M", "-g", "60", "-f", "h264", str(raw)],
            check=True, timeout=60,
        )  # fmt: skip
    frames = []
    with av.open(str(raw), format="h264") as container:
        for index, packet in enumerate(container.demux(video=0)):
            if packet.size:
                payloads = rtp_payloads(bytes(packet))
                frames.append(Frame(payloads, index * 3000, packet.is_keyframe, packet.size))
    return frames


async def _show(session: LiveSession, slot: int, frames: list[Frame]) -> None:
    """A speaker's camera in video slot ``slot``: a frame every 1/30 s, looping (from a
    keyframe), for ever."""
    assert session.tiles is not None
    loop = asyncio.get_running_loop()
    started = loop.time()
    index = 0
    while True:
        session.tiles.show(slot, slot + 1, frames[index % len(frames)])
        index += 1
        await asyncio.sleep(max(0.0, started + index / 30 - loop.time()))


async def _pip(tmp: Path, partner: NginxRtmpPartner) -> dict[str, tuple[dict[str, float], float]]:
    frames = _camera(tmp)
    results: dict[str, tuple[dict[str, float], float]] = {}
    for tag, tiles, cameras in (("tiles-off", False, 0), ("tiles0", True, 0),
                                ("tiles1", True, 1), ("tiles2", True, 2)):  # fmt: skip
        processes = FfmpegProcesses()
        session = LiveSession(_plan(tmp, tag, partner, False, tiles), processes)
        tasks: list[asyncio.Task[None]] = []
        try:
            await session.start(live=True)
            await _running(session, processes)
            tasks = [asyncio.create_task(_show(session, slot, frames)) for slot in range(cameras)]
            if cameras:
                await asyncio.sleep(1.0)
                assert session.tiles is not None and sum(session.tiles.tiles_shown) == cameras
            results[tag] = await _cpu_window(processes)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await session.aclose()
            await processes.aclose()
    return results


def _demux(path: Path, stop: threading.Event, on_packet) -> None:  # type: ignore[no-untyped-def]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(str(path))
    try:
        container = av.open(
            sock.makefile("rb", buffering=0), format="mpegts", options=dict(_DEMUX_OPTIONS)
        )
        for packet in container.demux():
            if stop.is_set():
                return
            on_packet(packet, time.monotonic())
    except Exception:  # the feed going away at the end is expected
        if not stop.is_set():
            raise
    finally:
        sock.close()


def _goertzel(samples: list[float], hz: float) -> float:
    coeff = 2 * math.cos(2 * math.pi * hz / SAMPLE_RATE)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    return s1 * s1 + s2 * s2 - coeff * s1 * s2


async def _latency(tmp: Path, partner: NginxRtmpPartner) -> tuple[list[float], list[float]]:
    processes = FfmpegProcesses()
    session = LiveSession(_plan(tmp, "latency", partner, True), processes)
    stop = threading.Event()
    switched: dict[bytes, float] = {}
    deltas: list[float] = []
    energies: list[tuple[float, float]] = []  # (arrival, 1 kHz energy) per AAC frame
    decoder: list[av.CodecContext] = []

    def on_switched(packet: av.Packet, now: float) -> None:
        if packet.stream.type == "video" and packet.size:
            switched[hashlib.blake2b(bytes(packet), digest_size=8).digest()] = now

    def on_master(packet: av.Packet, now: float) -> None:
        if packet.stream.type == "video" and packet.size:
            seen = switched.get(hashlib.blake2b(bytes(packet), digest_size=8).digest())
            if seen is not None:
                deltas.append(now - seen)
        elif packet.stream.type == "audio":
            if not decoder:
                decoder.append(av.CodecContext.create("aac", "r"))
            for frame in decoder[0].decode(packet):
                if frame.format.name == "fltp":  # the AAC decoder's format; left channel
                    left = array("f", bytes(frame.planes[0]))[: frame.samples].tolist()
                    energies.append((now, _goertzel(left, 1000) / max(1, len(left))))

    threads: list[threading.Thread] = []
    burst_at: list[float] = []
    try:
        await session.start(live=True)
        await _running(session, processes)
        for path, handler in (
            (session.switched_feed, on_switched),
            (session.master_feed, on_master),
        ):
            thread = threading.Thread(target=_demux, args=(path, stop, handler), daemon=True)
            thread.start()
            threads.append(thread)
        await asyncio.sleep(3.0)
        assert session.bus is not None
        tone = tone_frames(1000, BURST_S, 6000)
        loop = asyncio.get_running_loop()
        for _ in range(BURSTS):
            started = loop.time()
            burst_at.append(time.monotonic())
            for index, frame in enumerate(tone):
                session.bus.write(1, frame)
                await asyncio.sleep(max(0.0, started + (index + 1) * FRAME_S - loop.time()))
            await asyncio.sleep(GAP_S)
    finally:
        stop.set()
        await session.aclose()
        await processes.aclose()
        for thread in threads:
            await asyncio.to_thread(thread.join, 3)
    # Audio frames as (arrival, 1 kHz energy); a burst starts where the energy jumps far
    # above the quiet level (the room's 440 Hz tone leaks only a little into the 1 kHz bin).
    quiet = statistics.median(e for _, e in energies) if energies else 0.0
    voice_latency = []
    for at in burst_at:
        hit = next((t for t, e in energies if t >= at and e > 100 * quiet + 1e-6), None)
        if hit is not None:
            voice_latency.append(hit - at)
    return deltas, voice_latency


async def _tile_latency(tmp: Path, partner: NginxRtmpPartner) -> list[float]:
    processes = FfmpegProcesses()
    session = LiveSession(_plan(tmp, "tile-latency", partner, False, True), processes)
    stop = threading.Event()
    greens: list[float] = []  # arrival of each decoded master picture whose tile is green
    decoder: list[av.CodecContext] = []
    assert session.tiles is not None
    layout = session.tiles.layout
    x, y = layout.tile_origin(0)
    # Chroma samples in the middle of slot 0's tile (half resolution).
    points = [((y + layout.tile_height // 2 + dy) // 2, (x + layout.tile_width // 2 + dx) // 2)
              for dy in (-20, 0, 20) for dx in (-40, 0, 40)]  # fmt: skip

    def on_master(packet: av.Packet, now: float) -> None:
        if packet.stream.type != "video" or not packet.size:
            return
        if not decoder:
            decoder.append(av.CodecContext.create("h264", "r"))
        with contextlib.suppress(av.error.FFmpegError):
            for picture in decoder[0].decode(packet):
                u = picture.planes[1]
                data, stride = bytes(u), u.line_size
                mean = sum(data[row * stride + col] for row, col in points) / len(points)
                if abs(mean - GREEN_YUV[1]) < 12:
                    greens.append(now)

    frames = camera_frames(1.0)
    shown_at: list[float] = []
    thread = threading.Thread(target=_demux, args=(session.master_feed, stop, on_master))
    try:
        await session.start(live=True)
        await _running(session, processes)
        thread.start()
        await asyncio.sleep(2.0)
        loop = asyncio.get_running_loop()
        for _ in range(BURSTS):
            started = loop.time()
            shown_at.append(time.monotonic())
            for index, frame in enumerate(frames):
                session.tiles.show(0, 1, frame)
                await asyncio.sleep(max(0.0, started + (index + 1) / 30 - loop.time()))
            session.tiles.hide(0)
            await asyncio.sleep(GAP_S)
    finally:
        stop.set()
        await session.aclose()
        await processes.aclose()
        if thread.is_alive():
            await asyncio.to_thread(thread.join, 3)
    return [
        hit - at
        for at in shown_at
        if (hit := next((t for t in greens if t >= at), None)) is not None and hit - at < GAP_S
    ]


async def run() -> list[Figure]:
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="knoten-bench-mix-") as tmp_name:
        tmp = Path(tmp_name)
        bus_cores = await _bus_alone(tmp)
        partner = NginxRtmpPartner(tmp / "nginx", stat=False)
        await partner.start()
        try:
            load_mid = os.getloadavg()[0]
            pipeline = await _pipeline(tmp, partner)
            pip = await _pip(tmp, partner)
            deltas, voice = await _latency(tmp, partner)
            tile_latency = await _tile_latency(tmp, partner)
        finally:
            await partner.stop()
    load_after = os.getloadavg()[0]

    def total(tag: str) -> float:
        ffmpeg, python = {**pipeline, **pip}[tag]
        return sum(ffmpeg.values()) + python

    per_speaker_window = (bus_cores[4] - bus_cores[0]) / 4
    ticks_per_s = 1 / FRAME_S
    micro = {n: _tick_cost(n) * ticks_per_s for n in SPEAKER_COUNTS}
    figures = [
        Figure("machine cores (os.cpu_count)", os.cpu_count() or 0, "cores"),
        Figure("  load average (1 min) before", load_before, "runnable"),
        Figure("  load average (1 min) before the pipeline runs", load_mid, "runnable"),
        Figure("  load average (1 min) after", load_after, "runnable"),
        Figure("CPU window per measurement", WINDOW_S, "s"),
    ]
    for count in SPEAKER_COUNTS:
        figures.append(
            Figure(f"bus alone, {count} speaker(s) (this process)", bus_cores[count], "cores")
        )
    figures.append(Figure("bus: each added speaker, (4 − 0 speakers) / 4", per_speaker_window,
                          "cores", "≤ 0.01"))  # fmt: skip
    for count in SPEAKER_COUNTS[1:]:
        figures.append(Figure(f"bus work per second, {count} speaker(s): write + mix (timed)",
                              micro[count], "cores"))  # fmt: skip
    for tag, label in (
        ("off", "mix off"),
        ("on", "mix on, bus silent"),
        ("on4", "mix on, 4 speakers"),
    ):
        ffmpeg, python = pipeline[tag]
        figures.append(Figure(f"pipeline, {label}: total", total(tag), "cores"))
        figures.append(Figure(f"  FFmpeg children ({len(ffmpeg)})", sum(ffmpeg.values()), "cores"))
        figures.append(Figure("  this process (switch, hubs, bus, supervisors)", python, "cores"))
        if "mix" in ffmpeg:
            figures.append(
                Figure("  mix process (decode, amix, AAC, copy)", ffmpeg["mix"], "cores")
            )
    figures += [
        Figure("mix on − mix off (bus silent)", total("on") - total("off"), "cores"),
        Figure("mix on: 4 speakers − silent", total("on4") - total("on"), "cores"),
        Figure("mix on / mix off total CPU", total("on") / total("off"), "×"),
    ]
    for tag, label in (
        ("tiles-off", "no tiles"),
        ("tiles0", "tiles, no camera"),
        ("tiles1", "tiles, 1 camera"),
        ("tiles2", "tiles, 2 cameras"),
    ):
        ffmpeg, python = pip[tag]
        figures.append(Figure(f"pipeline (mix off), {label}: total", total(tag), "cores"))
        figures.append(Figure("  camera encoder (+ overlay)", ffmpeg["camera"], "cores"))
        figures.append(Figure("  this process (+ tiles: decode, scale, canvas)", python, "cores"))
    figures += [
        Figure("tiles, no camera − no tiles", total("tiles0") - total("tiles-off"), "cores"),
        Figure("each camera shown, (2 − 0 cameras) / 2",
               (total("tiles2") - total("tiles0")) / 2, "cores", "≤ 0.05"),
        Figure("  of it in this process (decode, scale)",
               (pip["tiles2"][1] - pip["tiles0"][1]) / 2, "cores"),
    ]  # fmt: skip
    if deltas:
        figures += [
            Figure("mix stage: video packets matched", len(deltas), "packets"),
            Figure("mix stage added latency, median", statistics.median(deltas) * 1000, "ms"),
            Figure("mix stage added latency, p95", percentile(deltas, 95) * 1000, "ms"),
        ]
    if voice:
        figures += [
            Figure(f"bus → mixed master, voice audible ({len(voice)} bursts), median",
                   statistics.median(voice) * 1000, "ms"),
            Figure("bus → mixed master, worst burst", max(voice) * 1000, "ms"),
        ]  # fmt: skip
    if tile_latency:
        figures += [
            Figure(f"camera frame → its tile in the master ({len(tile_latency)} shows), median",
                   statistics.median(tile_latency) * 1000, "ms"),
            Figure("camera frame → its tile in the master, worst", max(tile_latency) * 1000, "ms"),
        ]  # fmt: skip
    return figures
