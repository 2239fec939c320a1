"""When to reconcile: APScheduler date jobs at every instant where the desired state changes.

:class:`ScheduleTriggers` owns the in-memory APScheduler jobs that wake the
:class:`~schedules.reconciler.Reconciler` at lead-in starts, starts, ends and lead-out ends. It
follows DESIGN §1: the database is the source of truth and the jobs are derived from it — at
start-up, after every change (:meth:`ScheduleTriggers.changed`), after every trigger, and
periodically — and never pickled into a persistent job store. A job does no work itself; it only
starts a reconciliation, so a missed, duplicated or stale job costs at most a no-op run.

How the jobs run: our job store and executor are registered under their own alias, so an injected
scheduler's other stores (which might persist) never see our jobs. The executor is APScheduler's
``DebugExecutor``, which calls the job function directly on the event loop; the function records
the trigger lag and starts the reconciliation as a task in a set this class owns and awaits in
:meth:`aclose`. APScheduler therefore holds no tasks of ours that could outlive shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.debug import DebugExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from schedules.clock import Clock
from schedules.desired import next_trigger_instants
from schedules.ports import OccurrenceSource
from schedules.reconciler import Reconciler

log = logging.getLogger(__name__)

# Alias of our job store and executor inside the scheduler.
ALIAS = "schedules"
INSTANT_JOB_PREFIX = "reconcile-"
PERIODIC_JOB_ID = "schedules-resync"

# A trigger that fires late (event loop busy, laptop suspended) must still run: the reconciliation
# it starts catches up with whatever it missed. Beyond an hour the periodic job catches up instead.
MISFIRE_GRACE = timedelta(hours=1)
LAG_HISTORY = 1000


class ScheduleTriggers:
    """Keeps one APScheduler date job per future instant at which the desired state changes."""

    def __init__(
        self,
        reconciler: Reconciler,
        source: OccurrenceSource,
        clock: Clock,
        *,
        lookahead: timedelta = timedelta(hours=26),
        resync_interval: timedelta = timedelta(minutes=30),
        scheduler: AsyncIOScheduler | None = None,
        drain_timeout: float = 10.0,
        housekeeping: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        if lookahead <= timedelta(0) or resync_interval <= timedelta(0):
            raise ValueError("lookahead and resync_interval must be positive")
        if resync_interval > lookahead:
            # An occurrence could then enter and pass the window between two resyncs unseen.
            raise ValueError("resync_interval must not exceed lookahead")
        self._reconciler = reconciler
        self._source = source
        self._clock = clock
        self._lookahead = lookahead
        self._resync_interval = resync_interval
        self._drain_timeout = drain_timeout
        # Runs at each periodic tick before reconciling (e.g. extending open-ended series).
        self._housekeeping = housekeeping
        self._owns_scheduler = scheduler is None
        self._scheduler = scheduler if scheduler is not None else _new_scheduler()
        self._started_scheduler = False
        self._attached = False  # our job store and executor are registered in the scheduler
        self._started = False
        self._closed = False
        # resync() reads the source (an await) and then edits the jobs; two overlapping runs
        # could apply an older reading after a newer one, so they take turns.
        self._resync_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._lags: deque[timedelta] = deque(maxlen=LAG_HISTORY)

    @property
    def scheduler(self) -> AsyncIOScheduler:
        return self._scheduler

    async def start(self) -> None:
        """Start the scheduler, reconcile once as a boot run, and schedule the coming instants."""
        if self._started:
            raise RuntimeError("ScheduleTriggers.start() called twice")
        if self._closed:
            raise RuntimeError("ScheduleTriggers is closed")
        self._started = True
        self._scheduler.add_jobstore(MemoryJobStore(), alias=ALIAS)
        self._scheduler.add_executor(DebugExecutor(), alias=ALIAS)
        self._attached = True
        if not self._scheduler.running:
            self._scheduler.start()  # binds to the running loop
            self._started_scheduler = True
        try:
            await self._reconciler.reconcile(boot=True)
            await self.resync()
            self._scheduler.add_job(
                self._on_periodic,
                IntervalTrigger(seconds=self._resync_interval.total_seconds(), timezone=UTC),
                id=PERIODIC_JOB_ID,
                name="reconcile and resync schedule triggers",
                **_job_options(),
            )
        except BaseException:
            await self.aclose()
            raise
        log.info(
            "schedule triggers started: %d instants within %s",
            len(self.next_run_times()),
            self._lookahead,
        )

    async def resync(self) -> None:
        """Make the date jobs exactly the future trigger instants within the lookahead."""
        async with self._resync_lock:
            if not self._started or self._closed:
                return
            now = self._clock.now()
            until = now + self._lookahead
            views = await self._source.upcoming(now, until)
            if self._closed:  # closed while we were reading
                return
            wanted = {_job_id(i): i for i in next_trigger_instants(views, now, until)}
            present = {job.id for job in self._scheduler.get_jobs(jobstore=ALIAS)}
            present.discard(PERIODIC_JOB_ID)
            stale = present - wanted.keys()
            missing = wanted.keys() - present
            for job_id in stale:
                self._scheduler.remove_job(job_id, jobstore=ALIAS)
            for job_id in missing:
                instant = wanted[job_id]
                self._scheduler.add_job(
                    self._on_instant,
                    DateTrigger(run_date=instant, timezone=UTC),
                    args=(instant,),
                    id=job_id,
                    name=f"reconcile at {instant.isoformat()}",
                    **_job_options(),
                )
            if stale or missing:
                log.info(
                    "schedule triggers resynced: +%d -%d, %d pending",
                    len(missing),
                    len(stale),
                    len(wanted),
                )

    async def changed(self) -> None:
        """Call after every schedule edit: reconcile now (the edit may be due at once), resync.

        Before start() and after aclose() this does nothing: start() reconciles anyway, and an
        edit arriving during shutdown must not start a session.
        """
        if not self._started or self._closed:
            return
        await self._reconciler.reconcile()
        await self.resync()

    def next_run_times(self) -> list[datetime]:
        """The pending trigger instants (the periodic resync not included), sorted."""
        if not self._started or self._closed:
            return []
        times = [
            job.next_run_time
            for job in self._scheduler.get_jobs(jobstore=ALIAS)
            if job.id != PERIODIC_JOB_ID and job.next_run_time is not None
        ]
        return sorted(t.astimezone(UTC) for t in times)

    @property
    def trigger_lags(self) -> list[timedelta]:
        """Fire time minus scheduled instant of the most recent triggers, oldest first."""
        return list(self._lags)

    async def aclose(self) -> None:
        """Remove our jobs, stop the scheduler if we started it, and await in-flight work."""
        if not self._closed:
            self._closed = True
            self._detach()
            # AsyncIOScheduler.shutdown() takes effect in a loop callback; let it run.
            await asyncio.sleep(0)
        await self._drain()

    def _detach(self) -> None:
        scheduler = self._scheduler
        if self._attached:
            scheduler.remove_all_jobs(jobstore=ALIAS)
        if self._started_scheduler:
            if scheduler.running:
                scheduler.shutdown(wait=False)
        elif self._attached:
            # A scheduler we were given belongs to its owner; only take back what we added to it.
            scheduler.remove_jobstore(ALIAS)
            scheduler.remove_executor(ALIAS)
        self._attached = False

    async def _drain(self) -> None:
        while self._tasks:
            tasks = set(self._tasks)
            try:
                await asyncio.wait(tasks, timeout=self._drain_timeout)
            finally:
                # Cancel, then await: after the timeout, or when aclose() itself is cancelled.
                pending = [task for task in tasks if not task.done()]
                for task in pending:
                    task.cancel()
                if pending:
                    await asyncio.gather(*pending, return_exceptions=True)

    # Job functions. DebugExecutor calls them synchronously on the loop, inside the scheduler's
    # wakeup callback, so they must not block; each only records and hands off to a task.

    def _on_instant(self, instant: datetime) -> None:
        if self._closed:
            return
        self._lags.append(self._clock.now() - instant)
        self._spawn(self._reconcile_and_resync(), f"schedules-trigger-{instant.isoformat()}")

    def _on_periodic(self) -> None:
        if self._closed:
            return
        # Reconciling here too is a cheap safety net: a trigger missed beyond the grace time
        # (suspended host) or a change nobody reported is caught up within one interval.
        self._spawn(self._periodic(), "schedules-periodic-resync")

    async def _periodic(self) -> None:
        if self._housekeeping is not None:
            try:
                await self._housekeeping()
            except Exception:
                log.exception("schedule housekeeping failed")
        await self._reconcile_and_resync()

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reconcile_and_resync(self) -> None:
        try:
            await self._reconciler.reconcile()
        except Exception:
            log.exception("triggered reconciliation failed")
        try:
            await self.resync()
        except Exception:
            log.exception("resync of schedule triggers failed")


_JOB_DEFAULTS: dict[str, Any] = {
    "coalesce": True,
    "misfire_grace_time": int(MISFIRE_GRACE.total_seconds()),
    "max_instances": 1,
}


def _new_scheduler() -> AsyncIOScheduler:
    return AsyncIOScheduler(timezone=UTC, job_defaults=dict(_JOB_DEFAULTS))


def _job_options() -> dict[str, Any]:
    # The defaults are passed on every add_job too, so an injected scheduler's own job defaults
    # cannot change how our jobs misfire or coalesce.
    return {**_JOB_DEFAULTS, "jobstore": ALIAS, "executor": ALIAS, "replace_existing": True}


def _job_id(instant: datetime) -> str:
    return f"{INSTANT_JOB_PREFIX}{instant.astimezone(UTC).isoformat()}"
