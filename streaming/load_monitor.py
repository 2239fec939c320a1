"""LoadMonitor: measures whether the machine keeps up and applies the shedding policy.

Owns one sampling task: every ``interval_s`` it takes the worst lateness of the event loop's
wake-ups (a probe every ``PROBE_S``) and, from consecutive ``-progress`` blocks, how fast each
running FFmpeg turns out media (Δout_time / Δwall over at least ``SPEED_WINDOW_S``; FFmpeg's
own ``speed`` is an average since its start and hides a slowdown late in a long run). The
slowest encoder and the lag go to :class:`~streaming.shedding.ShedPolicy`; the level is
exported as metrics and logged when it changes, and ``admit_viewer`` is the check the WHEP door
asks before adding a viewer. When the policy reduces or restores the partner profiles,
``on_partner_profiles`` (the live sessions' owner) is called with the new setting, in a task of
its own: restarting encoders must not hold up the sampling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge

from streaming.ffmpeg.policy import ProcessState
from streaming.ffmpeg.registry import FfmpegProcesses
from streaming.shedding import LoadSample, ShedLevel, ShedPolicy
from streaming.webrtc.errors import ViewerLimitReached

log = logging.getLogger(__name__)

SPEED_WINDOW_S = 10.0  # -progress blocks come every 0.5 s: a shorter window is mostly jitter
OVERLOAD_RETRY_AFTER_S = 10
PROBE_S = 0.05  # 20 wake-ups a second: a few microseconds each


class ServiceOverloaded(ViewerLimitReached):
    """New viewers are refused while the machine is overloaded (HTTP 503 + Retry-After)."""

    code = "overloaded"


class LoadMonitor:
    def __init__(
        self,
        processes: FfmpegProcesses,
        viewers: Callable[[], int],
        registry: CollectorRegistry | None = None,
        *,
        policy: ShedPolicy | None = None,
        interval_s: float = 0.5,
        on_partner_profiles: Callable[[bool], Awaitable[None]] | None = None,
    ) -> None:
        self.policy = policy or ShedPolicy()
        self._on_partner_profiles = on_partner_profiles
        self._applied_reduced = False  # what on_partner_profiles was last told
        self._applying: asyncio.Task[None] | None = None
        self._processes = processes
        self._viewers = viewers
        self._interval_s = interval_s
        self._marks: dict[str, tuple[float, float]] = {}  # name → (wall, out_time) window start
        self._speeds: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self.last: LoadSample | None = None
        self._level_gauge = Gauge("knoten_load_shed_level", "Load shedding level: 0 normal, "
                                  "1 new viewers refused, 2 viewer limit lowered, 3 partner "
                                  "profiles reduced", registry=registry)  # fmt: skip
        self._reduced_gauge = Gauge("knoten_partner_profiles_reduced",
                                    "1 while partner-only encoders run a reduced profile",
                                    registry=registry)  # fmt: skip
        self._lag_gauge = Gauge("knoten_event_loop_lag_seconds",
                                "How late the event loop woke up at the last sample",
                                registry=registry)  # fmt: skip
        self._speed_gauge = Gauge("knoten_ffmpeg_min_speed",
                                  "Media per wall second of the slowest running FFmpeg (1 = real "
                                  "time; NaN when none runs)", registry=registry)  # fmt: skip
        self._refused = Counter("knoten_viewers_refused_overload_total",
                                "Viewers refused because the machine was overloaded",
                                registry=registry)  # fmt: skip

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="load-monitor")

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        applying, self._applying = self._applying, None
        if applying is not None:
            # Let a change under way finish: encoders are not left half restarted.
            await asyncio.gather(applying, return_exceptions=True)

    def admit_viewer(self, viewers: int) -> None:
        """ServiceOverloaded unless one more viewer may join now."""
        if self.policy.admits_viewer(viewers):
            return
        self._refused.inc()
        if self.policy.level is ShedLevel.NORMAL:
            why = f"the viewer limit is lowered to {self.policy.viewer_limit} after an overload"
        else:
            why = f"the machine is overloaded ({self.policy.reason})"
        raise ServiceOverloaded(f"no new viewers now: {why}", OVERLOAD_RETRY_AFTER_S)

    def status(self) -> dict[str, object]:
        policy = self.policy
        return {
            "level": policy.level.name.lower(),
            "reason": policy.reason,
            "viewer_limit": policy.viewer_limit,
            "partner_profiles_reduced": policy.partners_reduced,
            "loop_lag_ms": None if self.last is None else round(self.last.loop_lag_s * 1000),
        }

    def page_state(self) -> dict[str, object]:
        """What the live panel shows: only what changes with the level (not every sample)."""
        policy = self.policy
        return {
            "level": policy.level.name.lower(),
            "viewer_limit": policy.viewer_limit,
            "partner_profiles_reduced": policy.partners_reduced,
        }

    def sample_once(self, lag_s: float) -> ShedLevel:
        """One observation (the sampling task's body; tests call it directly)."""
        now = time.monotonic()
        sample = LoadSample(now, lag_s, self._slowest(now))
        before = self.policy.level
        level = self.policy.observe(sample, self._viewers())
        self.last = sample
        if level != before:
            log.warning("load shedding: %s → %s (%s)", before.name.lower(), level.name.lower(),
                        self.policy.reason or "load back to normal")  # fmt: skip
        self._level_gauge.set(int(level))
        self._reduced_gauge.set(int(self.policy.partners_reduced))
        self._apply_partner_profiles()
        self._lag_gauge.set(lag_s)
        self._speed_gauge.set(float("nan") if sample.ffmpeg_speed is None else sample.ffmpeg_speed)
        return level

    def _apply_partner_profiles(self) -> None:
        """Tell the sessions' owner when the policy changed the partner profiles; one change
        at a time, the next sample catches up with whatever changed meanwhile."""
        wanted = self.policy.partners_reduced
        if self._on_partner_profiles is None or wanted == self._applied_reduced:
            return
        if self._applying is not None and not self._applying.done():
            return
        self._applied_reduced = wanted
        log.warning("load shedding: partner profiles %s", "reduced" if wanted else "restored")
        self._applying = asyncio.get_running_loop().create_task(
            self._partner_profiles(wanted), name="shed-partner-profiles"
        )

    async def _partner_profiles(self, reduced: bool) -> None:
        assert self._on_partner_profiles is not None
        try:
            await self._on_partner_profiles(reduced)
        except Exception:
            log.exception("load shedding: changing the partner profiles failed")

    def _slowest(self, now: float) -> float | None:
        running = {s.name: s for s in self._processes if s.state is ProcessState.RUNNING}
        for name in list(self._marks):
            if name not in running:
                self._marks.pop(name, None)
                self._speeds.pop(name, None)
        for name, supervisor in running.items():
            progress = supervisor.progress
            if progress is None or progress.out_time_s is None:
                continue
            mark = self._marks.get(name)
            if mark is None or progress.out_time_s < mark[1]:
                self._marks[name] = (now, progress.out_time_s)  # first sight, or restarted
            elif now - mark[0] >= SPEED_WINDOW_S:
                self._speeds[name] = (progress.out_time_s - mark[1]) / (now - mark[0])
                self._marks[name] = (now, progress.out_time_s)
        return min(self._speeds.values(), default=None)

    async def _run(self) -> None:
        # Short probes, the worst of each interval: a loop busy 80 % of the time is late at
        # nearly every probe window, while one long sleep could land in the gaps.
        loop = asyncio.get_running_loop()
        window, worst = loop.time(), 0.0
        while True:
            started = loop.time()
            await asyncio.sleep(PROBE_S)
            worst = max(worst, loop.time() - started - PROBE_S)
            if loop.time() - window >= self._interval_s:
                self.sample_once(worst)
                window, worst = loop.time(), 0.0
