"""FfmpegProcesses: the one owner of every FfmpegSupervisor in a running Knoten.

The app creates a single instance, registers supervisors by unique name, and closes it on
shutdown; ``aclose`` stops everything concurrently (each supervisor gracefully, with its own
grace period) and returns only when no FFmpeg process of ours is left.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator

from streaming.ffmpeg.metrics import FfmpegMetrics
from streaming.ffmpeg.supervisor import FfmpegSupervisor

log = logging.getLogger(__name__)


class FfmpegProcesses:
    """Named set of supervisors with a shared lifecycle."""

    def __init__(self, metrics: FfmpegMetrics | None = None) -> None:
        self._supervisors: dict[str, FfmpegSupervisor] = {}
        self._metrics = metrics
        self._detach: dict[str, Callable[[], None]] = {}
        self._closed = False

    def add(self, supervisor: FfmpegSupervisor) -> FfmpegSupervisor:
        """Register ``supervisor`` (not started). Names are unique."""
        if self._closed:
            raise RuntimeError("FfmpegProcesses is closed")
        if supervisor.name in self._supervisors:
            raise ValueError(f"an FFmpeg process named {supervisor.name!r} already exists")
        self._supervisors[supervisor.name] = supervisor
        if self._metrics is not None:
            self._detach[supervisor.name] = self._metrics.observe(supervisor)
        return supervisor

    async def start(self, supervisor: FfmpegSupervisor) -> FfmpegSupervisor:
        """Register ``supervisor`` if needed and start it."""
        known = self._supervisors.get(supervisor.name)
        if known is None:
            self.add(supervisor)
        elif known is not supervisor:
            raise ValueError(f"an FFmpeg process named {supervisor.name!r} already exists")
        await supervisor.start()
        return supervisor

    async def remove(self, name: str) -> None:
        """Stop and forget the supervisor ``name`` (no-op if unknown)."""
        supervisor = self._supervisors.pop(name, None)
        if supervisor is not None:
            await supervisor.aclose()
            detach = self._detach.pop(name, None)
            if detach is not None:
                detach()

    def get(self, name: str) -> FfmpegSupervisor | None:
        return self._supervisors.get(name)

    def __iter__(self) -> Iterator[FfmpegSupervisor]:
        return iter(list(self._supervisors.values()))

    def __len__(self) -> int:
        return len(self._supervisors)

    def __contains__(self, name: object) -> bool:
        return name in self._supervisors

    async def aclose(self) -> None:
        """Stop all supervisors concurrently; idempotent."""
        self._closed = True
        supervisors = list(self._supervisors.values())
        self._supervisors.clear()
        if not supervisors:
            return
        results = await asyncio.gather(
            *(supervisor.aclose() for supervisor in supervisors), return_exceptions=True
        )
        for supervisor, result in zip(supervisors, results, strict=True):
            if isinstance(result, Exception):
                log.error("ffmpeg %s: error while closing", supervisor.name, exc_info=result)
