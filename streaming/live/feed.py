"""FeedHub: one MPEG-TS byte stream served to many readers over a Unix socket.

A producer (an FFmpeg process connecting to ``input_path``, or in-process code calling
:meth:`FeedHub.publish`) writes MPEG-TS; every reader that connects to ``output_path`` gets the
stream from the next 188-byte packet boundary on, so FFmpeg consumers can join and rejoin at any
time. Each reader has a bounded send buffer: a reader that falls behind by more than
``max_lag_bytes`` is disconnected (its supervisor restarts it) instead of growing memory or
slowing the others down. Nothing here decodes or parses more than packet alignment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

log = logging.getLogger(__name__)

TS_PACKET = 188
READ_CHUNK = TS_PACKET * 348  # ≈ 64 KiB


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
        self._servers: list[asyncio.Server] = []
        self._producer_tasks: set[asyncio.Task[None]] = set()
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
        self.last_input_at = asyncio.get_running_loop().time()
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

    async def _serve_reader(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._readers.add(writer)
        log.debug("feed %s: reader connected (%d)", self.name, len(self._readers))
        try:
            # Readers send nothing; this returns when they hang up.
            await reader.read()
        except (ConnectionError, OSError):
            pass
        finally:
            self._readers.discard(writer)
            writer.close()

    async def _serve_producer(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._producer_tasks.add(task)
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
            self._producer_tasks.discard(task)
            writer.close()

    async def aclose(self) -> None:
        for server in self._servers:
            server.close()
        for writer in list(self._readers):
            writer.transport.abort()
        self._readers.clear()
        for task in list(self._producer_tasks):
            task.cancel()
        await asyncio.gather(*self._producer_tasks, return_exceptions=True)
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)
        self._servers.clear()
        for path in filter(None, (self.output_path, self.input_path)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
