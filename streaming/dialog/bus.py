"""RemoteAudioBus: the voices of a live date's remote speakers as one continuous PCM stream.

One bus per live date. It owns a small jitter buffer per speaker, a ticker that every 20 ms mixes
the speakers' next frames (silence when nobody speaks) and a Unix socket from which FFmpeg reads
the result as raw audio (``-f s16le -ar 48000 -ac 2 -i unix:…``), the way it reads the other
feeds. The stream never stops while the date is live, so putting someone on or off stage only
changes what ``write`` receives — the FFmpeg command that mixes the bus into the broadcast never
changes.

Timing: the ticker follows the event loop's clock, frame *n* is due at ``t0 + n × 20 ms``. A late
loop is caught up with a burst of the frames that became due (no drift), up to ``max_burst``;
only what is beyond that is skipped. Readers: any number (normally one FFmpeg, briefly two while
it restarts); each joins at the next frame. A reader whose unread backlog exceeds
``max_backlog_ms`` gets no more frames until it catches up (latency stays bounded when it is a
little slow), and one that stays behind for ``stall_timeout_s`` is disconnected — memory never
grows with a stalled reader.

The other direction matters as much: FFmpeg's ``amix`` takes samples of both inputs one for
one, so a reader that is *waiting* for the bus holds back the room's sound too. That happens
after FFmpeg (re)starts — it buffered the master feed while probing it — and when the camera's
clock runs a little faster than ours. A reader whose socket has stayed empty for
``starve_ticks`` ticks is therefore given an extra frame of silence per tick until data queues
up again — at most ``catchup_ms`` in all plus ``max_drift_ppm`` of the time since it connected,
so a reader that simply reads everything still gets real time. The room is not delayed by the
bus, and the bus runs only a few frames ahead of it.

Format: 48 kHz stereo s16le, 20 ms = 3840 bytes per frame, the framing of
``streaming.dialog.pcm``. ``write`` and ``remove`` are called on the event loop's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import socket
import struct
import termios
import warnings
from array import array
from collections import deque
from pathlib import Path

with warnings.catch_warnings():
    # audioop is deprecated (gone in 3.13) but is the only C saturating s16 adder in the
    # standard library; numpy is not a dependency. The array fallback keeps 3.13 working.
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import audioop
    except ImportError:  # pragma: no cover - Python ≥ 3.13
        audioop = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

SAMPLE_RATE = 48_000
CHANNELS = 2
SAMPLE_BYTES = 2
FRAME_MS = 20
FRAME_S = FRAME_MS / 1000
FRAME_BYTES = SAMPLE_RATE * FRAME_MS // 1000 * CHANNELS * SAMPLE_BYTES  # 3840
SILENCE = bytes(FRAME_BYTES)
# The kernel's own send buffer is kept small so that the backlog a slow reader builds up is
# visible in (and limited by) the transport's buffer rather than hidden in the socket.
_SOCKET_SNDBUF = 8192


def mix_frames(frames: list[bytes]) -> bytes:
    """Sum s16le frames of equal length, saturating at the int16 limits instead of wrapping."""
    if not frames:
        return SILENCE
    if len(frames) == 1:
        return frames[0]
    if audioop is not None:
        mixed = frames[0]
        for frame in frames[1:]:
            mixed = audioop.add(mixed, frame, SAMPLE_BYTES)  # clips on overflow
        return mixed
    arrays = [array("h", frame) for frame in frames]  # pragma: no cover - Python ≥ 3.13
    total = [max(-32768, min(32767, sum(s))) for s in zip(*arrays, strict=True)]
    return array("h", total).tobytes()


class _Speaker:
    """A speaker's jitter buffer: plays once ``prefill`` frames are queued, drops the oldest
    beyond ``capacity``, and re-primes after running dry (network jitter absorbed, bounded
    delay)."""

    __slots__ = ("frames", "playing")

    def __init__(self, capacity: int) -> None:
        self.frames: deque[bytes] = deque(maxlen=capacity)
        self.playing = False


class _Reader:
    __slots__ = ("behind_since", "connected_at", "empty_ticks", "fd", "inserted", "transport")

    def __init__(self, transport: asyncio.WriteTransport, fd: int, now: float) -> None:
        self.transport = transport
        self.fd = fd
        self.connected_at = now
        self.behind_since: float | None = None
        self.empty_ticks = 0
        self.inserted = 0

    def unread_bytes(self) -> int:
        """What the reader has not read yet: our buffer plus the kernel's (SIOCOUTQ)."""
        queued = self.transport.get_write_buffer_size()
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                raw = fcntl.ioctl(self.fd, termios.TIOCOUTQ, b"\0\0\0\0")
                queued += struct.unpack("i", raw)[0]
        return queued


class RemoteAudioBus:
    def __init__(
        self,
        name: str,
        path: Path,
        *,
        jitter_frames: int = 6,
        prefill_frames: int = 2,
        max_backlog_ms: int = 200,
        stall_timeout_s: float = 2.0,
        max_burst: int = 50,
        starve_ticks: int = 5,
        catchup_ms: int = 2000,
        max_drift_ppm: int = 1000,
    ) -> None:
        if not 1 <= prefill_frames <= jitter_frames:
            raise ValueError("need 1 ≤ prefill_frames ≤ jitter_frames")
        self.name = name
        self.path = path
        self.jitter_frames = jitter_frames
        self.prefill_frames = prefill_frames
        self.max_backlog_bytes = max_backlog_ms // FRAME_MS * FRAME_BYTES
        self.stall_timeout_s = stall_timeout_s
        self.max_burst = max_burst
        self.starve_ticks = starve_ticks  # 0: never insert
        self.catchup_frames = catchup_ms // FRAME_MS
        self.max_drift = max_drift_ppm / 1_000_000
        self._speakers: dict[int, _Speaker] = {}
        self._readers: dict[asyncio.StreamWriter, _Reader] = {}
        self._server: asyncio.Server | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._closed = False
        # Counters (tests, metrics).
        self.frames_emitted = 0  # frames the bus produced (silence included)
        self.frames_mixed = 0  # of those, frames carrying at least one speaker
        self.late_ticks = 0  # ticks that found more than one frame due (the loop was late)
        self.frames_skipped = 0  # due frames given up because the loop was late beyond max_burst
        self.speaker_frames_dropped = 0  # written frames that overflowed a jitter buffer
        self.reader_frames_dropped = 0  # frames not sent to a reader that was too far behind
        self.reader_frames_inserted = 0  # extra silence given to a reader waiting for the bus
        self.readers_dropped = 0  # readers disconnected for stalling

    # -- speakers -------------------------------------------------------------------------------

    def write(self, speaker_id: int, pcm: bytes) -> None:
        """Queue ``pcm`` (one or more whole 20 ms frames) from ``speaker_id``."""
        if not pcm or len(pcm) % FRAME_BYTES:
            raise ValueError(f"pcm must be whole {FRAME_BYTES}-byte frames (20 ms, s16le 48k/2)")
        speaker = self._speakers.get(speaker_id)
        if speaker is None:
            speaker = self._speakers[speaker_id] = _Speaker(self.jitter_frames)
        frames = speaker.frames
        for offset in range(0, len(pcm), FRAME_BYTES):
            if len(frames) == frames.maxlen:
                self.speaker_frames_dropped += 1  # the deque drops the oldest
            frames.append(bytes(pcm[offset : offset + FRAME_BYTES]))

    def remove(self, speaker_id: int) -> None:
        """Forget ``speaker_id`` and whatever of theirs is still queued (off stage, gone)."""
        self._speakers.pop(speaker_id, None)

    @property
    def speakers(self) -> frozenset[int]:
        return frozenset(self._speakers)

    @property
    def reader_count(self) -> int:
        return len(self._readers)

    def backlog_bytes(self) -> int:
        """The largest unsent backlog of any reader (bytes held in its transport)."""
        return max((r.transport.get_write_buffer_size() for r in self._readers.values()), default=0)

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._server is not None or self._closed:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._server = await asyncio.start_unix_server(self._serve_reader, path=str(self.path))
        self._ticker = asyncio.create_task(self._tick(), name=f"audio-bus-{self.name}")
        log.info("audio bus %s: started on %s", self.name, self.path)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self._server is not None:
            self._server.close()
        for writer in list(self._readers):
            writer.transport.abort()
        self._readers.clear()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._speakers.clear()
        log.info(
            "audio bus %s: stopped (%d frames, %d with voices, %d late ticks)",
            self.name,
            self.frames_emitted,
            self.frames_mixed,
            self.late_ticks,
        )

    # -- the clock ------------------------------------------------------------------------------

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        sent = 0  # frames accounted for since ``started`` (emitted or skipped)
        while True:
            due = int((loop.time() - started) / FRAME_S) + 1 - sent
            if due > 1:
                self.late_ticks += 1
            if due > self.max_burst:
                # Hundreds of frames at once would only be dropped at the readers' backlog
                # limit anyway; skip them here and stay on the real-time grid.
                self.frames_skipped += due - self.max_burst
                sent += due - self.max_burst
                due = self.max_burst
            for _ in range(due):
                self._emit(self._next_frame(), loop.time())
            sent += max(due, 0)
            await asyncio.sleep(max(0.0, started + sent * FRAME_S - loop.time()))

    def _next_frame(self) -> bytes:
        frames = []
        for speaker in self._speakers.values():
            queue = speaker.frames
            if not speaker.playing:
                if len(queue) < self.prefill_frames:
                    continue
                speaker.playing = True
            if queue:
                frames.append(queue.popleft())
            else:
                speaker.playing = False  # ran dry: wait for prefill again
        self.frames_emitted += 1
        if not frames:
            return SILENCE
        self.frames_mixed += 1
        return mix_frames(frames)

    def _emit(self, frame: bytes, now: float) -> None:
        for writer, reader in list(self._readers.items()):
            transport = reader.transport
            if transport.is_closing():
                self._readers.pop(writer, None)
                continue
            if transport.get_write_buffer_size() + FRAME_BYTES > self.max_backlog_bytes:
                # The reader is slower than real time: keep its latency bounded by not sending
                # more, and cut it loose if it does not catch up at all.
                self.reader_frames_dropped += 1
                if reader.behind_since is None:
                    reader.behind_since = now
                elif now - reader.behind_since > self.stall_timeout_s:
                    log.warning("audio bus %s: reader stalled, disconnecting it", self.name)
                    self.readers_dropped += 1
                    self._readers.pop(writer, None)
                    transport.abort()
                continue
            reader.behind_since = None
            if self.starve_ticks and reader.unread_bytes() == 0:
                reader.empty_ticks += 1
                allowance = (
                    self.catchup_frames + (now - reader.connected_at) * self.max_drift / FRAME_S
                )
                if reader.empty_ticks >= self.starve_ticks and reader.inserted < allowance:
                    # The reader waits for us (see the module docstring): let it catch up.
                    transport.write(SILENCE)
                    reader.inserted += 1
                    self.reader_frames_inserted += 1
            else:
                reader.empty_ticks = 0
            transport.write(frame)

    # -- readers --------------------------------------------------------------------------------

    async def _serve_reader(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        sock = writer.get_extra_info("socket")
        fd = -1
        if sock is not None:
            fd = sock.fileno()
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SOCKET_SNDBUF)
        self._readers[writer] = _Reader(writer.transport, fd, asyncio.get_running_loop().time())
        log.info("audio bus %s: reader connected (%d)", self.name, len(self._readers))
        try:
            await reader.read()  # readers send nothing; this returns when they hang up
        except (ConnectionError, OSError):
            pass
        finally:
            self._readers.pop(writer, None)
            writer.close()
