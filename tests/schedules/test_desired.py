"""Desired state, reconciliation plans (at boot and at runtime), triggers and manual control."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schedules.conflicts import find_conflicts
from schedules.desired import (
    Action,
    MarkEnded,
    MarkMissed,
    Start,
    Stop,
    desired_phase,
    extend,
    next_trigger_instants,
    plan,
    start_early,
    stop_early,
    what_should_be_live,
)
from schedules.domain import OccurrenceId, OccurrenceState, OccurrenceView, Phase
from schedules.errors import InvalidOccurrenceState, ScheduleValidationError
from tests.schedules.builders import t, view

S = OccurrenceState

# 10:00–12:00 with 15 min lead-in and 10 min lead-out: active 09:45–12:10 once live.
SEMINAR = view(1, "10:00", "12:00", lead_in=15, lead_out=10)
LIVE = replace(SEMINAR, state=S.LIVE)


@pytest.mark.parametrize(
    ("occurrence", "now", "active", "phase"),
    [
        (SEMINAR, "09:44", False, None),
        (SEMINAR, "09:45", True, Phase.LEAD_IN),
        (SEMINAR, "09:59", True, Phase.LEAD_IN),
        (SEMINAR, "10:00", True, Phase.LIVE),
        (SEMINAR, "11:59", True, Phase.LIVE),
        (SEMINAR, "12:00", False, None),  # never went live: no start just for the lead-out
        (LIVE, "12:00", True, Phase.LIVE),
        (LIVE, "12:09", True, Phase.LIVE),
        (LIVE, "12:10", False, None),
        (replace(SEMINAR, actual_start_utc=t("09:00")), "09:00", True, Phase.LIVE),  # early start
        (replace(SEMINAR, actual_start_utc=t("09:00")), "08:59", False, None),
        (replace(SEMINAR, state=S.ENDED), "10:30", False, None),  # stopped early
        (replace(SEMINAR, state=S.CANCELLED), "10:30", False, None),
        (replace(SEMINAR, state=S.MISSED), "10:30", False, None),
        (replace(SEMINAR, state=S.FAILED), "10:30", False, None),
    ],
)
def test_what_should_be_live(
    occurrence: OccurrenceView, now: str, active: bool, phase: Phase | None
) -> None:
    assert what_should_be_live([occurrence], t(now)) == ({occurrence.id} if active else set())
    if phase is not None:
        assert desired_phase(occurrence, t(now)) is phase


@pytest.mark.parametrize(
    ("occurrence", "running", "now", "expected"),
    [
        # Boot: whatever was running died with the old process.
        (SEMINAR, False, "09:00", []),
        (SEMINAR, False, "09:50", [Start(1, Phase.LEAD_IN)]),
        (SEMINAR, False, "11:00", [Start(1, Phase.LIVE)]),  # open window: start at once
        (LIVE, False, "11:00", [Start(1, Phase.LIVE)]),  # crashed while live: resume
        (LIVE, False, "12:05", [Start(1, Phase.LIVE)]),  # still in its lead-out
        (SEMINAR, False, "12:05", [MarkMissed(1)]),
        (SEMINAR, False, "13:00", [MarkMissed(1)]),  # whole window passed while down
        (LIVE, False, "13:00", [MarkEnded(1)]),
        (replace(SEMINAR, state=S.CANCELLED), False, "11:00", []),
        # Runtime.
        (SEMINAR, True, "09:50", []),
        (SEMINAR, True, "10:00", [Start(1, Phase.LIVE)]),  # lead-in over: go live
        (LIVE, True, "11:00", []),
        (LIVE, True, "12:10", [Stop(1), MarkEnded(1)]),
        (SEMINAR, True, "12:00", [Stop(1), MarkEnded(1)]),
        (replace(SEMINAR, state=S.CANCELLED), True, "09:50", [Stop(1)]),
        (replace(LIVE, state=S.ENDED), True, "11:00", [Stop(1)]),  # stopped by staff
        (replace(LIVE, state=S.FAILED), True, "11:00", [Stop(1)]),
    ],
)
@pytest.mark.parametrize("at_boot", [True, False])
def test_plan(
    occurrence: OccurrenceView, running: bool, now: str, expected: list[Action], at_boot: bool
) -> None:
    actions = plan([occurrence], {1} if running else set(), t(now), started_at_boot=at_boot)
    assert [_without_reason(a) for a in actions] == expected


def test_plan_reasons_say_what_happened_at_boot() -> None:
    (late,) = plan([SEMINAR], set(), t("11:00"), started_at_boot=True)
    assert isinstance(late, Start) and "late" in late.reason
    (missed,) = plan([SEMINAR], set(), t("13:00"), started_at_boot=True)
    assert isinstance(missed, MarkMissed) and "down" in missed.reason


def test_plan_stops_unknown_sessions_and_stops_before_it_starts() -> None:
    # Touching windows in one room: the first must release the room before the second starts.
    first = view("a", "08:00", "09:50", state=S.LIVE, lead_out=10)
    second = view("b", "10:15", "11:00", lead_in=15)
    actions = plan([second, first], {"a", "ghost"}, t("10:00"))
    assert [_without_reason(a) for a in actions] == [
        Stop("a"),
        Stop("ghost"),
        MarkEnded("a"),
        Start("b", Phase.LEAD_IN),
    ]


def _without_reason(action: Action) -> Action:
    return replace(action, reason="")


def _carry_out(
    actions: list[Action],
    occurrences: list[OccurrenceView],
    running: set[OccurrenceId],
    now: datetime,
) -> list[OccurrenceView]:
    """What the controller does with a plan, reduced to states and the running set."""
    states = {o.id: o for o in occurrences}
    for action in actions:
        oid = action.occurrence_id
        if isinstance(action, Stop):
            running.discard(oid)
        elif isinstance(action, Start):
            running.add(oid)
            if action.phase is Phase.LIVE:
                states[oid] = replace(states[oid], state=S.LIVE)
        elif isinstance(action, MarkEnded):
            states[oid] = replace(states[oid], state=S.ENDED)
        else:
            states[oid] = replace(states[oid], state=S.MISSED)
    return list(states.values())


occurrence_strategy = st.builds(
    lambda i, start, minutes, lead_in, lead_out, state: view(
        i,
        t("08:00") + timedelta(minutes=5 * start),
        t("08:00") + timedelta(minutes=5 * start + minutes),
        lead_in=lead_in,
        lead_out=lead_out,
        state=state,
    ),
    st.integers(),
    st.integers(0, 60),
    st.integers(5, 240),
    st.sampled_from((0, 5, 60)),
    st.sampled_from((0, 10, 30)),
    st.sampled_from(list(S)),
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(occurrence_strategy, max_size=8, unique_by=lambda o: o.id),
    st.integers(0, 8 * 60),
    st.booleans(),
)
def test_plan_reaches_a_fixed_point_in_one_step(
    occurrences: list[OccurrenceView], minute: int, at_boot: bool
) -> None:
    now = t("07:00") + timedelta(minutes=minute)
    running = {o.id for o in occurrences[::2]} if not at_boot else set()
    first = plan(occurrences, running, now, started_at_boot=at_boot)
    after = _carry_out(first, occurrences, running, now)
    assert plan(after, running, now) == []
    assert running == what_should_be_live(after, now)


def test_next_trigger_instants() -> None:
    occurrences = [
        SEMINAR,
        view(2, "12:10", "13:00", lead_in=0),  # starts where SEMINAR's lead-out ends
        view(3, "14:00", "15:00", state=S.CANCELLED),
        view(4, "07:00", "08:00", state=S.ENDED),
    ]
    assert next_trigger_instants(occurrences, t("09:00")) == [
        t("09:45"),
        t("10:00"),
        t("12:00"),
        t("12:10"),
        t("13:00"),
    ]
    assert next_trigger_instants(occurrences, t("10:00")) == [t("12:00"), t("12:10"), t("13:00")]
    assert next_trigger_instants(occurrences, t("09:00"), until=t("12:00")) == [
        t("09:45"),
        t("10:00"),
        t("12:00"),
    ]
    assert next_trigger_instants(occurrences, t("13:00")) == []


def test_start_early_makes_it_active_at_once() -> None:
    started = start_early(SEMINAR, t("09:00"))
    assert what_should_be_live([started], t("09:00")) == {1}
    assert started.blocked_start == t("09:00")
    assert next_trigger_instants([started], t("08:00"))[0] == t("09:00")
    assert plan([started], set(), t("09:00")) == [Start(1, Phase.LIVE, "window open")]
    with pytest.raises(InvalidOccurrenceState):
        start_early(replace(SEMINAR, state=S.CANCELLED), t("09:00"))
    with pytest.raises(InvalidOccurrenceState):
        start_early(SEMINAR, t("12:00"))


def test_stop_early_ends_it_for_good() -> None:
    stopped = stop_early(LIVE, t("11:00"))
    assert stopped.state is S.ENDED
    assert what_should_be_live([stopped], t("11:00")) == set()
    assert [_without_reason(a) for a in plan([stopped], {1}, t("11:00"))] == [Stop(1)]
    with pytest.raises(InvalidOccurrenceState):
        stop_early(SEMINAR, t("09:00"))  # not running yet: cancel it instead


def test_extend_moves_the_end_and_conflicts_are_the_callers_check() -> None:
    following = view(2, "12:30", "13:30", lead_in=15)
    extended = extend(LIVE, 5, t("11:00"))
    # Touches the next booking's lead-in (12:15) and must not collide with its own old version.
    assert extended.end_utc == t("12:05") and extended.blocked_end == t("12:15")
    assert find_conflicts([extended], [LIVE, following]) == []
    longer = extend(LIVE, 20, t("11:00"))
    assert [c.existing.id for c in find_conflicts([longer], [LIVE, following])] == [2]
    assert what_should_be_live([longer], t("12:15")) == {1}


@pytest.mark.parametrize(
    ("occurrence", "minutes", "error"),
    [
        (LIVE, 0, ScheduleValidationError),
        (LIVE, -5, ScheduleValidationError),
        (LIVE, True, ScheduleValidationError),
        (LIVE, 11 * 60, ScheduleValidationError),  # beyond the 12 h maximum
        (replace(LIVE, state=S.ENDED), 10, InvalidOccurrenceState),
        (replace(LIVE, state=S.CANCELLED), 10, InvalidOccurrenceState),
    ],
)
def test_extend_rejects(occurrence: OccurrenceView, minutes: int, error: type[Exception]) -> None:
    with pytest.raises(error):
        extend(occurrence, minutes, t("11:00"))
