"""A job that runs on its own timer task: first after ``first_run_s``, then every
``interval_s``; a failed run is logged and the schedule goes on. Owned by one component, which
starts it and closes it (the task is cancelled and awaited)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

DAY_S = 24 * 3600.0


class PeriodicJob:
    def __init__(
        self,
        name: str,
        run: Callable[[], Awaitable[object]],
        *,
        interval_s: float,
        first_run_s: float,
    ) -> None:
        self.name = name
        self._run = run
        self._interval_s = interval_s
        self._first_run_s = first_run_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._timer(), name=self.name)

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _timer(self) -> None:
        delay = self._first_run_s
        while True:
            await asyncio.sleep(delay)
            delay = self._interval_s
            try:
                await self._run()
            except Exception:  # a failed run must not end the schedule
                log.exception("%s failed; next run in %.0f s", self.name, delay)
