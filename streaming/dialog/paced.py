"""PacedStream: a raw stream of fixed-size frames, one every ``period_s``, served on a Unix socket.

The base of the live date's two generated inputs for FFmpeg: the remote-audio bus
(:mod:`streaming.dialog.bus`) and the speakers' camera tiles (:mod:`streaming.dialog.tiles`).
A subclass says what the next frame is (``_next_frame``) and what to give a reader that waits
for us (``_filler``); this class owns the clock, the socket and every reader's pacing.

Timing: a ticker follows the event loop's clock, frame *n* is due at ``t0 + n × period``. A late
loop is caught up with a burst of the frames that became due (no drift), up to ``max_burst``;
only what is beyond that is skipped. Readers: any number (normally one FFmpeg, briefly two while
it restarts); each joins at the next frame. A reader whose unread backlog exceeds
``max_backlog_frames`` gets no more frames until it catches up (latency stays bounded when it is
a little slow), and one that stays behind for ``stall_timeout_s`` is disconnected — memory never
grows with a stalled reader.

The other direction matters as much: FFmpeg takes the frames of its inputs in step (``amix``
sample for sample, ``overlay`` frame for frame), so a reader that is *waiting* for us holds back
the room's own sound or picture too. That happens after FFmpeg (re)starts — it buffered its
main input while probing it — and when the camera's clock runs a little faster than ours. A
reader whose socket has stayed empty for ``starve_ticks`` ticks is therefore given
``insert_burst`` extra filler frames per tick until data queues up again — at most
``catchup_frames`` in all plus ``max_drift`` (a fraction) of the time since it connected, so a
reader that simply reads everything still gets real time. The room is not delayed by us, and
we run only a few frames ahead of it.

Every method is called on the event loop's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import math
import socket
import struct
import termios
from pathlib import Path

log = logging.getLogger(__name__)


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


class PacedStream:
    """Frames of ``frame_bytes`` every ``period_s`` to every reader of the socket at ``path``."""

    def __init__(
        self,
        name: str,
        path: Path,
        *,
        frame_bytes: int,
        period_s: float,
        max_backlog_frames: int,
        stall_timeout_s: float,
        max_burst: int,
        starve_ticks: int,
        catchup_frames: int,
        max_drift: float,
        insert_burst: int = 1,
        sndbuf: int = 8192,
    ) -> None:
        self.name = name
        self.path = path
        self.frame_bytes = frame_bytes
        self.period_s = period_s
        self.max_backlog_bytes = max_backlog_frames * frame_bytes
        self.stall_timeout_s = stall_timeout_s
        self.max_burst = max_burst
        self.starve_ticks = starve_ticks  # 0: never insert
        self.catchup_frames = catchup_frames
        self.max_drift = max_drift
        self.insert_burst = insert_burst
        # The kernel's own send buffer is kept small so that the backlog a slow reader builds
        # up is visible in (and limited by) the transport's buffer rather than hidden in it.
        self._sndbuf = sndbuf
        self._readers: dict[asyncio.StreamWriter, _Reader] = {}
        self._server: asyncio.Server | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._closed = False
        # Counters (tests, metrics).
        self.frames_emitted = 0  # frames produced (filler included)
        self.late_ticks = 0  # ticks that found more than one frame due (the loop was late)
        self.frames_skipped = 0  # due frames given up because the loop was late beyond max_burst
        self.reader_frames_dropped = 0  # frames not sent to a reader that was too far behind
        self.reader_frames_inserted = 0  # extra filler given to a reader waiting for us
        self.readers_dropped = 0  # readers disconnected for stalling

    # -- what subclasses provide ----------------------------------------------------------------

    def _next_frame(self) -> bytes:
        raise NotImplementedError

    def _filler(self) -> bytes:
        """What a reader waiting for us gets in addition (silence, the picture again)."""
        raise NotImplementedError

    # -- readers --------------------------------------------------------------------------------

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
        self._ticker = asyncio.create_task(self._tick(), name=f"paced-{self.name}")
        log.info("%s: started on %s", self.name, self.path)

    async def aclose(self) -> None:
        """Stop the clock and hang up on every reader (idempotent)."""
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
        log.info(
            "%s: stopped (%d frames, %d late ticks)",
            self.name,
            self.frames_emitted,
            self.late_ticks,
        )

    # -- the clock ------------------------------------------------------------------------------

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        sent = 0  # frames accounted for since ``started`` (emitted or skipped)
        while True:
            due = int((loop.time() - started) / self.period_s) + 1 - sent
            if due > 1:
                self.late_ticks += 1
            if due > self.max_burst:
                # Hundreds of frames at once would only be dropped at the readers' backlog
                # limit anyway; skip them here and stay on the real-time grid.
                self.frames_skipped += due - self.max_burst
                sent += due - self.max_burst
                due = self.max_burst
            for _ in range(due):
                frame = self._next_frame()
                self.frames_emitted += 1
                self._emit(frame, loop.time())
            sent += max(due, 0)
            await asyncio.sleep(max(0.0, started + sent * self.period_s - loop.time()))

    def _emit(self, frame: bytes, now: float) -> None:
        for writer, reader in list(self._readers.items()):
            transport = reader.transport
            if transport.is_closing():
                self._readers.pop(writer, None)
                continue
            if transport.get_write_buffer_size() + self.frame_bytes > self.max_backlog_bytes:
                # The reader is slower than real time: keep its latency bounded by not sending
                # more, and cut it loose if it does not catch up at all.
                self.reader_frames_dropped += 1
                if reader.behind_since is None:
                    reader.behind_since = now
                elif now - reader.behind_since > self.stall_timeout_s:
                    log.warning("%s: reader stalled, disconnecting it", self.name)
                    self.readers_dropped += 1
                    self._readers.pop(writer, None)
                    transport.abort()
                continue
            reader.behind_since = None
            if self.starve_ticks and reader.unread_bytes() == 0:
                reader.empty_ticks += 1
                allowance = (
                    self.catchup_frames
                    + (now - reader.connected_at) * self.max_drift / self.period_s
                )
                if reader.empty_ticks >= self.starve_ticks:
                    # The reader waits for us (see the module docstring): let it catch up.
                    extra = min(self.insert_burst, math.ceil(allowance - reader.inserted))
                    if extra > 0:
                        filler = self._filler()
                        for _ in range(extra):
                            transport.write(filler)
                        reader.inserted += extra
                        self.reader_frames_inserted += extra
            else:
                reader.empty_ticks = 0
            transport.write(frame)

    async def _serve_reader(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        sock = writer.get_extra_info("socket")
        fd = -1
        if sock is not None:
            fd = sock.fileno()
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self._sndbuf)
        self._readers[writer] = _Reader(writer.transport, fd, asyncio.get_running_loop().time())
        log.info("%s: reader connected (%d)", self.name, len(self._readers))
        try:
            await reader.read()  # readers send nothing; this returns when they hang up
        except (ConnectionError, OSError):
            pass
        finally:
            self._readers.pop(writer, None)
            writer.close()
