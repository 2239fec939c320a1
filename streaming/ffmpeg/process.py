"""One spawned FFmpeg process in its own process group: spawn, signal the group, read its pipes.

The supervisor decides *when*; this module knows *how* on POSIX. Two details matter:

- ``start_new_session=True`` makes the child a session and process-group leader, so signals go
  to FFmpeg *and* anything it started (and the terminal's Ctrl-C never reaches it directly).
- On Python 3.11 ``asyncio.subprocess.Process.wait()`` only returns once the pipes are closed
  too. A grandchild that inherited stdout/stderr would keep ``wait()`` hanging after FFmpeg
  itself died, so we use ``loop.subprocess_exec`` (what ``asyncio.create_subprocess_exec`` calls)
  with a protocol whose ``exited`` future resolves on the exit of the leader alone.
- Each child asks the kernel for SIGTERM when the service dies (``PR_SET_PDEATHSIG``): after a
  kill -9 no FFmpeg of the dead service goes on writing (a recording another node continues,
  a partner stream it now sends). SIGTERM lets FFmpeg close its current segment cleanly.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
from collections.abc import Callable, Sequence

from streaming.errors import FfmpegNotFound

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
# Looked up once here: between fork and exec the child only makes this one call.
_PRCTL = ctypes.CDLL(None, use_errno=True).prctl


def _die_with_service() -> None:
    """In the child before exec. The signal follows the death of the thread that forked, which
    is the event loop's thread: the service's main thread."""
    _PRCTL(PR_SET_PDEATHSIG, signal.SIGTERM)


MAX_LINE = 1000  # longer stderr lines are cut: a ring buffer entry, not a data channel
_READ_SIZE = 4096


class _GroupProtocol(asyncio.subprocess.SubprocessStreamProtocol):
    """Stream protocol that also reports the leader's exit (see the module docstring)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=2**16, loop=loop)
        self.exited: asyncio.Future[int] = loop.create_future()
        self._proc_transport: asyncio.SubprocessTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        assert isinstance(transport, asyncio.SubprocessTransport)
        self._proc_transport = transport

    def process_exited(self) -> None:
        super().process_exited()
        code = self._proc_transport.get_returncode() if self._proc_transport else None
        if not self.exited.done():
            self.exited.set_result(code if code is not None else -1)


class GroupProcess:
    """A running child that leads its own process group."""

    def __init__(
        self,
        process: asyncio.subprocess.Process,
        transport: asyncio.SubprocessTransport,
        exited: asyncio.Future[int],
    ) -> None:
        self.process = process
        self.exited = exited
        self._transport = transport
        self.pid = process.pid  # == the process group id

    @property
    def returncode(self) -> int | None:
        return self.exited.result() if self.exited.done() else None

    def signal_group(self, sig: signal.Signals) -> bool:
        """Send ``sig`` to the whole group; False if nothing was left to signal."""
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            return False
        except PermissionError:
            # The group id was recycled by someone else's process: not ours to touch.
            log.warning("process group %d is not ours any more; not signalling it", self.pid)
            return False
        return True

    async def wait_exit(self, timeout: float | None) -> bool:
        """Wait for the leader to exit without cancelling the shared ``exited`` future."""
        if not self.exited.done():
            await asyncio.wait({self.exited}, timeout=timeout)
        return self.exited.done()

    async def reap_group(self, timeout: float = 5.0) -> None:
        """Kill whatever is left of the group and wait for the leader.

        Called after every run, also after a clean exit: an orphaned grandchild holding our
        pipes open would otherwise outlive the run and leak.
        """
        self.signal_group(signal.SIGKILL)
        if not await self.wait_exit(timeout):
            log.error(
                "process %d survived SIGKILL for %.0f s (uninterruptible?)", self.pid, timeout
            )

    def close(self) -> None:
        self._transport.close()


async def spawn_group(argv: Sequence[str]) -> GroupProcess:
    """Start ``argv`` with stdin from /dev/null, stdout/stderr piped, in a new session.

    Raises FfmpegNotFound if the executable is missing or not executable; other OSErrors
    (EMFILE, EAGAIN…) propagate: they are worth a retry.
    """
    if not argv:
        raise ValueError("empty argv")
    loop = asyncio.get_running_loop()
    try:
        transport, protocol = await loop.subprocess_exec(
            lambda: _GroupProtocol(loop),
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            preexec_fn=_die_with_service,
        )
    except (FileNotFoundError, PermissionError) as exc:
        raise FfmpegNotFound(f"cannot execute {argv[0]!r}: {exc.strerror}") from exc
    process = asyncio.subprocess.Process(transport, protocol, loop)
    return GroupProcess(process, transport, protocol.exited)


async def read_chunks(stream: asyncio.StreamReader | None, sink: Callable[[bytes], None]) -> None:
    """Forward everything from ``stream`` to ``sink`` until EOF."""
    if stream is None:
        return
    while chunk := await stream.read(_READ_SIZE):
        sink(chunk)


class LineSplitter:
    """Splits a byte stream into text lines on \\n or \\r (FFmpeg uses both), capping length."""

    def __init__(self, on_line: Callable[[str], None]) -> None:
        self._on_line = on_line
        self._pending = b""

    def feed(self, chunk: bytes) -> None:
        data = (self._pending + chunk).replace(b"\r", b"\n")
        *lines, self._pending = data.split(b"\n")
        if len(self._pending) > MAX_LINE * 4:
            lines.append(self._pending)
            self._pending = b""
        for raw in lines:
            self._emit(raw)

    def flush(self) -> None:
        if self._pending:
            self._emit(self._pending)
            self._pending = b""

    def _emit(self, raw: bytes) -> None:
        line = raw.decode("utf-8", errors="replace").rstrip()
        if line:
            self._on_line(line[:MAX_LINE])
