"""FfmpegSupervisor: runs one FFmpeg command line and keeps it in its wanted state.

Owns one watch task and, while it runs, one process group (see ``process.py``). The contract,
after datarhei core's: states are explicit (``ProcessState``); "running" starts with the first
``-progress`` block and every block resets the stale watchdog; a process is restarted only while
the wanted state is running, after a capped exponential backoff with jitter that resets after a
healthy run; stop is SIGINT to the group, SIGKILL after ``grace_s``, and exit 255 after our SIGINT
is a clean stop. Every state change is logged at INFO and published as a ``SupervisorEvent``.
Nothing here logs a raw URL: stderr lines and argv pass through a ``LogRedactor``.

An optional ``ready_probe`` (e.g. "does the partner's server accept connections?") cuts a long
backoff short: it is asked every ``PROBE_INTERVAL_S`` while waiting, and once it has said no and
then says yes, the restart happens at once — a partner back after a long outage is reached
again within a second, not after the backoff the outage built up. A far end that was never seen
down (it accepts connections, then refuses the stream) keeps the normal backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from streaming.errors import FfmpegNotFound
from streaming.ffmpeg.policy import ProcessState, RestartPolicy, SupervisorEvent
from streaming.ffmpeg.process import GroupProcess, LineSplitter, read_chunks, spawn_group
from streaming.ffmpeg.progress import Progress, ProgressParser
from streaming.ffmpeg.urls import LogRedactor

__all__ = ["FfmpegSupervisor", "ProcessState", "RestartPolicy", "SupervisorEvent"]

log = logging.getLogger(__name__)

STDERR_LINES = 50
_DRAIN_TIMEOUT_S = 2.0  # after the group is gone, the pipes close at once; this is a backstop
_CLEAN_STOP_CODES = frozenset({0, 255})  # 255: FFmpeg's exit code after SIGINT

PROBE_INTERVAL_S = 0.25  # a refused TCP connect costs microseconds
PROBE_TIMEOUT_S = 1.0
EventListener = Callable[[SupervisorEvent], None]
ReadyProbe = Callable[[], Awaitable[bool]]
ProgressListener = Callable[[Progress], None]
ArgvSource = Sequence[str] | Callable[[], Sequence[str]]


class FfmpegSupervisor:
    """Keeps one FFmpeg command running (or stopped) as wanted. See the module docstring.

    ``argv`` may be a callable, evaluated before every spawn (e.g. a fresh segment name).
    ``log_name`` is the label used in log lines (defaults to ``name``).
    """

    def __init__(
        self,
        name: str,
        argv: ArgvSource,
        *,
        policy: RestartPolicy = RestartPolicy(),  # noqa: B008 (frozen: safe to share)
        on_event: EventListener | None = None,
        log_name: str | None = None,
        ready_probe: ReadyProbe | None = None,
    ) -> None:
        self.name = name
        self.policy = policy
        self._ready_probe = ready_probe
        self._far_end_down = False  # the probe said no since the last (re)start
        self._argv_source = argv
        self._label = log_name or name
        self._event_listeners: list[EventListener] = [on_event] if on_event else []
        self._progress_listeners: list[ProgressListener] = []
        self._rng = random.Random()
        self._lock = asyncio.Lock()  # serializes start/stop so they never interleave
        self._stop_requested = asyncio.Event()
        self._changed = asyncio.Event()  # replaced on every state change (see wait_state)
        self._task: asyncio.Task[None] | None = None
        self._spawned: asyncio.Future[None] | None = None
        self._proc: GroupProcess | None = None
        self._state = ProcessState.IDLE
        self._wanted = False
        self._closed = False
        self._streak = 0  # consecutive failed runs, for backoff and max_restarts
        self._restarts = 0
        self._last_exit_code: int | None = None
        self._last_error: str | None = None
        self._retry_at: float | None = None  # monotonic instant of the next try, in backoff
        self._progress: Progress | None = None
        self._stderr: deque[str] = deque(maxlen=STDERR_LINES)
        self._spawned_at: float | None = None
        self._running_since: float | None = None
        self._last_progress_at = 0.0
        self._redactor = LogRedactor()
        self._first_progress = asyncio.Event()

    # -- observable state ---------------------------------------------------------------------

    @property
    def state(self) -> ProcessState:
        return self._state

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    @property
    def progress(self) -> Progress | None:
        return self._progress

    @property
    def stderr_tail(self) -> list[str]:
        """The last stderr lines, oldest first, with URLs and stream keys masked."""
        return list(self._stderr)

    @property
    def restarts(self) -> int:
        return self._restarts

    @property
    def last_exit_code(self) -> int | None:
        return self._last_exit_code

    @property
    def last_error(self) -> str | None:
        return self._last_error

    @property
    def retry_in_s(self) -> float | None:
        """Seconds until the next attempt while waiting in backoff; None otherwise."""
        at = self._retry_at
        if at is None or self._state is not ProcessState.BACKOFF:
            return None
        return max(0.0, at - time.monotonic())

    @property
    def uptime_s(self) -> float | None:
        """Seconds since the current process reached "running"; None when it is not running."""
        since = self._running_since
        return None if since is None else time.monotonic() - since

    def subscribe(
        self, on_event: EventListener | None = None, on_progress: ProgressListener | None = None
    ) -> Callable[[], None]:
        """Add listeners (called synchronously on the loop); returns an unsubscribe function."""
        if on_event:
            self._event_listeners.append(on_event)
        if on_progress:
            self._progress_listeners.append(on_progress)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                if on_event:
                    self._event_listeners.remove(on_event)
            with contextlib.suppress(ValueError):
                if on_progress:
                    self._progress_listeners.remove(on_progress)

        return unsubscribe

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Want "running"; return once the first process is spawned (or already supervised).

        Raises FfmpegNotFound if the executable cannot be run (state "failed").
        """
        async with self._lock:
            if self._closed:
                raise RuntimeError(f"supervisor {self.name!r} is closed")
            self._wanted = True
            if self._task is not None and not self._task.done():
                return  # already supervising (running, starting or in backoff)
            self._stop_requested.clear()
            self._streak = 0
            spawned = self._spawned = asyncio.get_running_loop().create_future()
            self._task = asyncio.create_task(self._run(), name=f"ffmpeg-supervisor:{self.name}")
            self._task.add_done_callback(self._task_done)
            await asyncio.shield(spawned)

    async def stop(self, timeout: float | None = None) -> None:
        """Want "stopped": SIGINT the group, SIGKILL after grace; return when it is all gone.

        ``timeout`` bounds the whole wait; past it the watch task is cancelled, which kills the
        group at once.
        """
        async with self._lock:
            self._wanted = False
            self._stop_requested.set()
            task = self._task
            if task is None:
                return
            await asyncio.wait({task}, timeout=timeout)
            if not task.done():
                log.warning("ffmpeg %s: stop timed out after %.1f s, killing", self._label, timeout)
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    current = asyncio.current_task()
                    if current is not None and current.cancelling():
                        raise  # our caller is being cancelled, not just the task we cancelled

    async def aclose(self) -> None:
        """Stop for good (idempotent); returns when no process or task of ours is left."""
        self._closed = True
        await self.stop()

    async def wait_state(self, state: ProcessState, timeout: float | None = None) -> None:
        """Wait until the state is ``state``; raises TimeoutError after ``timeout`` seconds."""
        async with asyncio.timeout(timeout):
            while self._state is not state:
                await self._changed.wait()

    # -- the watch task -----------------------------------------------------------------------

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("ffmpeg %s: supervisor task crashed", self._label, exc_info=task.exception())

    def _resolve_spawned(self, exc: BaseException | None = None) -> None:
        fut = self._spawned
        if fut is not None and not fut.done():
            if exc is None:
                fut.set_result(None)
            else:
                fut.set_exception(exc)

    async def _run(self) -> None:
        try:
            while self._wanted:
                try:
                    source = self._argv_source
                    argv = list(source() if callable(source) else source)
                    self._redactor = LogRedactor.from_argv(argv)
                    self._set_state(ProcessState.STARTING, "spawning")
                    self._proc = await spawn_group(argv)
                except FfmpegNotFound as exc:
                    self._last_error = str(exc)
                    self._set_state(ProcessState.FAILED, str(exc))
                    self._resolve_spawned(exc)
                    return
                except OSError as exc:
                    reason = f"spawn failed: {exc}"  # EMFILE/EAGAIN…: worth a retry
                    self._last_exit_code = None
                except Exception as exc:  # a broken argv factory will not heal by retrying
                    self._last_error = f"cannot build command line: {exc!r}"
                    self._set_state(ProcessState.FAILED, self._last_error)
                    self._resolve_spawned()
                    return
                else:
                    log.debug("ffmpeg %s: argv %s", self._label, self._redactor.redact_argv(argv))
                    self._resolve_spawned()
                    reason = await self._supervise(self._proc)
                if not self._wanted:
                    break
                if not await self._after_exit(reason):
                    return
        except Exception as exc:  # a bug in here: show it as "failed", not as a quiet stop
            log.exception("ffmpeg %s: supervisor error", self._label)
            self._last_error = f"supervisor error: {exc!r}"
            self._wanted = False
            self._set_state(ProcessState.FAILED, self._last_error)
        finally:
            await self._cleanup_process()
            if self._state not in (ProcessState.FAILED, ProcessState.STOPPED):
                self._set_state(ProcessState.STOPPED, "stopped")
            self._resolve_spawned()

    async def _after_exit(self, reason: str) -> bool:
        """Decide what follows an unrequested exit; False ends the watch task."""
        code = self._last_exit_code
        if code == 0 and reason == "exited" and not self.policy.restart_on_clean_exit:
            self._wanted = False
            self._set_state(ProcessState.STOPPED, "finished", code)
            return False
        if reason == "exited":
            reason = "exited cleanly" if code == 0 else f"exited with code {code}"
        if code != 0 or reason != "exited cleanly":
            tail = self._stderr[-1] if self._stderr else ""
            self._last_error = f"{reason}: {tail}" if tail else reason
        healthy = self._running_since is not None and (
            time.monotonic() - self._running_since >= self.policy.reset_after_s
        )
        self._running_since = None
        self._streak = 1 if healthy else self._streak + 1
        limit = self.policy.max_restarts
        if limit is not None and self._streak > limit:
            self._wanted = False
            self._set_state(ProcessState.FAILED, f"gave up after {limit} restarts: {reason}", code)
            return False
        delay = self.policy.backoff_s(self._streak, self._rng)
        self._set_state(ProcessState.BACKOFF, f"{reason}; restart in {delay:.2f} s", code)
        await self._backoff(delay)
        if self._wanted:
            self._restarts += 1
        return True

    async def _backoff(self, delay: float) -> None:
        """Wait ``delay`` s, or less: until a stop is requested, or the ready probe sees the
        far end come back."""
        deadline = time.monotonic() + delay
        self._retry_at = deadline
        probing = self._ready_probe is not None
        while (left := deadline - time.monotonic()) > 0:
            step = min(left, PROBE_INTERVAL_S) if probing else left
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_requested.wait(), step)
                return
            if not probing or deadline - time.monotonic() <= 0:
                continue
            if not await self._probe():
                self._far_end_down = True
            elif self._far_end_down:
                self._far_end_down = False
                log.info("ffmpeg %s: the far end is back, restarting now", self._label)
                return
            else:  # reachable but refusing: no reason to knock every half second
                probing = False

    async def _probe(self) -> bool:
        assert self._ready_probe is not None
        try:
            return await asyncio.wait_for(self._ready_probe(), PROBE_TIMEOUT_S)
        except (TimeoutError, OSError):
            return False

    async def _supervise(self, proc: GroupProcess) -> str:
        """Watch one process until it exits, stalls or is stopped; returns why it ended."""
        parser = ProgressParser()
        errors = LineSplitter(self._on_stderr_line)
        self._spawned_at = self._last_progress_at = time.monotonic()
        self._progress = None
        readers = [
            asyncio.create_task(
                read_chunks(proc.process.stdout, lambda b: self._on_stdout(parser, b))
            ),
            asyncio.create_task(read_chunks(proc.process.stderr, errors.feed)),
        ]
        stop_wait = asyncio.create_task(self._stop_requested.wait())
        # Wakes the watchdog when the deadline switches from startup to stale timeout.
        self._first_progress = asyncio.Event()
        first_progress = asyncio.create_task(self._first_progress.wait())
        try:
            while True:
                timeout = self._watchdog_deadline() - time.monotonic()
                if timeout <= 0:
                    reason = "stalled" if self._running_since is not None else "startup timeout"
                    log.warning("ffmpeg %s: %s, killing pid %d", self._label, reason, proc.pid)
                    proc.signal_group(signal.SIGKILL)
                    await proc.wait_exit(None)
                    return reason
                # A finished first_progress must leave the set, or every wait would return at
                # once and the watchdog would spin (regression: 0.4 core per process).
                waiting = {proc.exited, stop_wait}
                if not first_progress.done():
                    waiting.add(first_progress)
                await asyncio.wait(
                    waiting,
                    timeout=timeout,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if proc.exited.done():
                    return "exited"
                if stop_wait.done():
                    await self._terminate(proc)
                    return "stopped"
        finally:
            stop_wait.cancel()
            first_progress.cancel()
            await proc.reap_group()
            self._last_exit_code = proc.returncode
            # The group is gone, so the pipes are at EOF: let the readers take the last lines.
            await asyncio.wait(readers, timeout=_DRAIN_TIMEOUT_S)
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, stop_wait, first_progress, return_exceptions=True)
            errors.flush()
            proc.close()
            self._proc = None

    def _watchdog_deadline(self) -> float:
        if self._running_since is None:
            return (self._spawned_at or 0.0) + self.policy.startup_timeout_s
        return self._last_progress_at + self.policy.stale_timeout_s

    async def _terminate(self, proc: GroupProcess) -> None:
        self._set_state(ProcessState.STOPPING, "stop requested")
        proc.signal_group(signal.SIGINT)
        if not await proc.wait_exit(self.policy.grace_s):
            log.warning(
                "ffmpeg %s: no exit %.1f s after SIGINT, SIGKILL", self._label, self.policy.grace_s
            )
            proc.signal_group(signal.SIGKILL)
            await proc.wait_exit(None)
        code = proc.returncode
        if code not in _CLEAN_STOP_CODES:
            self._last_error = f"stopped uncleanly (exit {code})"

    async def _cleanup_process(self) -> None:
        """Runs on every way out of the watch task, cancellation included: no orphan groups."""
        proc, self._proc = self._proc, None
        self._running_since = None
        if proc is None:
            return
        proc.signal_group(signal.SIGKILL)
        with contextlib.suppress(asyncio.CancelledError):
            # Bounded: being cancelled again here must not leave the group unreaped.
            await asyncio.shield(proc.wait_exit(5.0))
        proc.close()

    # -- callbacks from the readers -----------------------------------------------------------

    def _on_stdout(self, parser: ProgressParser, chunk: bytes) -> None:
        for block in parser.feed(chunk):
            self._progress = block
            self._last_progress_at = time.monotonic()
            if self._state is ProcessState.STARTING:
                self._running_since = self._last_progress_at
                self._first_progress.set()
                self._set_state(ProcessState.RUNNING, "progress")
            for listener in list(self._progress_listeners):
                try:
                    listener(block)
                except Exception:
                    log.exception("ffmpeg %s: progress listener failed", self._label)

    def _on_stderr_line(self, line: str) -> None:
        line = self._redactor.redact(line)
        self._stderr.append(line)
        if "[error]" in line or "[fatal]" in line:
            log.warning("ffmpeg %s: %s", self._label, line)
        else:
            log.debug("ffmpeg %s: %s", self._label, line)

    def _set_state(self, new: ProcessState, reason: str, exit_code: int | None = None) -> None:
        old = self._state
        if old is new:
            return
        self._state = new
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
        level = logging.WARNING if new is ProcessState.FAILED else logging.INFO
        log.log(level, "ffmpeg %s: %s -> %s (%s)", self._label, old, new, reason)
        event = SupervisorEvent(
            self.name, old, new, reason, exit_code, self._restarts, datetime.now(UTC)
        )
        for listener in list(self._event_listeners):
            try:
                listener(event)
            except Exception:
                log.exception("ffmpeg %s: event listener failed", self._label)
