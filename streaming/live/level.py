"""The room microphone's level for the host: how loud the room's own sound is, and for how long
it has been silent.

One small FFmpeg process (``level_meter_argv``) reads the switched feed — the camera's sound,
before the remote voices are mixed in —, decodes only its audio at 8 kHz mono and prints the
RMS level of every 100 ms to a Unix socket this class listens on. The process measured 0.003
cores with the test pattern's AAC (20 s on a loaded 2-core machine); nothing is added to the
encode-once process, whose command must not change while the date runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from pathlib import Path

log = logging.getLogger(__name__)

#: Below this the room counts as silent (dBFS of the RMS over 100 ms). A quiet room with a
#: working microphone measures −60…−45; a muted or unplugged one −90 or −inf.
SILENCE_DBFS = -60.0
_KEY = b"lavfi.astats.Overall.RMS_level="


class AudioLevel:
    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = path
        self.level_db: float | None = None  # the last 100 ms; None before the first report
        self._silent_since: float | None = None
        self._server: asyncio.AbstractServer | None = None
        self._readers: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._server = await asyncio.start_unix_server(self._serve, path=str(self.path))

    def silent_for(self, now: float) -> float | None:
        """Seconds the room has been silent without a break (None while it is not)."""
        return None if self._silent_since is None else max(0.0, now - self._silent_since)

    def report(self, value: float) -> None:
        """One measurement (dBFS; -inf for digital silence)."""
        now = time.monotonic()
        self.level_db = value if math.isfinite(value) else None
        if value < SILENCE_DBFS:
            if self._silent_since is None:
                self._silent_since = now
        else:
            self._silent_since = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._readers.add(task)
        try:
            while line := await reader.readline():
                if line.startswith(_KEY):
                    with contextlib.suppress(ValueError):
                        self.report(float(line[len(_KEY) :].strip()))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._readers.discard(task)
            writer.close()

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._readers):
            task.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
