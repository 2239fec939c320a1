"""A viewer worker process: one :class:`WebrtcRegistry` of its own, driven over stdin/stdout.

Started by :class:`~streaming.webrtc.shards.ShardedRegistry` as
``python -m streaming.webrtc.worker``. Each worker reads the occurrence's feed socket itself
(the live pipeline's feed hub serves any number of readers), so the viewers it owns cost only
its own CPU: handshakes and sending spread over the machine's cores instead of one event loop.

The messages are those of :mod:`streaming.webrtc.worker_protocol`, one per line: in (stdin)
:class:`~streaming.webrtc.worker_protocol.Start` and then requests, out (stdout) a reply per
request and events (viewer closed, first frame, a report every second, stopped). End of stdin
(the service is gone) or :class:`~streaming.webrtc.worker_protocol.Shutdown` closes every viewer
and ends the process; the kernel also ends it should the service die (parent-death signal), so
no worker outlives the service.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from foundation.malloc_arenas import limit_malloc_arenas
from streaming.webrtc import worker_protocol as protocol
from streaming.webrtc.aiortc_boundary import check_aiortc
from streaming.webrtc.errors import WebrtcError
from streaming.webrtc.options import WebrtcOptions
from streaming.webrtc.registry import WebrtcRegistry

log = logging.getLogger(__name__)

#: Seconds between two stats events (viewer counts and counters for the status API).
STATS_EVERY_S = 1.0
PR_SET_PDEATHSIG = 1


class Worker:
    """Serves the requests of one service process."""

    def __init__(self, options: WebrtcOptions, out: Any) -> None:
        self._out = out
        self.registry = WebrtcRegistry(
            options,
            on_viewer_closed=self._closed,
            on_first_frame=self._first_frame,
        )
        self._tasks: set[asyncio.Task[None]] = set()

    def send(self, message: protocol.Message) -> None:
        # Small lines to a pipe the service reads all the time: a blocking write is brief.
        self._out.write(protocol.encode(message))
        self._out.flush()

    def _closed(self, occurrence_id: int, viewer_id: str) -> None:
        self.send(protocol.ViewerClosed(occurrence_id, viewer_id))

    def _first_frame(self, seconds: float) -> None:
        self.send(protocol.FirstFrame(seconds))

    async def handle(self, request: protocol.Request) -> None:
        registry = self.registry
        reply: protocol.Message
        try:
            if isinstance(request, protocol.Open):
                await registry.open(request.occurrence_id, Path(request.feed), request.title)
                reply = protocol.Done(request.id)
            elif isinstance(request, protocol.Close):
                await registry.close(request.occurrence_id)
                reply = protocol.Done(request.id)
            elif isinstance(request, protocol.AddViewer):
                viewer_id, answer = await registry.add_viewer(request.occurrence_id, request.offer)
                reply = protocol.Answered(request.id, viewer_id, answer)
            elif isinstance(request, protocol.RemoveViewer):
                await registry.remove_viewer(request.occurrence_id, request.viewer_id)
                reply = protocol.Done(request.id)
            else:
                stats = await registry.viewer_stats(request.occurrence_id, request.viewer_id)
                reply = protocol.ViewerStats(request.id, stats)
        except WebrtcError as exc:
            reply = protocol.Failed.of(request.id, exc)
        except Exception:
            log.exception("viewer worker request failed")
            reply = protocol.Failed(
                request.id, "WebrtcError", "internal error in the viewer worker"
            )
        self.send(reply)

    def report(self) -> protocol.Report:
        registry = self.registry
        return protocol.Report(
            {o: registry.stats(o) for o in registry.live_occurrences()},
            registry.snapshot().totals,
            registry.connecting,
        )

    async def _report_every_second(self) -> None:
        while True:
            await asyncio.sleep(STATS_EVERY_S)
            self.send(self.report())

    async def serve(self, requests: asyncio.StreamReader) -> None:
        reporter = asyncio.create_task(self._report_every_second())
        try:
            while line := await requests.readline():
                request = protocol.decode(line)
                if isinstance(request, protocol.Shutdown):
                    break
                if not isinstance(request, protocol.REQUESTS):
                    log.warning("viewer worker: skipping unreadable request %r", line[:80])
                    continue
                task = asyncio.create_task(self.handle(request))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        finally:
            reporter.cancel()
            await self.registry.aclose()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(reporter, *self._tasks, return_exceptions=True)
            self.send(protocol.Stopped())


def die_with_parent() -> None:
    """Ask the kernel to end this process when the service that started it ends."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


async def main() -> None:
    loop = asyncio.get_running_loop()
    requests = asyncio.StreamReader(limit=1 << 22)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(requests), sys.stdin)
    check_aiortc()
    start = protocol.decode(await requests.readline())
    if not isinstance(start, protocol.Start):
        raise SystemExit("viewer worker: the first line must be the options")
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    # The protocol owns the real stdout; anything a library prints goes to stderr instead.
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # C libraries too
    sys.stdout = sys.stderr
    worker = Worker(start.options, protocol_out)
    serving = asyncio.create_task(worker.serve(requests))
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not serving.done():
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
    stopping.cancel()
    protocol_out.flush()


if __name__ == "__main__":
    die_with_parent()
    limit_malloc_arenas()
    logging.basicConfig(
        level=sys.argv[1] if len(sys.argv) > 1 else "WARNING",
        format="%(asctime)s %(levelname)s viewer-worker %(name)s: %(message)s",
        stream=sys.stderr,
    )
    asyncio.run(main())
