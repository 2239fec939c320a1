"""A viewer worker process: one :class:`WebrtcRegistry` of its own, driven over stdin/stdout.

Started by :class:`~streaming.webrtc.shards.ShardedRegistry` as
``python -m streaming.webrtc.worker``. Each worker reads the occurrence's feed socket itself
(the live pipeline's feed hub serves any number of readers), so the viewers it owns cost only
its own CPU: handshakes and sending spread over the machine's cores instead of one event loop.

Protocol, one JSON object per line. In (stdin): first the options, then requests
``{"id", "op", "args"}``. Out (stdout): replies ``{"id", "result"}`` or ``{"id", "error":
{"type", "message", "retry_after_s"}}``, and events ``{"event": "closed" | "first_frame" |
"stats", ...}``. End of stdin (the service is gone) or the ``shutdown`` request closes every
viewer and ends the process; the kernel also ends it should the service die (parent-death
signal), so no worker outlives the service.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from streaming.webrtc.errors import ViewerLimitReached, WebrtcError
from streaming.webrtc.options import IceServer, WebrtcOptions
from streaming.webrtc.registry import WebrtcRegistry

log = logging.getLogger(__name__)

#: Seconds between two stats events (viewer counts and counters for the status API).
STATS_EVERY_S = 1.0
PR_SET_PDEATHSIG = 1


def options_to_json(options: WebrtcOptions) -> dict[str, Any]:
    return dataclasses.asdict(options)


def options_from_json(data: dict[str, Any]) -> WebrtcOptions:
    servers = tuple(
        IceServer(tuple(s["urls"]), s.get("username"), s.get("credential"))
        for s in data.pop("ice_servers", ())
    )
    for key in ("host_addresses", "interfaces"):
        data[key] = tuple(data.get(key, ()))
    return WebrtcOptions(ice_servers=servers, **data)


def error_reply(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, WebrtcError):
        reply: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
        if isinstance(exc, ViewerLimitReached):
            reply["retry_after_s"] = exc.retry_after_s
        return reply
    log.exception("viewer worker request failed")
    return {"type": "WebrtcError", "message": "internal error in the viewer worker"}


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

    def send(self, message: dict[str, Any]) -> None:
        # Small lines to a pipe the service reads all the time: a blocking write is brief.
        self._out.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")
        self._out.flush()

    def _closed(self, occurrence_id: int, viewer_id: str) -> None:
        self.send({"event": "closed", "occurrence_id": occurrence_id, "viewer_id": viewer_id})

    def _first_frame(self, seconds: float) -> None:
        self.send({"event": "first_frame", "seconds": seconds})

    async def handle(self, request: dict[str, Any]) -> None:
        registry = self.registry
        op, args = request["op"], request.get("args", {})
        try:
            if op == "open":
                await registry.open(args["occurrence_id"], Path(args["feed"]), args["title"])
                result: Any = None
            elif op == "close":
                await registry.close(args["occurrence_id"])
                result = None
            elif op == "add_viewer":
                result = list(await registry.add_viewer(args["occurrence_id"], args["offer"]))
            elif op == "remove_viewer":
                await registry.remove_viewer(args["occurrence_id"], args["viewer_id"])
                result = None
            elif op == "viewer_stats":
                result = await registry.viewer_stats(args["occurrence_id"], args["viewer_id"])
            else:
                raise WebrtcError(f"unknown request {op!r}")
        except Exception as exc:
            self.send({"id": request["id"], "error": error_reply(exc)})
        else:
            self.send({"id": request["id"], "result": result})

    def stats(self) -> dict[str, Any]:
        registry = self.registry
        snapshot = registry.snapshot()
        return {
            "event": "stats",
            "occurrences": {str(o): registry.stats(o) for o in registry.live_occurrences()},
            "totals": dataclasses.asdict(snapshot.totals),
            "connecting": registry.connecting,
        }

    async def report(self) -> None:
        while True:
            await asyncio.sleep(STATS_EVERY_S)
            self.send(self.stats())

    async def serve(self, requests: asyncio.StreamReader) -> None:
        reporter = asyncio.create_task(self.report())
        try:
            while line := await requests.readline():
                request = json.loads(line)
                if request.get("op") == "shutdown":
                    break
                task = asyncio.create_task(self.handle(request))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        finally:
            reporter.cancel()
            await self.registry.aclose()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(reporter, *self._tasks, return_exceptions=True)
            self.send({"event": "stopped"})


def die_with_parent() -> None:
    """Ask the kernel to end this process when the service that started it ends."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


async def main() -> None:
    loop = asyncio.get_running_loop()
    requests = asyncio.StreamReader(limit=1 << 22)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(requests), sys.stdin)
    options = options_from_json(json.loads(await requests.readline()))
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    # The protocol owns the real stdout; anything a library prints goes to stderr instead.
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # C libraries too
    sys.stdout = sys.stderr
    worker = Worker(options, protocol_out)
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
    logging.basicConfig(
        level=sys.argv[1] if len(sys.argv) > 1 else "WARNING",
        format="%(asctime)s %(levelname)s viewer-worker %(name)s: %(message)s",
        stream=sys.stderr,
    )
    asyncio.run(main())
