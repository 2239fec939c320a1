"""Regression: the watchdog once spun on an already-finished "first progress" future, burning
≈0.4 of a core per supervised process while FFmpeg was healthy (found by bench/supervisor)."""

from __future__ import annotations

import asyncio
import resource

from streaming.ffmpeg.supervisor import FfmpegSupervisor, ProcessState


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def test_healthy_supervision_leaves_the_loop_idle(fake_ffmpeg) -> None:
    supervisor = FfmpegSupervisor("idle-check", fake_ffmpeg.argv("ok", interval=0.2))
    await supervisor.start()
    try:
        await supervisor.wait_state(ProcessState.RUNNING, timeout=10)
        before = _cpu_seconds()
        await asyncio.sleep(1.5)
        used = _cpu_seconds() - before
    finally:
        await supervisor.aclose()
    # CPU seconds, not wall time: a spinning loop uses ~1.5 s here, an idle one a few ms.
    assert used < 0.3, f"supervising one process used {used:.2f} s of CPU in 1.5 s"
