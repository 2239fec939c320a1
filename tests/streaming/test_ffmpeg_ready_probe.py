"""FfmpegSupervisor's ready probe against the fake ffmpeg: a far end seen down and then up ends
a long backoff at once; one that is up all along (it refuses the stream) keeps the backoff and is
not probed again and again."""

from __future__ import annotations

import asyncio
import time

import pytest

from streaming.ffmpeg.supervisor import FfmpegSupervisor, ProcessState, RestartPolicy
from tests.support.ffmpeg_fixtures import FakeFfmpeg

pytestmark = [pytest.mark.timeout(30), pytest.mark.usefixtures("no_orphan_ffmpeg")]

LONG = RestartPolicy(initial_backoff_s=8.0, max_backoff_s=8.0, jitter=0.0, grace_s=2.0)


class FarEnd:
    def __init__(self, up: bool) -> None:
        self.up = up
        self.asked = 0

    async def probe(self) -> bool:
        self.asked += 1
        return self.up


async def _first_backoff(supervisor: FfmpegSupervisor) -> None:
    await supervisor.start()
    await supervisor.wait_state(ProcessState.BACKOFF, timeout=10)


async def test_a_far_end_that_comes_back_ends_the_backoff(fake_ffmpeg: FakeFfmpeg) -> None:
    far_end = FarEnd(up=False)
    sup = FfmpegSupervisor(
        "probed", fake_ffmpeg.argv("crash", interval=0.02), policy=LONG, ready_probe=far_end.probe
    )
    try:
        await _first_backoff(sup)
        await asyncio.sleep(1.0)
        assert sup.state is ProcessState.BACKOFF and far_end.asked >= 2
        far_end.up = True
        back = time.monotonic()
        await sup.wait_state(ProcessState.STARTING, timeout=3)
        assert time.monotonic() - back < 1.0, "restarted within a probe interval, not after 8 s"
    finally:
        await sup.aclose()


async def test_a_far_end_up_all_along_keeps_the_backoff(fake_ffmpeg: FakeFfmpeg) -> None:
    far_end = FarEnd(up=True)
    sup = FfmpegSupervisor(
        "refused", fake_ffmpeg.argv("crash", interval=0.02), policy=LONG, ready_probe=far_end.probe
    )
    try:
        await _first_backoff(sup)
        await asyncio.sleep(2.0)
        assert sup.state is ProcessState.BACKOFF, "no early restart for a far end never down"
        assert far_end.asked == 1, "asked once, then left alone for the rest of the backoff"
    finally:
        await sup.aclose()
