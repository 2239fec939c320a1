"""One-shot FFmpeg jobs: run one argv to completion under an ``FfmpegSupervisor``.

Owns ``run_to_completion`` and its policy (no restarts, clean exit = done). Running a job through
the supervisor (and, when given, the app's ``FfmpegProcesses``) makes it visible in the metrics,
kills its whole process group when it is cancelled or times out, and lets the app's shutdown stop
it: a job never leaves a process behind. Every failure is an ``FfmpegJobFailed``. (Short
commands whose output is the answer, ``ffprobe`` and ``ffmpeg -version``, are in ``tools``.)
"""

from __future__ import annotations

import asyncio
import contextlib

from streaming.errors import FfmpegJobFailed
from streaming.ffmpeg.policy import ProcessState, RestartPolicy, SupervisorEvent
from streaming.ffmpeg.registry import FfmpegProcesses
from streaming.ffmpeg.supervisor import FfmpegSupervisor

ONE_SHOT_POLICY = RestartPolicy(
    max_restarts=0,
    restart_on_clean_exit=False,
    startup_timeout_s=30.0,  # stills print their only progress block at the end
    stale_timeout_s=30.0,
    grace_s=2.0,
)


async def run_to_completion(
    name: str,
    argv: list[str],
    *,
    processes: FfmpegProcesses | None = None,
    timeout: float = 600.0,
) -> None:
    """Run ``argv`` once to completion; raise FfmpegJobFailed unless it exits 0 in time."""
    supervisor = FfmpegSupervisor(name, argv, policy=ONE_SHOT_POLICY)
    done: asyncio.Future[ProcessState] = asyncio.get_running_loop().create_future()

    def on_event(event: SupervisorEvent) -> None:
        if event.new_state in (ProcessState.STOPPED, ProcessState.FAILED) and not done.done():
            done.set_result(event.new_state)

    supervisor.subscribe(on_event)
    if processes is not None:
        try:
            processes.add(supervisor)  # visible in metrics, and killed by the app at shutdown
        except RuntimeError as exc:  # the registry is closed: the service is shutting down
            raise FfmpegJobFailed(f"{name}: not started, {exc}") from None
    try:
        await supervisor.start()
        try:
            state = await asyncio.wait_for(asyncio.shield(done), timeout)
        except TimeoutError:
            raise FfmpegJobFailed(f"{name}: no result after {timeout:.0f} s") from None
        if state is not ProcessState.STOPPED or supervisor.last_exit_code != 0:
            tail = " | ".join(supervisor.stderr_tail[-3:])
            raise FfmpegJobFailed(f"{name} failed (exit {supervisor.last_exit_code}): {tail}")
    finally:
        if processes is not None:
            with contextlib.suppress(Exception):
                await processes.remove(name)
        await supervisor.aclose()
