"""PeriodicJob: runs after its first delay, then on its interval, survives a failed run, and
leaves no task behind when closed."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from foundation.periodic import PeriodicJob

pytestmark = pytest.mark.timeout(10)


async def test_runs_on_schedule_survives_failures_and_closes() -> None:
    runs: list[float] = []
    loop = asyncio.get_running_loop()
    started = loop.time()

    async def run() -> None:
        runs.append(loop.time() - started)
        if len(runs) == 2:
            raise RuntimeError("a failed run")

    job = PeriodicJob("test-job", run, interval_s=0.05, first_run_s=0.1)
    job.start()
    job.start()  # idempotent: still one timer
    while len(runs) < 4:
        await asyncio.sleep(0.01)
    await job.aclose()
    count = len(runs)
    await asyncio.sleep(0.15)
    assert len(runs) == count  # closed: no more runs
    assert runs[0] >= 0.1 and all(b - a >= 0.045 for a, b in itertools.pairwise(runs))
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "test-job"]
    await job.aclose()  # twice is fine
