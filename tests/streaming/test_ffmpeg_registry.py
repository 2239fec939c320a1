"""FfmpegProcesses (the owner of all supervisors) and FfmpegMetrics."""

from __future__ import annotations

import asyncio
import time

import pytest
from prometheus_client import CollectorRegistry

from streaming.ffmpeg.metrics import FfmpegMetrics
from streaming.ffmpeg.registry import FfmpegProcesses
from streaming.ffmpeg.supervisor import FfmpegSupervisor, ProcessState, RestartPolicy
from tests.support.ffmpeg_fixtures import FakeFfmpeg, pid_alive, wait_gone

pytestmark = [pytest.mark.timeout(30), pytest.mark.usefixtures("no_orphan_ffmpeg")]

POLICY = RestartPolicy(initial_backoff_s=0.1, jitter=0.0, grace_s=0.8)


async def test_aclose_stops_everything_concurrently(fake_ffmpeg: FakeFfmpeg) -> None:
    processes = FfmpegProcesses()
    sups = [
        FfmpegSupervisor("a", fake_ffmpeg.argv("ok", interval=0.05), policy=POLICY),
        FfmpegSupervisor("b", fake_ffmpeg.argv("ignore-sigint", interval=0.05), policy=POLICY),
        FfmpegSupervisor(
            "c", fake_ffmpeg.argv("ignore-sigint", interval=0.05, child=True), policy=POLICY
        ),
    ]
    for sup in sups:
        await processes.start(sup)
    await asyncio.gather(*(s.wait_state(ProcessState.RUNNING, timeout=5) for s in sups))
    assert {s.name for s in processes} == {"a", "b", "c"} and len(processes) == 3
    started = time.monotonic()
    await processes.aclose()
    # Two stubborn processes, each with 0.8 s grace: concurrent, not 1.6 s in a row.
    assert time.monotonic() - started < 1.5
    assert all(s.state is ProcessState.STOPPED for s in sups)
    pids = fake_ffmpeg.starts + fake_ffmpeg.children
    assert len(pids) == 4 and wait_gone(pids)
    assert len(processes) == 0
    await processes.aclose()
    with pytest.raises(RuntimeError):
        processes.add(FfmpegSupervisor("late", ["true"]))


async def test_add_get_remove(fake_ffmpeg: FakeFfmpeg) -> None:
    processes = FfmpegProcesses()
    sup = processes.add(FfmpegSupervisor("x", fake_ffmpeg.argv("ok"), policy=POLICY))
    with pytest.raises(ValueError):
        processes.add(FfmpegSupervisor("x", fake_ffmpeg.argv("ok")))
    with pytest.raises(ValueError):
        await processes.start(FfmpegSupervisor("x", fake_ffmpeg.argv("ok")))
    assert processes.get("x") is sup and "x" in processes and processes.get("y") is None
    await processes.start(sup)
    await sup.wait_state(ProcessState.RUNNING, timeout=5)
    await processes.remove("x")
    await processes.remove("x")
    assert sup.state is ProcessState.STOPPED and "x" not in processes
    assert not pid_alive(fake_ffmpeg.starts[0])
    await processes.aclose()


async def test_metrics_follow_state_progress_and_restarts(fake_ffmpeg: FakeFfmpeg) -> None:
    registry = CollectorRegistry()
    metrics = FfmpegMetrics(registry)
    sup = FfmpegSupervisor("m", fake_ffmpeg.argv("crash", interval=0.05, blocks=4), policy=POLICY)
    detach = metrics.observe(sup)

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, {"name": "m", **labels})

    assert value("knoten_ffmpeg_state", state="idle") == 1
    assert value("knoten_ffmpeg_restarts_total") == 0
    await sup.start()
    await sup.wait_state(ProcessState.RUNNING, timeout=5)
    await asyncio.sleep(0.1)
    assert value("knoten_ffmpeg_state", state="running") == 1
    assert value("knoten_ffmpeg_state", state="idle") == 0
    assert value("knoten_ffmpeg_fps") == 30.0
    assert value("knoten_ffmpeg_speed") == 1.0
    assert (value("knoten_ffmpeg_output_bytes_per_second") or 0) >= 100_000  # 800 kbit/s
    while sup.restarts < 1:
        await asyncio.sleep(0.05)
    await sup.wait_state(ProcessState.STARTING, timeout=5)
    assert value("knoten_ffmpeg_restarts_total") == 1
    # The fake drops a frame per progress block; the restarted process counts from 0 again,
    # the counter goes on growing.
    dropped_at_restart = value("knoten_ffmpeg_dropped_frames_total") or 0
    assert dropped_at_restart >= 1
    while sup.restarts < 2:
        assert (value("knoten_ffmpeg_dropped_frames_total") or 0) >= dropped_at_restart
        await asyncio.sleep(0.02)
    assert (value("knoten_ffmpeg_dropped_frames_total") or 0) > dropped_at_restart
    await sup.aclose()
    assert value("knoten_ffmpeg_state", state="stopped") == 1
    assert value("knoten_ffmpeg_fps") == 0
    detach()
    assert value("knoten_ffmpeg_state", state="stopped") is None
    assert value("knoten_ffmpeg_restarts_total") is None
    assert value("knoten_ffmpeg_dropped_frames_total") is None
