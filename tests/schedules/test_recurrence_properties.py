"""Invariants of expansion that must hold for any start, rule length, zone and window."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from schedules.domain import SeriesRule
from schedules.recurrence import expand, parse_recurrence_id, validate_series
from schedules.timing import is_nonexistent, to_local
from tests.schedules.builders import utc

ZONES = ("Europe/Berlin", "Europe/London", "America/New_York", "Australia/Sydney")
WINDOW = (utc(2025, 1, 1), utc(2032, 1, 1))

series_strategy = st.builds(
    lambda day, hour, minute, minutes, count, zone: SeriesRule(
        start_local=datetime(2026, 1, 1, hour, minute) + timedelta(days=day),
        end_local=datetime(2026, 1, 1, hour, minute) + timedelta(days=day, minutes=minutes),
        timezone=zone,
        rrule=f"FREQ=WEEKLY;COUNT={count}",
    ),
    st.integers(0, 3 * 365),
    st.integers(0, 23),
    st.sampled_from((0, 15, 30, 45)),
    st.integers(15, 240),
    st.integers(1, 104),
    st.sampled_from(ZONES),
)


def _valid(series: SeriesRule) -> bool:
    return not (
        is_nonexistent(series.start_local, series.timezone)
        or is_nonexistent(series.end_local, series.timezone)
    )


@settings(max_examples=120, deadline=None)
@given(series_strategy)
def test_every_weekly_occurrence_keeps_the_local_wall_clock_start(series: SeriesRule) -> None:
    assume(_valid(series))
    validate_series(series)
    occurrences = expand(series, *WINDOW)
    assert len(occurrences) == int(series.rrule.split("=")[-1])  # type: ignore[union-attr]
    durations = {o.end_utc - o.start_utc for o in occurrences}
    assert len(durations) == 1
    for occurrence in occurrences:
        nominal = parse_recurrence_id(occurrence.recurrence_id)
        assert nominal.weekday() == series.start_local.weekday()
        assert nominal.time() == series.start_local.time()
        wall = to_local(occurrence.start_utc, series.timezone).replace(tzinfo=None)
        if is_nonexistent(nominal, series.timezone):
            # Shifted forward by the gap, never backwards, never by more than the gap.
            assert nominal < wall <= nominal + timedelta(hours=1)
        else:
            assert wall == nominal


@settings(max_examples=80, deadline=None)
@given(series_strategy, st.integers(0, 7 * 365 * 24))
def test_adjacent_windows_partition_the_series(series: SeriesRule, split_hours: int) -> None:
    assume(_valid(series))
    middle = WINDOW[0] + timedelta(hours=split_hours)
    left, right = expand(series, WINDOW[0], middle), expand(series, middle, WINDOW[1])
    assert left + right == expand(series, *WINDOW)
