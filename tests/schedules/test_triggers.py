"""ScheduleTriggers with the real AsyncIOScheduler and the system clock: firing on time, moving
jobs after a change, periodic resync, and a clean shutdown. Each test lasts at most ~3 s."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from schedules.clock import SystemClock
from schedules.domain import OccurrenceState, Phase
from schedules.ports import LoggingSessionRunner, SessionRequest
from schedules.reconciler import Reconciler
from schedules.triggers import ALIAS, ScheduleTriggers
from tests.schedules.builders import view
from tests.schedules.test_reconciler import InMemorySource

pytestmark = pytest.mark.timeout(10)

S = OccurrenceState
TOLERANCE = timedelta(seconds=0.3)


def seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def make(
    *, runner: LoggingSessionRunner | None = None, **options: object
) -> tuple[ScheduleTriggers, InMemorySource, LoggingSessionRunner]:
    clock = SystemClock()
    source = InMemorySource()
    runner = runner if runner is not None else LoggingSessionRunner(clock)
    triggers = ScheduleTriggers(
        Reconciler(source, runner, clock),
        source,
        clock,
        **options,  # type: ignore[arg-type]
    )
    return triggers, source, runner


async def wait_until(predicate: Callable[[], bool], timeout: float = 4.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


def assert_near(actual: datetime, expected: datetime) -> None:
    assert abs(actual - expected) <= TOLERANCE, (actual - expected).total_seconds()


def assert_nothing_left(triggers: ScheduleTriggers) -> None:
    assert not triggers.scheduler.running
    assert triggers.next_run_times() == []
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_starts_and_stops_on_time() -> None:
    triggers, source, runner = make()
    t0 = datetime.now(UTC)
    start, end = t0 + seconds(1.0), t0 + seconds(2.5)
    source.put(view(1, start, end, seminar_id=10))
    await triggers.start()
    try:
        assert triggers.next_run_times() == [start, end]
        await wait_until(lambda: [e.kind for e in runner.events] == ["start", "stop"])
    finally:
        await triggers.aclose()

    started, stopped = runner.events
    assert started.phase is Phase.LIVE
    assert_near(started.at, start)
    assert_near(stopped.at, end)
    assert source.state(1) is S.ENDED
    lags = triggers.trigger_lags
    assert len(lags) == 2
    assert all(timedelta(0) <= lag <= TOLERANCE for lag in lags), lags
    assert_nothing_left(triggers)


async def test_changed_moves_the_jobs() -> None:
    triggers, source, runner = make()
    t0 = datetime.now(UTC)
    source.put(view(1, t0 + seconds(0.5), t0 + seconds(0.9), seminar_id=10))
    await triggers.start()
    try:
        moved_start, moved_end = t0 + seconds(1.2), t0 + seconds(1.5)
        source.put(view(1, moved_start, moved_end, seminar_id=10))
        await triggers.changed()
        assert runner.events == []
        assert triggers.next_run_times() == [moved_start, moved_end]
        await wait_until(lambda: [e.kind for e in runner.events] == ["start", "stop"])
    finally:
        await triggers.aclose()
    started, stopped = runner.events
    assert_near(started.at, moved_start)
    assert_near(stopped.at, moved_end)
    assert started.at > t0 + seconds(1.0)  # nothing happened at the old time


async def test_changed_starts_what_is_due_now_and_aclose_drops_the_rest() -> None:
    triggers, source, runner = make()
    await triggers.start()
    t0 = datetime.now(UTC)
    source.put(view(1, t0 - seconds(1), t0 + seconds(0.4), seminar_id=10))
    await triggers.changed()
    assert runner.phases == {1: Phase.LIVE}
    assert source.state(1) is S.LIVE
    assert triggers.next_run_times() == [t0 + seconds(0.4)]

    await triggers.aclose()
    assert_nothing_left(triggers)
    await asyncio.sleep(0.6)  # past the dropped end trigger
    assert [e.kind for e in runner.events] == ["start"]
    source.put(view(2, t0 - seconds(1), t0 + seconds(60), seminar_id=10, room=2))
    await triggers.changed()  # an edit during shutdown starts nothing
    assert runner.running() == {1}
    await triggers.aclose()  # idempotent


class SlowRunner(LoggingSessionRunner):
    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()

    async def start(self, request: SessionRequest) -> None:
        self.entered.set()
        await asyncio.sleep(0.3)
        await super().start(request)


async def test_aclose_awaits_an_in_flight_reconciliation() -> None:
    runner = SlowRunner()
    triggers, source, _ = make(runner=runner)
    t0 = datetime.now(UTC)
    source.put(view(1, t0 + seconds(0.2), t0 + seconds(5), seminar_id=10))
    await triggers.start()
    await asyncio.wait_for(runner.entered.wait(), 2)
    await triggers.aclose()
    # The start that was under way finished (and was recorded) before aclose returned.
    assert runner.phases == {1: Phase.LIVE}
    assert source.state(1) is S.LIVE
    assert_nothing_left(triggers)


async def test_late_trigger_still_runs_and_its_lag_is_recorded() -> None:
    triggers, source, runner = make()
    t0 = datetime.now(UTC)
    source.put(view(1, t0 + seconds(0.1), t0 + seconds(5), seminar_id=10))
    await triggers.start()
    try:
        time.sleep(0.5)  # noqa: ASYNC251 - block the loop on purpose so the trigger fires late
        await wait_until(lambda: bool(runner.events))
    finally:
        await triggers.aclose()
    (lag,) = triggers.trigger_lags
    assert seconds(0.3) <= lag <= seconds(0.5) + TOLERANCE
    assert runner.events[0].kind == "start"


async def test_periodic_resync_picks_up_what_enters_the_lookahead() -> None:
    triggers, source, _ = make(lookahead=seconds(1.0), resync_interval=seconds(0.25))
    t0 = datetime.now(UTC)
    start = t0 + seconds(1.5)
    source.put(view(1, start, start + seconds(1), seminar_id=10))
    await triggers.start()
    try:
        assert triggers.next_run_times() == []
        await wait_until(lambda: triggers.next_run_times() == [start], timeout=1.5)
    finally:
        await triggers.aclose()


async def test_an_injected_scheduler_is_left_running_without_our_jobs() -> None:
    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.start()
    try:
        triggers, source, _ = make(scheduler=scheduler)
        t0 = datetime.now(UTC)
        source.put(view(1, t0 + seconds(60), t0 + seconds(120), seminar_id=10))
        await triggers.start()
        assert len(scheduler.get_jobs(jobstore=ALIAS)) == 3  # two instants + periodic resync
        await triggers.aclose()
        assert scheduler.running
        assert scheduler.get_jobs() == []
        assert triggers.next_run_times() == []
    finally:
        scheduler.shutdown(wait=False)
        await asyncio.sleep(0)


def test_rejects_a_resync_interval_longer_than_the_lookahead() -> None:
    clock = SystemClock()
    source = InMemorySource()
    reconciler = Reconciler(source, LoggingSessionRunner(clock), clock)
    with pytest.raises(ValueError, match="resync_interval"):
        ScheduleTriggers(
            reconciler, source, clock, lookahead=seconds(60), resync_interval=seconds(120)
        )
