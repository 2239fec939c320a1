"""MasterSwitch: the room's master feed, switching between camera and slate without a break.

Two FFmpeg producers connect to two Unix sockets and write MPEG-TS encoded with the same
settings: the camera ingest and the slate generator. The switch demuxes both (PyAV, one thread
each, no decoding), forwards the packets of the active one with timestamps rebased onto one
continuous timeline, and muxes them into the master feed (a :class:`FeedHub`). Consumers of the
master — partner outputs, the recorder, the WebRTC feed — therefore never see their input end
when the camera fails: within ``loss_timeout`` (at once when its producer's connection ends)
plus one slate GOP the slate takes over, and the
camera is taken back at its first keyframe once it delivers again.

Switches happen only on a video keyframe of the new source, so every consumer can decode across
them; audio of the new source before that keyframe is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import socket
import threading
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from streaming.live.feed import FeedHub

log = logging.getLogger(__name__)

TS_CLOCK = 90_000
TS_TIME_BASE = Fraction(1, TS_CLOCK)
# Enough to read the PMT and the first frames; small so that a (re)connecting producer is
# forwarded within a fraction of a second.
_DEMUX_OPTIONS = {"probesize": "262144", "analyzeduration": "500000", "fflags": "nobuffer"}


class SourceName(enum.StrEnum):
    CAMERA = "camera"
    SLATE = "slate"


class SourceInput:
    """A listening socket for one producer; its packets go to ``on_packet`` on the loop."""

    def __init__(
        self,
        name: SourceName,
        path: Path,
        loop: asyncio.AbstractEventLoop,
        on_packet: Callable[[SourceInput, av.Packet], None],
    ) -> None:
        self.name = name
        self.path = path
        self._loop = loop
        self._on_packet = on_packet
        self._closing = threading.Event()
        self._listener: socket.socket | None = None
        self._conn: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.last_packet_at: float | None = None
        self.connected = False
        self.width: int | None = None
        self.height: int | None = None
        self.fps: float | None = None
        self.templates: dict[str, Any] = {}

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self.path))
        listener.listen(1)
        self._listener = listener
        self._thread = threading.Thread(target=self._run, name=f"switch-{self.name}", daemon=True)
        self._thread.start()

    def healthy(self, now: float, timeout: float) -> bool:
        # A producer that died closes its connection: that is a loss at once, not after the
        # timeout (the recording then misses one slate GOP, not a second and a half).
        return (
            self.connected
            and self.last_packet_at is not None
            and now - self.last_packet_at < timeout
        )

    def _run(self) -> None:
        assert self._listener is not None
        while not self._closing.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # listener closed
            self._conn = conn
            self.connected = True
            try:
                self._demux(conn)
            except Exception as exc:  # a producer going away mid-packet is normal here
                if not self._closing.is_set():
                    log.info("switch %s: producer ended: %s", self.name, exc)
            finally:
                self.connected = False
                self._conn = None
                with contextlib.suppress(OSError):
                    conn.close()

    def _demux(self, conn: socket.socket) -> None:
        # Unbuffered: a buffered reader's read(n) waits for all n bytes, which for a near-static
        # slate (a few hundred bytes per frame) held packets back for seconds.
        stream = conn.makefile("rb", buffering=0)
        # No ``with``/close(): packets already handed to the loop still point at this
        # container's streams, so it must live until they are gone (reference counting does
        # that); closing it here could free what the loop is about to read.
        container = av.open(stream, format="mpegts", options=dict(_DEMUX_OPTIONS))
        video = next((s for s in container.streams if s.type == "video"), None)
        audio = next((s for s in container.streams if s.type == "audio"), None)
        self.templates = {k: v for k, v in (("video", video), ("audio", audio)) if v is not None}
        if video is not None:
            self.width = video.codec_context.width or None
            self.height = video.codec_context.height or None
            rate = video.average_rate or video.guessed_rate
            self.fps = float(rate) if rate else None
        for packet in container.demux():
            if packet.dts is None or self._closing.is_set():
                continue
            self._loop.call_soon_threadsafe(self._on_packet, self, packet)

    def close(self) -> None:
        self._closing.set()
        for sock in (self._conn, self._listener):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    sock.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class _HubWriter:
    """File-like sink for PyAV's muxer that publishes into the master hub."""

    def __init__(self, hub: FeedHub) -> None:
        self._hub = hub

    def write(self, data: bytes) -> int:
        self._hub.publish(bytes(data))
        return len(data)

    def flush(self) -> None:  # PyAV may call it
        pass


class MasterSwitch:
    def __init__(
        self,
        name: str,
        hub: FeedHub,
        camera_path: Path,
        slate_path: Path,
        *,
        loss_timeout: float = 1.0,
        camera_grace: float = 4.0,
    ) -> None:
        self.name = name
        self.hub = hub
        self._camera_path = camera_path
        self._slate_path = slate_path
        self.loss_timeout = loss_timeout
        self.camera_grace = camera_grace
        self._started_at: float | None = None
        self._inputs: dict[SourceName, SourceInput] = {}
        self.want_camera = False
        self.active: SourceName | None = None
        self._pending: SourceName | None = None
        self._offset = 0
        self._last_dts: dict[str, int] = {}
        self._frame_ticks = TS_CLOCK // 30
        self._out: Any = None
        self._out_streams: dict[str, Any] = {}
        self._watch: asyncio.Task[None] | None = None
        self.switches = 0
        self.packets_out = 0
        self.on_switch: Callable[[SourceName, SourceName | None], None] | None = None

    def source(self, name: SourceName) -> SourceInput:
        return self._inputs[name]

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._started_at = loop.time()
        for name, path in (
            (SourceName.CAMERA, self._camera_path),
            (SourceName.SLATE, self._slate_path),
        ):
            source = SourceInput(name, path, loop, self._on_packet)
            source.start()
            self._inputs[name] = source
        self._watch = asyncio.create_task(self._watchdog(), name=f"switch-watch-{self.name}")

    def camera_healthy(self) -> bool:
        camera = self._inputs.get(SourceName.CAMERA)
        now = asyncio.get_running_loop().time()
        return camera is not None and camera.healthy(now, self.loss_timeout)

    def _desired(self) -> SourceName:
        if self.want_camera and self.camera_healthy():
            return SourceName.CAMERA
        if self.want_camera and self.active is None and self._in_camera_grace():
            # A session that starts live waits briefly for the camera's first keyframe rather
            # than putting the slate on air for a second and then switching.
            return SourceName.CAMERA
        return SourceName.SLATE

    def _in_camera_grace(self) -> bool:
        camera = self._inputs.get(SourceName.CAMERA)
        if camera is None or camera.last_packet_at is not None or self._started_at is None:
            return False
        return asyncio.get_running_loop().time() - self._started_at < self.camera_grace

    def decide(self) -> None:
        """Pick the source that should be on air; the switch happens at its next keyframe."""
        desired = self._desired()
        if desired != self.active and desired != self._pending:
            log.info("switch %s: %s → %s at next keyframe", self.name, self.active, desired)
            self._pending = desired
        elif desired == self.active:
            self._pending = None

    async def _watchdog(self) -> None:
        while True:
            self.decide()
            await asyncio.sleep(0.1)

    def _on_packet(self, source: SourceInput, packet: av.Packet) -> None:
        source.last_packet_at = asyncio.get_running_loop().time()
        kind = packet.stream.type
        template = source.templates.get(kind)
        if template is None or packet.stream.index != template.index:
            # Only the first stream of a kind: a camera with sound of its own also carries
            # Knoten's silence as a second audio track (spec.FileInput.silence).
            return
        if source.name != self.active:
            if self.active is None and self._pending is None:
                self.decide()
            if source.name == self._pending and kind == "video" and packet.is_keyframe:
                self._switch_to(source, packet)
            else:
                return
        self._forward(packet, kind)

    def _ticks(self, value: int, time_base: Fraction) -> int:
        return int(value * time_base * TS_CLOCK)

    def _switch_to(self, source: SourceInput, keyframe: av.Packet) -> None:
        dts = self._ticks(keyframe.dts, keyframe.time_base)
        last_video = self._last_dts.get("video")
        next_dts = 0 if last_video is None else last_video + self._frame_ticks
        self._offset = next_dts - dts
        previous = self.active
        self.active = source.name
        self._pending = None
        self.switches += 1
        if keyframe.duration:
            self._frame_ticks = max(1, self._ticks(keyframe.duration, keyframe.time_base))
        if self._out is None:
            self._open_output(source)
        log.info("switch %s: %s on air", self.name, source.name)
        if self.on_switch is not None:
            self.on_switch(source.name, previous)

    def _open_output(self, source: SourceInput) -> None:
        # Every stream must exist before the first packet is muxed (the header is written
        # then), so the output is laid out from the first source's video and audio at once.
        self._out = av.open(_HubWriter(self.hub), "w", format="mpegts")
        for kind, template in source.templates.items():
            stream = self._out.add_stream_from_template(template)
            # Without it the stream's time base is 0/0 until the header is written, and PyAV's
            # rescale of the first packet divides by zero (SIGFPE, not an exception).
            stream.time_base = TS_TIME_BASE
            self._out_streams[kind] = stream

    def _forward(self, packet: av.Packet, kind: str) -> None:
        if kind not in ("video", "audio"):
            return
        stream = self._out_streams.get(kind)
        if stream is None:
            return
        dts = self._ticks(packet.dts, packet.time_base) + self._offset
        pts = (
            dts if packet.pts is None else self._ticks(packet.pts, packet.time_base) + self._offset
        )
        last = self._last_dts.get(kind)
        if last is not None and dts <= last:
            return  # overlap right after a switch: never send time backwards
        self._last_dts[kind] = dts
        packet.time_base = TS_TIME_BASE
        packet.dts = dts
        packet.pts = max(pts, dts)
        packet.stream = stream
        try:
            self._out.mux(packet)
            self.packets_out += 1
        except av.FFmpegError as exc:
            log.warning("switch %s: dropped a %s packet: %s", self.name, kind, exc)

    async def aclose(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        # Joining the reader threads blocks briefly; keep the loop responsive.
        await asyncio.gather(*(asyncio.to_thread(source.close) for source in self._inputs.values()))
        self._inputs.clear()
        if self._out is not None:
            with contextlib.suppress(Exception):
                self._out.close()
            self._out = None
