"""Reconciler: carrying out the desired-state plan against a runner and a source, without sleeping.

Also home of :class:`InMemorySource`, the in-memory :class:`OccurrenceSource` the trigger tests
reuse.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from schedules.clock import FakeClock
from schedules.desired import Action, MarkEnded, MarkMissed, Start, Stop
from schedules.domain import OccurrenceState, OccurrenceView, Phase
from schedules.ports import LoggingSessionRunner, SessionInfo, SessionRequest
from schedules.reconciler import Reconciler
from tests.schedules.builders import t, view

pytestmark = pytest.mark.timeout(10)

S = OccurrenceState

# 10:00–11:00 with 15 min lead-in and 10 min lead-out: lead-in 09:45, live 10:00–11:10.
SEMINAR = view(1, "10:00", "11:00", lead_in=15, lead_out=10, seminar_id=10, room=1)


class InMemorySource:
    """An :class:`OccurrenceSource` over a dict, filtering the way the SQL store is specified to."""

    MARGIN = timedelta(minutes=1)

    def __init__(self, *views: OccurrenceView) -> None:
        self.views: dict[int, OccurrenceView] = {}
        self.infos: dict[int, SessionInfo] = {}
        self.marks: list[tuple[int, OccurrenceState, str, datetime]] = []
        self.fail_marks: set[OccurrenceState] = set()
        for v in views:
            self.put(v)

    def put(self, occurrence: OccurrenceView, info: SessionInfo | None = None) -> None:
        assert isinstance(occurrence.id, int)
        self.views[occurrence.id] = occurrence
        self.infos[occurrence.id] = info if info is not None else SessionInfo()

    def state(self, occurrence_id: int) -> OccurrenceState:
        return self.views[occurrence_id].state

    async def reconcile_candidates(self, now: datetime) -> list[tuple[OccurrenceView, SessionInfo]]:
        await asyncio.sleep(0)  # a real store awaits I/O here; lets concurrent callers interleave
        return [
            (v, self.infos[int(v.id)])
            for v in self.views.values()
            if not v.state.is_terminal
            and (v.blocked_start <= now + self.MARGIN or v.state is S.LIVE or v.end_utc <= now)
        ]

    async def upcoming(self, now: datetime, until: datetime) -> list[OccurrenceView]:
        await asyncio.sleep(0)
        return [
            v
            for v in self.views.values()
            if not v.state.is_terminal
            and any(
                now < instant <= until
                for instant in (v.blocked_start, v.start_utc, v.end_utc, v.blocked_end)
            )
        ]

    async def mark(
        self, occurrence_id: int, state: OccurrenceState, reason: str, at: datetime
    ) -> None:
        await asyncio.sleep(0)
        if state in self.fail_marks:
            raise ConnectionError("database is gone")
        current = self.views[occurrence_id]
        actual_start = current.actual_start_utc
        if state is S.LIVE and actual_start is None:
            actual_start = at
        self.views[occurrence_id] = replace(current, state=state, actual_start_utc=actual_start)
        self.marks.append((occurrence_id, state, reason, at))


class FlakyRunner(LoggingSessionRunner):
    """Fails to start the given occurrences; with ``half_start`` it registers them first."""

    def __init__(self, failing: set[int], *, half_start: bool = False, clock: FakeClock) -> None:
        super().__init__(clock)
        self.failing = failing
        self.half_start = half_start
        self.fail_stop = False

    async def start(self, request: SessionRequest) -> None:
        if request.occurrence_id in self.failing:
            if self.half_start:
                self.phases[request.occurrence_id] = request.phase
            raise RuntimeError("camera not found")
        await super().start(request)

    async def stop(self, occurrence_id: int, reason: str) -> None:
        if self.fail_stop:
            raise RuntimeError("stop failed")
        await super().stop(occurrence_id, reason)


def summary(actions: list[Action]) -> list[tuple[str, object, Phase | None]]:
    """Actions without their reason texts, which belong to desired.plan and may be reworded."""
    return [(type(a).__name__, a.occurrence_id, getattr(a, "phase", None)) for a in actions]


def make(
    *views: OccurrenceView, now: str = "09:00"
) -> tuple[Reconciler, InMemorySource, LoggingSessionRunner, FakeClock]:
    clock = FakeClock(t(now))
    source = InMemorySource(*views)
    runner = LoggingSessionRunner(clock)
    return Reconciler(source, runner, clock), source, runner, clock


# One seminar's day, reconciled at each instant in turn:
# (time, actions, runner phase, stored state).
TIMELINE: list[
    tuple[str, list[tuple[str, object, Phase | None]], Phase | None, OccurrenceState]
] = [
    ("09:00", [], None, S.SCHEDULED),
    ("09:44", [], None, S.SCHEDULED),
    ("09:45", [("Start", 1, Phase.LEAD_IN)], Phase.LEAD_IN, S.SCHEDULED),
    ("09:59", [], Phase.LEAD_IN, S.SCHEDULED),
    ("10:00", [("Start", 1, Phase.LIVE)], Phase.LIVE, S.LIVE),
    ("10:30", [], Phase.LIVE, S.LIVE),
    ("11:00", [], Phase.LIVE, S.LIVE),  # end reached: lead-out keeps it running
    ("11:09", [], Phase.LIVE, S.LIVE),
    ("11:10", [("Stop", 1, None), ("MarkEnded", 1, None)], None, S.ENDED),
    ("12:00", [], None, S.ENDED),
]


async def test_timeline_of_one_seminar() -> None:
    reconciler, source, runner, clock = make(SEMINAR)
    for now, expected, phase, state in TIMELINE:
        clock.set(t(now))
        actions = await reconciler.reconcile()
        assert summary(actions) == expected, now
        assert runner.phases.get(1) is phase, now
        assert source.state(1) is state, now
    assert [(e.kind, e.phase, e.at) for e in runner.events] == [
        ("start", Phase.LEAD_IN, t("09:45")),
        ("phase", Phase.LIVE, t("10:00")),
        ("stop", None, t("11:10")),
    ]
    assert [(oid, state, at) for oid, state, _, at in source.marks] == [
        (1, S.LIVE, t("10:00")),
        (1, S.ENDED, t("11:10")),
    ]
    assert source.views[1].actual_start_utc == t("10:00")


@pytest.mark.parametrize(
    ("occurrence", "now", "expected", "phase", "state"),
    [
        # Down during the whole window, never went live: missed, nothing started.
        (SEMINAR, "11:30", [("MarkMissed", 1, None)], None, S.MISSED),
        # Down until the lead-out: a never-started one is not started just for its lead-out.
        (SEMINAR, "11:05", [("MarkMissed", 1, None)], None, S.MISSED),
        # Back up inside the lead-in or the seminar: started at once in the right phase.
        (SEMINAR, "09:50", [("Start", 1, Phase.LEAD_IN)], Phase.LEAD_IN, S.SCHEDULED),
        (SEMINAR, "10:30", [("Start", 1, Phase.LIVE)], Phase.LIVE, S.LIVE),
        # It was live when the service went down: resumed through the lead-out, then ended.
        (replace(SEMINAR, state=S.LIVE), "11:05", [("Start", 1, Phase.LIVE)], Phase.LIVE, S.LIVE),
        (replace(SEMINAR, state=S.LIVE), "11:30", [("MarkEnded", 1, None)], None, S.ENDED),
        # Staff started it early, then the service restarted.
        (
            replace(SEMINAR, actual_start_utc=t("09:00")),
            "09:10",
            [("Start", 1, Phase.LIVE)],
            Phase.LIVE,
            S.LIVE,
        ),
        # Nothing due yet.
        (SEMINAR, "09:00", [], None, S.SCHEDULED),
    ],
)
async def test_boot(
    occurrence: OccurrenceView,
    now: str,
    expected: list[tuple[str, object, Phase | None]],
    phase: Phase | None,
    state: OccurrenceState,
) -> None:
    reconciler, source, runner, _ = make(occurrence, now=now)
    actions = await reconciler.reconcile(boot=True)
    assert summary(actions) == expected
    assert runner.phases.get(1) is phase
    assert source.state(1) is state
    assert await reconciler.reconcile() == []


async def test_boot_reasons_say_what_happened() -> None:
    reconciler, *_ = make(SEMINAR, now="11:30")
    assert await reconciler.reconcile(boot=True) == [
        MarkMissed(1, "passed while the service was down")
    ]


async def test_session_request_carries_the_seminar() -> None:
    reconciler, source, runner, _ = make(now="10:00")
    source.put(SEMINAR, SessionInfo(record=True, partner_ids=(3, 5)))
    await reconciler.reconcile()
    assert runner.requests[1] == SessionRequest(
        occurrence_id=1,
        seminar_id=10,
        room_id=1,
        title="seminar 1",
        phase=Phase.LIVE,
        start_utc=t("10:00"),
        end_utc=t("11:00"),
        record=True,
        partner_ids=(3, 5),
    )


@pytest.mark.parametrize("half_start", [False, True])
async def test_failed_start_marks_only_that_one_failed(half_start: bool) -> None:
    other = view(2, "10:00", "11:00", seminar_id=11, room=2)
    clock = FakeClock(t("10:00"))
    source = InMemorySource(SEMINAR, other)
    runner = FlakyRunner({1}, half_start=half_start, clock=clock)
    reconciler = Reconciler(source, runner, clock)

    actions = await reconciler.reconcile()

    assert summary(actions) == [("Start", 2, Phase.LIVE)]
    assert source.state(1) is S.FAILED
    assert source.state(2) is S.LIVE
    failed = [m for m in source.marks if m[1] is S.FAILED]
    assert [(oid, "camera not found" in reason) for oid, _, reason, _ in failed] == [(1, True)]
    # A half-started session must not keep holding the room.
    assert runner.running() == {2}
    # FAILED is terminal: the next trigger does not retry it.
    assert await reconciler.reconcile() == []


async def test_failed_live_mark_is_retried_next_time() -> None:
    reconciler, source, runner, _ = make(SEMINAR, now="10:00")
    source.fail_marks = {S.LIVE}
    assert await reconciler.reconcile() == []
    assert runner.phases == {1: Phase.LIVE}  # the session runs; only the mark is missing
    source.fail_marks = set()
    assert summary(await reconciler.reconcile()) == [("Start", 1, Phase.LIVE)]
    assert source.state(1) is S.LIVE
    assert [e.kind for e in runner.events] == ["start"]  # the repeated start changed nothing


async def test_failed_stop_does_not_block_the_rest_and_is_retried() -> None:
    clock = FakeClock(t("11:10"))
    source = InMemorySource(replace(SEMINAR, state=S.LIVE))
    runner = FlakyRunner(set(), clock=clock)
    runner.phases[1] = Phase.LIVE
    reconciler = Reconciler(source, runner, clock)
    runner.fail_stop = True
    assert summary(await reconciler.reconcile()) == [("MarkEnded", 1, None)]
    runner.fail_stop = False
    assert summary(await reconciler.reconcile()) == [("Stop", 1, None)]
    assert runner.running() == set()


async def test_running_but_unknown_to_the_source_is_stopped() -> None:
    reconciler, _, runner, _ = make(now="10:00")
    runner.phases[99] = Phase.LIVE
    assert await reconciler.reconcile() == [Stop(99, "no such occurrence scheduled")]
    assert runner.running() == set()


async def test_cancelled_while_running_is_stopped() -> None:
    reconciler, source, runner, _ = make(SEMINAR, now="10:00")
    await reconciler.reconcile()
    source.put(replace(source.views[1], state=S.CANCELLED))
    assert summary(await reconciler.reconcile()) == [("Stop", 1, None)]
    assert runner.running() == set()


async def test_second_call_does_nothing() -> None:
    reconciler, source, runner, _ = make(
        SEMINAR, view(2, "09:30", "09:50", seminar_id=11, room=2), now="10:00"
    )
    first = await reconciler.reconcile()
    assert summary(first) == [("MarkMissed", 2, None), ("Start", 1, Phase.LIVE)]
    events, marks = list(runner.events), list(source.marks)
    assert await reconciler.reconcile() == []
    assert runner.events == events
    assert source.marks == marks


async def test_concurrent_calls_serialize() -> None:
    reconciler, source, runner, _ = make(
        SEMINAR, view(2, "09:30", "09:50", seminar_id=11, room=2), now="10:00"
    )
    first, second = await asyncio.gather(reconciler.reconcile(), reconciler.reconcile())
    assert sorted(summary(first + second), key=str) == sorted(
        [("MarkMissed", 2, None), ("Start", 1, Phase.LIVE)], key=str
    )
    assert [(oid, state) for oid, state, _, _ in source.marks] == [(2, S.MISSED), (1, S.LIVE)]
    assert [(e.kind, e.occurrence_id) for e in runner.events] == [("start", 1)]


async def test_back_to_back_bookings_in_one_room_hand_over() -> None:
    """The first is stopped before the next starts in the same room (touching windows)."""
    reconciler, _, runner, _ = make(
        replace(SEMINAR, state=S.LIVE, lead_out=timedelta(0)),
        view(2, "11:15", "12:00", lead_in=15, seminar_id=11, room=1),
        now="11:00",
    )
    runner.phases[1] = Phase.LIVE
    actions = await reconciler.reconcile()
    assert actions == [
        Stop(1, "not active (live)"),
        MarkEnded(1, "window closed"),
        Start(2, Phase.LEAD_IN, "window open"),
    ]
    assert [(e.kind, e.occurrence_id) for e in runner.events] == [("stop", 1), ("start", 2)]
