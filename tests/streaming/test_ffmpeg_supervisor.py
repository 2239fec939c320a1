"""FfmpegSupervisor against the fake ffmpeg: restarts, backoff, watchdog, stop, secrets."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from streaming.errors import FfmpegNotFound
from streaming.ffmpeg.supervisor import (
    FfmpegSupervisor,
    ProcessState,
    RestartPolicy,
    SupervisorEvent,
)
from tests.support.ffmpeg_fixtures import FakeFfmpeg, pid_alive, wait_gone

pytestmark = [pytest.mark.timeout(30), pytest.mark.usefixtures("no_orphan_ffmpeg")]

FAST = RestartPolicy(
    initial_backoff_s=0.1,
    max_backoff_s=2.0,
    jitter=0.0,
    stale_timeout_s=5.0,
    grace_s=2.0,
    startup_timeout_s=5.0,
)


def fast(**changes: object) -> RestartPolicy:
    fields = {name: getattr(FAST, name) for name in FAST.__dataclass_fields__}
    return RestartPolicy(**{**fields, **changes})  # type: ignore[arg-type]


async def test_ok_runs_reports_progress_and_stops_cleanly(fake_ffmpeg: FakeFfmpeg) -> None:
    """exit 255 after our SIGINT is a clean stop; no SIGKILL is needed."""
    events: list[SupervisorEvent] = []
    sup = FfmpegSupervisor(
        "ok", fake_ffmpeg.argv("exit255", interval=0.05), policy=FAST, on_event=events.append
    )
    assert sup.state is ProcessState.IDLE
    await sup.start()
    assert sup.pid is not None
    await sup.wait_state(ProcessState.RUNNING, timeout=5)
    assert sup.progress is not None and sup.progress.frame and sup.progress.frame > 0
    assert sup.uptime_s is not None and sup.uptime_s >= 0
    pid = sup.pid
    started = time.monotonic()
    await sup.stop()
    assert time.monotonic() - started < FAST.grace_s  # did not wait for SIGKILL
    assert sup.state is ProcessState.STOPPED
    assert sup.last_exit_code == 255
    assert fake_ffmpeg.exits == {pid: 255}  # the fake exited by itself, on SIGINT
    assert sup.last_error is None and sup.pid is None and sup.uptime_s is None
    assert [e.new_state for e in events] == [
        ProcessState.STARTING,
        ProcessState.RUNNING,
        ProcessState.STOPPING,
        ProcessState.STOPPED,
    ]
    assert all(e.name == "ok" for e in events)


async def test_crash_restarts_with_growing_delay_until_max_restarts(
    fake_ffmpeg: FakeFfmpeg,
) -> None:
    events: list[SupervisorEvent] = []
    policy = fast(max_restarts=3, initial_backoff_s=0.15, multiplier=2.0)
    sup = FfmpegSupervisor(
        "crashy", fake_ffmpeg.argv("crash", interval=0.02), policy=policy, on_event=events.append
    )
    await sup.start()
    await sup.wait_state(ProcessState.FAILED, timeout=15)
    assert len(fake_ffmpeg.starts) == 4  # first run + 3 restarts
    assert sup.restarts == 3
    assert sup.last_exit_code == 1
    assert sup.last_error is not None and "exited with code 1" in sup.last_error
    assert "Connection refused" in sup.last_error  # the last stderr line explains why
    delays = [
        (after.at - before.at).total_seconds()
        for before, after in itertools.pairwise(events)
        if before.new_state is ProcessState.BACKOFF and after.new_state is ProcessState.STARTING
    ]
    assert len(delays) == 3
    assert delays[0] >= 0.14
    assert delays[1] > delays[0] * 1.5
    assert delays[2] > delays[1] * 1.5
    assert events[-1].new_state is ProcessState.FAILED
    assert "gave up after 3 restarts" in events[-1].reason
    await sup.aclose()
    assert sup.state is ProcessState.FAILED


def test_backoff_is_capped_and_jittered() -> None:
    import random

    policy = RestartPolicy(initial_backoff_s=1, max_backoff_s=10, multiplier=3, jitter=0.2)
    rng = random.Random(7)
    for attempt, base in [(1, 1), (2, 3), (3, 9)]:
        for _ in range(50):
            assert base * 0.8 <= policy.backoff_s(attempt, rng) <= base * 1.2
    assert all(policy.backoff_s(9, rng) <= 10 for _ in range(50))
    assert policy.backoff_s(100_000, rng) <= 10  # a week of failures must not overflow


async def test_hang_is_detected_as_stale_and_restarted(fake_ffmpeg: FakeFfmpeg) -> None:
    events: list[SupervisorEvent] = []
    sup = FfmpegSupervisor(
        "hung",
        fake_ffmpeg.argv("hang", interval=0.05),
        policy=fast(stale_timeout_s=0.5),
        on_event=events.append,
    )
    await sup.start()
    await sup.wait_state(ProcessState.BACKOFF, timeout=5)
    assert "stalled" in events[-1].reason
    await sup.wait_state(ProcessState.RUNNING, timeout=5)
    assert sup.restarts == 1 and len(fake_ffmpeg.starts) == 2
    await sup.aclose()
    assert not any(pid_alive(pid) for pid in fake_ffmpeg.starts)


async def test_no_first_progress_is_a_startup_timeout(fake_ffmpeg: FakeFfmpeg) -> None:
    events: list[SupervisorEvent] = []
    sup = FfmpegSupervisor(
        "mute",
        fake_ffmpeg.argv("silent"),
        policy=fast(startup_timeout_s=0.4, max_restarts=1),
        on_event=events.append,
    )
    await sup.start()
    await sup.wait_state(ProcessState.FAILED, timeout=5)
    assert [e.reason for e in events if e.new_state is ProcessState.BACKOFF] == [
        "startup timeout; restart in 0.10 s"
    ]
    assert len(fake_ffmpeg.starts) == 2


async def test_ignore_sigint_is_killed_after_grace_with_its_child(fake_ffmpeg: FakeFfmpeg) -> None:
    policy = fast(grace_s=0.6)
    sup = FfmpegSupervisor(
        "stubborn", fake_ffmpeg.argv("ignore-sigint", interval=0.05, child=True), policy=policy
    )
    await sup.start()
    await sup.wait_state(ProcessState.RUNNING, timeout=5)
    (child,) = fake_ffmpeg.children
    (leader,) = fake_ffmpeg.starts
    assert pid_alive(child)
    started = time.monotonic()
    await sup.stop()
    elapsed = time.monotonic() - started
    assert policy.grace_s - 0.05 <= elapsed < policy.grace_s + 1.5
    assert sup.state is ProcessState.STOPPED
    assert sup.last_exit_code == -9
    assert sup.last_error == "stopped uncleanly (exit -9)"
    assert not pid_alive(leader)
    assert wait_gone([child])


async def test_orphaned_child_is_reaped_when_the_leader_crashes(fake_ffmpeg: FakeFfmpeg) -> None:
    """The sleeping child keeps the pipes open; the group must still be reaped after exit."""
    sup = FfmpegSupervisor(
        "orphans",
        fake_ffmpeg.argv("crash", interval=0.02, child=True),
        policy=fast(max_restarts=0),
    )
    await sup.start()
    await sup.wait_state(ProcessState.FAILED, timeout=5)
    assert len(fake_ffmpeg.children) == 1
    assert wait_gone(fake_ffmpeg.children)


async def test_stop_timeout_cancels_and_kills_at_once(fake_ffmpeg: FakeFfmpeg) -> None:
    sup = FfmpegSupervisor(
        "slow", fake_ffmpeg.argv("ignore-sigint", interval=0.05), policy=fast(grace_s=20)
    )
    await sup.start()
    await sup.wait_state(ProcessState.RUNNING, timeout=5)
    started = time.monotonic()
    await sup.stop(timeout=0.3)
    assert time.monotonic() - started < 2
    assert sup.state is ProcessState.STOPPED
    assert not pid_alive(fake_ffmpeg.starts[0])


async def test_cancelling_the_caller_of_stop_is_not_swallowed(fake_ffmpeg: FakeFfmpeg) -> None:
    sup = FfmpegSupervisor(
        "cancel", fake_ffmpeg.argv("ignore-sigint", interval=0.05), policy=fast(grace_s=0.5)
    )
    await sup.start()
    await sup.wait_state(ProcessState.RUNNING, timeout=5)
    stopper = asyncio.create_task(sup.stop())
    await asyncio.sleep(0.1)
    stopper.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopper
    # The wanted state is already "stopped": the process goes away regardless.
    await sup.wait_state(ProcessState.STOPPED, timeout=5)
    await sup.aclose()
    assert not pid_alive(fake_ffmpeg.starts[0])


async def test_no_restart_once_stopped(fake_ffmpeg: FakeFfmpeg) -> None:
    sup = FfmpegSupervisor("once", fake_ffmpeg.argv("ok", interval=0.05), policy=FAST)
    await sup.start()
    await sup.wait_state(ProcessState.RUNNING, timeout=5)
    await sup.stop()
    await asyncio.sleep(FAST.initial_backoff_s * 4)
    assert len(fake_ffmpeg.starts) == 1
    assert sup.state is ProcessState.STOPPED and sup.restarts == 0


async def test_stop_during_backoff_cancels_the_restart(fake_ffmpeg: FakeFfmpeg) -> None:
    sup = FfmpegSupervisor(
        "patient", fake_ffmpeg.argv("crash", interval=0.02), policy=fast(initial_backoff_s=5)
    )
    await sup.start()
    await sup.wait_state(ProcessState.BACKOFF, timeout=5)
    started = time.monotonic()
    await sup.stop()
    assert time.monotonic() - started < 1
    assert sup.state is ProcessState.STOPPED
    assert len(fake_ffmpeg.starts) == 1 and sup.restarts == 0


async def test_one_shot_job_finishes_as_stopped(fake_ffmpeg: FakeFfmpeg) -> None:
    events: list[SupervisorEvent] = []
    sup = FfmpegSupervisor(
        "job",
        fake_ffmpeg.argv("finish", interval=0.02),
        policy=fast(restart_on_clean_exit=False),
        on_event=events.append,
    )
    await sup.start()
    await sup.wait_state(ProcessState.STOPPED, timeout=5)
    assert events[-1].reason == "finished" and events[-1].exit_code == 0
    assert sup.progress is not None and sup.progress.ended
    assert sup.last_error is None and len(fake_ffmpeg.starts) == 1


async def test_live_output_restarts_after_clean_exit(fake_ffmpeg: FakeFfmpeg) -> None:
    sup = FfmpegSupervisor("live", fake_ffmpeg.argv("finish", interval=0.02), policy=FAST)
    await sup.start()
    while len(fake_ffmpeg.starts) < 2:
        await asyncio.sleep(0.05)
    await sup.aclose()
    assert sup.restarts >= 1
    assert sup.last_error is None


async def test_stderr_ring_buffer_keeps_last_lines_masked(fake_ffmpeg: FakeFfmpeg) -> None:
    push = "rtmp://partner.example/live/SECRETKEY"
    srt = "srt://p.example:9000?streamid=room&passphrase=VERYSECRET"
    sup = FfmpegSupervisor(
        "spammy", fake_ffmpeg.argv("spam", push, srt, blocks=120, interval=0.05), policy=FAST
    )
    await sup.start()
    await sup.wait_state(ProcessState.RUNNING, timeout=5)
    await sup.stop()
    tail = sup.stderr_tail
    assert len(tail) == 50
    assert tail[-2] == "[info] line 119"  # then the SIGINT exit message
    assert tail[-1] == "[info] Exiting normally, received signal 2."
    sup2 = FfmpegSupervisor(
        "secret", fake_ffmpeg.argv("crash", push, srt, interval=0.02), policy=fast(max_restarts=0)
    )
    await sup2.start()
    await sup2.wait_state(ProcessState.FAILED, timeout=5)
    text = "\n".join(sup2.stderr_tail)
    assert "rtmp://partner.example/live/****" in text
    assert "passphrase=****" in text
    assert "SECRETKEY" not in text and "VERYSECRET" not in text


async def test_argv_factory_is_called_for_every_spawn(fake_ffmpeg: FakeFfmpeg) -> None:
    calls: list[int] = []

    def argv() -> list[str]:
        calls.append(len(calls))
        return fake_ffmpeg.argv("crash", interval=0.02)

    sup = FfmpegSupervisor("factory", argv, policy=fast(max_restarts=2))
    await sup.start()
    await sup.wait_state(ProcessState.FAILED, timeout=10)
    assert calls == [0, 1, 2]


async def test_broken_argv_factory_fails() -> None:
    def argv() -> list[str]:
        raise KeyError("no such room")

    sup = FfmpegSupervisor("broken", argv, policy=FAST)
    await sup.start()
    assert sup.state is ProcessState.FAILED
    assert sup.last_error is not None and "no such room" in sup.last_error


async def test_missing_executable_raises_and_fails(tmp_path: object) -> None:
    sup = FfmpegSupervisor("missing", ["/nonexistent/ffmpeg", "-version"], policy=FAST)
    with pytest.raises(FfmpegNotFound):
        await sup.start()
    assert sup.state is ProcessState.FAILED


async def test_lifecycle_is_idempotent(fake_ffmpeg: FakeFfmpeg) -> None:
    sup = FfmpegSupervisor("idem", fake_ffmpeg.argv("ok", interval=0.05), policy=FAST)
    await sup.stop()  # never started: nothing to do
    assert sup.state is ProcessState.IDLE
    await sup.start()
    await sup.start()  # already supervised
    await sup.wait_state(ProcessState.RUNNING, timeout=5)
    assert len(fake_ffmpeg.starts) == 1
    await sup.stop()
    await sup.start()  # a stopped supervisor can be started again
    await sup.wait_state(ProcessState.RUNNING, timeout=5)
    assert len(fake_ffmpeg.starts) == 2
    await sup.aclose()
    await sup.aclose()
    with pytest.raises(RuntimeError):
        await sup.start()
    with pytest.raises(TimeoutError):
        await sup.wait_state(ProcessState.RUNNING, timeout=0.05)


async def test_broken_listener_does_not_break_supervision(fake_ffmpeg: FakeFfmpeg) -> None:
    def explode(event: SupervisorEvent) -> None:
        raise RuntimeError("listener bug")

    sup = FfmpegSupervisor(
        "robust", fake_ffmpeg.argv("ok", interval=0.05), policy=FAST, on_event=explode
    )
    unsubscribe = sup.subscribe(on_progress=lambda p: 1 / 0)
    await sup.start()
    await sup.wait_state(ProcessState.RUNNING, timeout=5)
    unsubscribe()
    await sup.aclose()
    assert sup.state is ProcessState.STOPPED
