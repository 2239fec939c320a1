"""FeedHub: one MPEG-TS byte stream served to many readers over a Unix socket.

A producer (an FFmpeg process connecting to ``input_path``, or in-process code calling
:meth:`FeedHub.publish`) writes MPEG-TS; every reader that connects to ``output_path`` gets the
latest PAT and PMT and then the stream from the next video keyframe on, so an FFmpeg consumer can
join or rejoin at any time and needs only a short probe (SPS/PPS and a picture come first).
Each reader has a bounded send buffer: a reader that falls behind by more than
``max_lag_bytes`` is disconnected (its supervisor restarts it) instead of growing memory or
slowing the others down. Nothing here decodes: it reads TS packet headers, the PAT and the PMT.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

log = logging.getLogger(__name__)

TS_PACKET = 188
READ_CHUNK = TS_PACKET * 348  # ≈ 64 KiB
H264_STREAM_TYPES = frozenset({0x1B})
# A reader that has seen no keyframe for this long gets the stream as it is.
KEYFRAME_WAIT_S = 3.0


class TsIndex:
    """Just enough MPEG-TS parsing to start readers well: the current PAT and PMT packets, the
    video PID, and where a video keyframe begins (random-access indicator on a PES start)."""

    def __init__(self) -> None:
        self.pat: bytes | None = None
        self.pmt: bytes | None = None
        self.pmt_pid: int | None = None
        self.video_pid: int | None = None

    def scan(self, chunk: bytes) -> int | None:
        """Remember PAT/PMT in ``chunk``; return the offset of its first video keyframe."""
        keyframe: int | None = None
        for offset in range(0, len(chunk), TS_PACKET):
            if chunk[offset] != 0x47:
                continue
            pid = ((chunk[offset + 1] & 0x1F) << 8) | chunk[offset + 2]
            if pid == 0:
                self.pat = chunk[offset : offset + TS_PACKET]
                self._parse_pat(self.pat)
            elif pid == self.pmt_pid:
                self.pmt = chunk[offset : offset + TS_PACKET]
                self._parse_pmt(self.pmt)
            elif keyframe is None and pid == self.video_pid and _random_access(chunk, offset):
                keyframe = offset
        return keyframe

    @property
    def headers(self) -> bytes:
        return (self.pat or b"") + (self.pmt or b"")

    def _parse_pat(self, packet: bytes) -> None:
        start = _section_start(packet)
        if start is None or start + 12 > TS_PACKET:
            return
        # First program entry after the 8-byte section header: program number, then PID.
        self.pmt_pid = ((packet[start + 10] & 0x1F) << 8) | packet[start + 11]

    def _parse_pmt(self, packet: bytes) -> None:
        start = _section_start(packet)
        if start is None or start + 12 > TS_PACKET:
            return
        section_end = min(
            TS_PACKET, start + 3 + (((packet[start + 1] & 0x0F) << 8) | packet[start + 2]) - 4
        )
        info_length = ((packet[start + 10] & 0x0F) << 8) | packet[start + 11]
        position = start + 12 + info_length
        while position + 5 <= section_end:
            stream_type = packet[position]
            pid = ((packet[position + 1] & 0x1F) << 8) | packet[position + 2]
            if stream_type in H264_STREAM_TYPES:
                self.video_pid = pid
                return
            position += 5 + (((packet[position + 3] & 0x0F) << 8) | packet[position + 4])


def _section_start(packet: bytes) -> int | None:
    if not packet[1] & 0x40:  # no section starts in this packet
        return None
    offset = 4
    if packet[3] & 0x20:  # adaptation field
        offset += 1 + packet[4]
    if offset >= TS_PACKET:
        return None
    return offset + 1 + packet[offset]  # skip the pointer field


def _random_access(chunk: bytes, offset: int) -> bool:
    header = chunk[offset + 1]
    control = chunk[offset + 3]
    return bool(
        header & 0x40 and control & 0x20 and chunk[offset + 4] > 0 and chunk[offset + 5] & 0x40
    )


class FeedHub:
    def __init__(
        self,
        name: str,
        output_path: Path,
        input_path: Path | None = None,
        *,
        max_lag_bytes: int = 8 * 1024 * 1024,
    ) -> None:
        self.name = name
        self.output_path = output_path
        self.input_path = input_path
        self.max_lag_bytes = max_lag_bytes
        self._readers: set[asyncio.StreamWriter] = set()
        # New readers wait here, with the time they came, until a keyframe passes by.
        self._waiting: dict[asyncio.StreamWriter, float] = {}
        self._index = TsIndex()
        self._servers: list[asyncio.Server] = []
        # Each connected producer's task and its connection (closed, not cancelled, at the end).
        self._producers: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        self._remainder = b""
        self.bytes_in = 0
        self.readers_dropped = 0
        self.producer_connected = False
        self.last_input_at: float | None = None

    @property
    def reader_count(self) -> int:
        return len(self._readers)

    async def start(self) -> None:
        for path in filter(None, (self.output_path, self.input_path)):
            path.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        self._servers.append(
            await asyncio.start_unix_server(self._serve_reader, path=str(self.output_path))
        )
        if self.input_path is not None:
            self._servers.append(
                await asyncio.start_unix_server(self._serve_producer, path=str(self.input_path))
            )

    def publish(self, data: bytes) -> None:
        """Send ``data`` (any length) to every reader, in whole TS packets."""
        data = self._remainder + data
        cut = len(data) - len(data) % TS_PACKET
        self._remainder = data[cut:]
        if not cut:
            return
        chunk = data[:cut]
        self.bytes_in += cut
        now = self.last_input_at = asyncio.get_running_loop().time()
        keyframe = self._index.scan(chunk)
        joined: set[asyncio.StreamWriter] = set()
        for writer, since in list(self._waiting.items()):
            if writer.transport.is_closing():
                del self._waiting[writer]
            elif keyframe is not None or self._index.video_pid is None:
                del self._waiting[writer]
                writer.write(self._index.headers + chunk[keyframe or 0 :])
                joined.add(writer)
            elif now - since > KEYFRAME_WAIT_S:
                del self._waiting[writer]
                writer.write(self._index.headers + chunk)
                joined.add(writer)
        for writer in list(self._readers):
            transport = writer.transport
            if transport.is_closing():
                self._readers.discard(writer)
                continue
            if transport.get_write_buffer_size() > self.max_lag_bytes:
                # A stalled reader would hold megabytes per second; cut it loose.
                log.warning("feed %s: reader fell behind, disconnecting it", self.name)
                self.readers_dropped += 1
                self._readers.discard(writer)
                transport.abort()
                continue
            writer.write(chunk)
        # Added only now: readers that joined during this chunk already have their part of it.
        self._readers |= joined

    async def _serve_reader(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._waiting[writer] = asyncio.get_running_loop().time()
        log.debug("feed %s: reader connected", self.name)
        try:
            # Readers send nothing; this returns when they hang up.
            await reader.read()
        except (ConnectionError, OSError):
            pass
        finally:
            self._readers.discard(writer)
            self._waiting.pop(writer, None)
            writer.close()

    async def _serve_producer(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._producers[task] = writer
        self.producer_connected = True
        # A new producer starts a new byte stream: never glue half a packet onto it.
        self._remainder = b""
        try:
            while data := await reader.read(READ_CHUNK):
                self.publish(data)
        except (ConnectionError, OSError):
            pass
        finally:
            self.producer_connected = False
            self._remainder = b""
            self._producers.pop(task, None)
            writer.close()

    async def aclose(self) -> None:
        for server in self._servers:
            server.close()
        for writer in [*self._readers, *self._waiting]:
            writer.transport.abort()
        self._readers.clear()
        self._waiting.clear()
        # Aborting the connection ends the producer's read loop by itself. A cancelled
        # connection task would make asyncio's stream callback log a CancelledError (3.11).
        producers = list(self._producers.items())
        for _, writer in producers:
            writer.transport.abort()
        tasks = [task for task, _ in producers]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=2)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)
        self._servers.clear()
        for path in filter(None, (self.output_path, self.input_path)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
