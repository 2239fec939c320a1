"""Viewers sharded over worker processes, behind the same interface as :class:`WebrtcRegistry`
(:class:`~streaming.webrtc.viewer_registry.ViewerRegistry`).

One event loop sends to about 200 viewers before it is full (≈0.0045 cores each, plus the
handshakes of those still connecting); a machine has more cores than one. The service keeps
HTTP, tokens and the viewer limit; each worker (:mod:`streaming.webrtc.worker`) reads the feed
socket itself and owns the peers of the viewers placed on it. A new viewer goes to the first
worker with fewer than ``viewers_per_worker``, or else to the one with the fewest. The service
knows where every viewer is (replies and ``closed`` events), so counts are exact; counters for
the status API arrive once a second. The messages are :mod:`streaming.webrtc.worker_protocol`'s.

Each worker is supervised like an FFmpeg process: spawned in its own process group
(:mod:`streaming.ffmpeg.process`), restarted after it dies with the backoff of a
:class:`~streaming.ffmpeg.policy.RestartPolicy` (:data:`WORKER_RESTART`), and gets the live
feeds again; its viewers are gone (the join page reconnects them, to a healthy worker).
``aclose()`` asks every worker to close its viewers and waits for it to exit; one that has not
after the policy's grace period is killed with its group.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from streaming.ffmpeg.policy import RestartPolicy
from streaming.ffmpeg.process import GroupProcess, _GroupProtocol
from streaming.webrtc.aiortc_boundary import check_aiortc
from streaming.webrtc.errors import NotLive, ViewerLimitReached, ViewerNotFound
from streaming.webrtc.metrics import Snapshot, Totals, WebrtcMetrics
from streaming.webrtc.options import WebrtcOptions
from streaming.webrtc.sdp import check_offer
from streaming.webrtc.viewer_registry import OccurrenceStats
from streaming.webrtc.worker_protocol import (
    AddViewer,
    Answered,
    Close,
    Done,
    Failed,
    FirstFrame,
    GetViewerStats,
    Open,
    RemoveViewer,
    Report,
    Request,
    Shutdown,
    Start,
    ViewerClosed,
    ViewerStats,
    decode,
    encode,
)

log = logging.getLogger(__name__)

#: Restarts of a viewer worker: 0.5 s doubling to 30 s (±20 % jitter), afresh after a minute
#: of health; ``grace_s`` is how long a stopping worker may take before it is killed.
WORKER_RESTART = RestartPolicy(
    initial_backoff_s=0.5, max_backoff_s=30.0, reset_after_s=60.0, grace_s=5.0
)
#: How long a request to a worker may take (an offer waits for a handshake slot first).
REQUEST_TIMEOUT_S = 30.0
#: Longest line read from a worker (an SDP answer is a few kB).
LINE_LIMIT = 1 << 22


class WorkerUnavailable(ViewerLimitReached):
    """The worker that was to answer is restarting (503 + a short Retry-After)."""

    code = "busy"


class _WorkerPipes(_GroupProtocol):
    """FFmpeg's process-group protocol, reading lines up to :data:`LINE_LIMIT`."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self._limit = LINE_LIMIT  # read when the stdout reader is made (connection_made)


async def spawn_worker(log_level: str) -> GroupProcess:
    """``python -m streaming.webrtc.worker`` leading its own process group, with the protocol
    on stdin/stdout and its log on the service's stderr."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.subprocess_exec(
        lambda: _WorkerPipes(loop),
        sys.executable,
        "-m",
        "streaming.webrtc.worker",
        log_level,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=None,
        start_new_session=True,
    )
    process = asyncio.subprocess.Process(transport, protocol, loop)
    return GroupProcess(process, transport, protocol.exited)


class Shard:
    """One worker process: its pipe, its pending requests and what it last reported."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.process: GroupProcess | None = None
        # request id → (future, request): a new viewer is recorded when its reply is read,
        # before any later event about it can be.
        self.pending: dict[int, tuple[asyncio.Future[Any], Request]] = {}
        self.viewers: dict[str, int] = {}  # viewer id → occurrence id
        self.stats: dict[int, OccurrenceStats] = {}
        self.totals = Totals()
        self.connecting = 0
        self.reported_at = 0.0  # monotonic time of the last stats report
        self.ready = asyncio.Event()
        self.restarts = 0

    @property
    def load(self) -> int:
        return len(self.viewers) + len(self.pending)


class ShardedRegistry:
    """:class:`WebrtcRegistry`'s interface, with viewers in ``workers`` processes."""

    def __init__(
        self,
        options: WebrtcOptions,
        metrics_registry: CollectorRegistry | None = None,
        *,
        workers: int = 2,
        viewers_per_worker: int = 100,
        log_level: str = "WARNING",
        restart: RestartPolicy = WORKER_RESTART,
    ) -> None:
        if workers < 1:
            raise ValueError("at least one worker")
        check_aiortc()  # offers are parsed here, with aiortc's SDP parser
        self.options = options
        self._shards = [Shard(index) for index in range(workers)]
        self.viewers_per_worker = viewers_per_worker
        self._feeds: dict[int, tuple[Path, str]] = {}
        self._ids = itertools.count(1)
        self._log_level = log_level
        self._restart = restart
        self._rng = random.Random()
        self._supervisors: list[asyncio.Task[None]] = []
        self._closed = False
        self._adding = 0
        self._rejected = 0
        self._ended = Totals()  # totals of workers that died, so counters never go back
        self.metrics = WebrtcMetrics(metrics_registry, self.snapshot)

    async def start(self) -> None:
        """Start the workers and wait until each is ready."""
        self._supervisors = [
            asyncio.create_task(self._supervise(shard), name=f"webrtc-worker-{shard.index}")
            for shard in self._shards
        ]
        await asyncio.wait_for(asyncio.gather(*(s.ready.wait() for s in self._shards)), 30)

    # -- workers ---------------------------------------------------------------------------

    async def _supervise(self, shard: Shard) -> None:
        streak = 0  # failed runs in a row
        loop = asyncio.get_running_loop()
        while not self._closed:
            started = loop.time()
            try:
                await self._run(shard)
            except Exception:
                log.exception("viewer worker %d failed", shard.index)
            self._lost(shard)
            if self._closed:
                return
            healthy = loop.time() - started >= self._restart.reset_after_s
            streak = 1 if healthy else streak + 1
            delay = self._restart.backoff_s(streak, self._rng)
            shard.restarts += 1
            log.warning("viewer worker %d ended; restarting in %.1f s", shard.index, delay)
            await asyncio.sleep(delay)

    async def _run(self, shard: Shard) -> None:
        process = await spawn_worker(self._log_level)
        shard.process = process
        pipes = process.process
        try:
            assert pipes.stdin is not None and pipes.stdout is not None
            pipes.stdin.write(encode(Start(self.options)))
            await pipes.stdin.drain()
            shard.ready.set()
            for occurrence_id, (feed, title) in list(self._feeds.items()):
                opened = self._send(shard, Open, occurrence_id, str(feed), title)
                opened.add_done_callback(_log_failure)
            while line := await pipes.stdout.readline():
                message = decode(line)
                if message is None:
                    log.warning("viewer worker %d: unreadable line %r", shard.index, line[:80])
                    continue
                self._received(shard, message)
        finally:
            shard.ready.clear()
            # Its output ended: it is exiting (or must); then nothing of its group may stay.
            await process.wait_exit(2)
            await process.reap_group()
            process.close()
            shard.process = None

    def _lost(self, shard: Shard) -> None:
        """The worker is gone: fail its requests, forget its viewers, keep its totals."""
        for future, _ in shard.pending.values():
            if not future.done():
                future.set_exception(
                    WorkerUnavailable("the viewer worker is restarting", retry_after_s=2)
                )
        shard.pending.clear()
        if shard.viewers:
            log.warning("viewer worker %d lost %d viewers", shard.index, len(shard.viewers))
        shard.viewers.clear()
        shard.stats.clear()
        _add_totals(self._ended, shard.totals)
        shard.totals = Totals()
        shard.connecting = 0

    def _received(self, shard: Shard, message: object) -> None:
        if isinstance(message, Done | Answered | ViewerStats | Failed):
            entry = shard.pending.pop(message.id, None)
            if entry is None:
                return
            future, request = entry
            if isinstance(message, Failed):
                if not future.done():
                    future.set_exception(message.exception())
                return
            if isinstance(message, Answered) and isinstance(request, AddViewer):
                shard.viewers[message.viewer_id] = request.occurrence_id
            if not future.done():
                future.set_result(message)
        elif isinstance(message, ViewerClosed):
            shard.viewers.pop(message.viewer_id, None)
        elif isinstance(message, FirstFrame):
            self.metrics.time_to_first_frame.observe(message.seconds)
        elif isinstance(message, Report):
            shard.stats = message.occurrences
            shard.totals = message.totals
            shard.connecting = message.connecting
            shard.reported_at = time.monotonic()

    def _send(self, shard: Shard, request: type[Request], *fields: Any) -> asyncio.Future[Any]:
        process = shard.process
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        stdin = None if process is None else process.process.stdin
        if stdin is None or not shard.ready.is_set():
            future.set_exception(WorkerUnavailable("the viewer worker is restarting", 2))
            return future
        request_id = next(self._ids)
        message = request(request_id, *fields)
        shard.pending[request_id] = (future, message)
        future.add_done_callback(_retrieve)  # a caller that timed out no longer looks
        stdin.write(encode(message))
        return future

    async def _call(self, shard: Shard, request: type[Request], *fields: Any) -> Any:
        future = self._send(shard, request, *fields)
        try:
            return await asyncio.wait_for(asyncio.shield(future), REQUEST_TIMEOUT_S)
        except TimeoutError:
            raise WorkerUnavailable(
                f"the viewer worker did not answer {request.__name__}", 2
            ) from None

    # -- feeds -----------------------------------------------------------------------------

    async def open(self, occurrence_id: int, feed: Path, title: str) -> None:
        """Every worker starts reading ``feed`` for ``occurrence_id``."""
        if self._closed:
            raise NotLive("the service is shutting down")
        self._feeds[occurrence_id] = (feed, title)
        await self._everywhere(Open, occurrence_id, str(feed), title)
        log.info("webrtc feed open on %d workers: occurrence %s", len(self._shards), occurrence_id)

    async def close(self, occurrence_id: int) -> None:
        if self._feeds.pop(occurrence_id, None) is None:
            return
        await self._everywhere(Close, occurrence_id)
        for shard in self._shards:
            for viewer_id, owner in list(shard.viewers.items()):
                if owner == occurrence_id:
                    del shard.viewers[viewer_id]

    async def _everywhere(self, request: type[Request], *fields: Any) -> None:
        results = await asyncio.gather(
            *(self._call(shard, request, *fields) for shard in self._shards),
            return_exceptions=True,
        )
        for shard, result in zip(self._shards, results, strict=True):
            if isinstance(result, WorkerUnavailable):
                continue  # a restarting worker gets the live feeds when it is back
            if isinstance(result, BaseException):
                log.warning("viewer worker %d: %s %s", shard.index, request.__name__, result)

    def is_live(self, occurrence_id: int) -> bool:
        return occurrence_id in self._feeds

    def live_occurrences(self) -> set[int]:
        return set(self._feeds)

    # -- viewers ---------------------------------------------------------------------------

    def viewer_count(self, occurrence_id: int | None = None) -> int:
        return sum(
            1
            for shard in self._shards
            for owner in shard.viewers.values()
            if occurrence_id is None or owner == occurrence_id
        )

    @property
    def connecting(self) -> int:
        return sum(shard.connecting for shard in self._shards)

    async def add_viewer(self, occurrence_id: int, offer: bytes | str) -> tuple[str, str]:
        """As :meth:`WebrtcRegistry.add_viewer`, on the least loaded worker."""
        raw = offer.encode() if isinstance(offer, str) else offer
        text, _ = check_offer(raw)  # 400s never travel to a worker
        if occurrence_id not in self._feeds or self._closed:
            raise NotLive(f"occurrence {occurrence_id} is not live")
        if self.viewer_count() + self._adding >= self.options.max_viewers:
            self._rejected += 1
            raise ViewerLimitReached(
                f"viewer limit of {self.options.max_viewers} reached", self.options.retry_after_s
            )
        ready = [shard for shard in self._shards if shard.ready.is_set()]
        if not ready:
            raise WorkerUnavailable("the viewer workers are starting", 2)
        shard = self._place(ready)
        self._adding += 1
        try:
            answered: Answered = await self._call(shard, AddViewer, occurrence_id, text)
        finally:
            self._adding -= 1
        return answered.viewer_id, answered.answer

    def _place(self, ready: list[Shard]) -> Shard:
        """The first worker below ``viewers_per_worker``, else the least loaded one.

        Filling one worker first is cheaper than spreading: measured at 50 and 100 viewers,
        viewers spread over two processes cost 0.0006-0.0008 cores each more than in one (two loops
        waking per frame, two sets of caches); past the mark the second core is worth it."""
        for shard in ready:
            if shard.load < self.viewers_per_worker:
                return shard
        return min(ready, key=lambda s: s.load)

    def _owner(self, occurrence_id: int, viewer_id: str) -> Shard:
        for shard in self._shards:
            if shard.viewers.get(viewer_id) == occurrence_id:
                return shard
        raise ViewerNotFound(f"viewer {viewer_id!r} does not exist")

    async def remove_viewer(self, occurrence_id: int, viewer_id: str) -> None:
        shard = self._owner(occurrence_id, viewer_id)
        await self._call(shard, RemoveViewer, occurrence_id, viewer_id)
        shard.viewers.pop(viewer_id, None)

    async def viewer_stats(self, occurrence_id: int, viewer_id: str) -> dict[str, object] | None:
        try:
            shard = self._owner(occurrence_id, viewer_id)
        except ViewerNotFound:
            return None
        reply: ViewerStats = await self._call(shard, GetViewerStats, occurrence_id, viewer_id)
        stats = reply.stats
        if stats is not None:
            stats["worker"] = shard.index
        return stats

    # -- status ----------------------------------------------------------------------------

    def stats(self, occurrence_id: int) -> OccurrenceStats:
        """As :meth:`WebrtcRegistry.stats`: the viewer count is exact, the counters are the
        workers' last reports (at most a second old); the feed is read by every worker, so
        its figures come from one of them."""
        if occurrence_id not in self._feeds:
            return OccurrenceStats(live=False)
        reports = [s.stats[occurrence_id] for s in self._shards if occurrence_id in s.stats]
        known = [
            r.time_to_first_frame_s_max for r in reports if r.time_to_first_frame_s_max is not None
        ]
        return OccurrenceStats(
            live=True,
            viewers=self.viewer_count(occurrence_id),
            feed=reports[0].feed if reports else None,
            packets=sum(r.packets for r in reports),
            bytes=sum(r.bytes for r in reports),
            dropped=sum(r.dropped for r in reports),
            time_to_first_frame_s_max=max(known) if known else None,
            workers=len(self._shards),
        )

    def snapshot(self) -> Snapshot:
        """Feeds, viewers and totals (dead workers' included), for the metrics collector."""
        totals = Totals(**vars(self._ended))
        for shard in self._shards:
            _add_totals(totals, shard.totals)
        totals.rejected += self._rejected
        return Snapshot(len(self._feeds), self.viewer_count(), totals)

    def worker_status(self) -> list[dict[str, object]]:
        return [
            {
                "index": shard.index,
                "running": shard.ready.is_set(),
                "viewers": len(shard.viewers),
                "restarts": shard.restarts,
            }
            for shard in self._shards
        ]

    async def aclose(self) -> None:
        """Close every viewer and stop every worker; returns when all have exited."""
        if self._closed:
            return
        self._closed = True
        for shard in self._shards:
            stdin = None if shard.process is None else shard.process.process.stdin
            if stdin is not None:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    stdin.write(encode(Shutdown()))
                    stdin.close()
        if self._supervisors:
            _, pending = await asyncio.wait(self._supervisors, timeout=self._restart.grace_s)
            if pending:
                for shard in self._shards:
                    if shard.process is not None and shard.process.returncode is None:
                        log.warning(
                            "viewer worker %d did not stop in time; killing it", shard.index
                        )
                        shard.process.signal_group(signal.SIGKILL)
                _, pending = await asyncio.wait(pending, timeout=5)
            for task in pending:
                task.cancel()
            await asyncio.gather(*self._supervisors, return_exceptions=True)
        self._feeds.clear()


def _add_totals(into: Totals, more: Totals) -> None:
    for name in ("viewers", "packets", "bytes", "dropped", "rejected"):
        setattr(into, name, getattr(into, name) + getattr(more, name))


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _log_failure(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("viewer worker: %s", future.exception())
