"""Wall-clock ↔ UTC conversion around DST changes, and validation of one seminar's times."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schedules.errors import InvalidTimezone, NonexistentLocalTime, ScheduleValidationError
from schedules.timing import (
    is_ambiguous,
    is_nonexistent,
    load_timezone,
    resolve_local,
    resolve_recurring_local,
    resolve_span,
    to_local,
    validate_lead_times,
)
from tests.schedules.builders import BERLIN, local, utc


@pytest.mark.parametrize(
    ("wall", "tz", "expected"),
    [
        (local(2027, 1, 12, 18), BERLIN, utc(2027, 1, 12, 17)),  # winter, UTC+1
        (local(2027, 7, 13, 18), BERLIN, utc(2027, 7, 13, 16)),  # summer, UTC+2
        (local(2027, 3, 28, 1, 59), BERLIN, utc(2027, 3, 28, 0, 59)),  # just before the gap
        (local(2027, 3, 28, 3, 0), BERLIN, utc(2027, 3, 28, 1, 0)),  # just after the gap
        # Ambiguous: the FIRST instant (still summer time) wins.
        (local(2027, 10, 31, 2, 30), BERLIN, utc(2027, 10, 31, 0, 30)),
        (local(2027, 10, 31, 2, 0), BERLIN, utc(2027, 10, 31, 0, 0)),
        (local(2027, 10, 31, 3, 0), BERLIN, utc(2027, 10, 31, 2, 0)),
        (local(2027, 11, 7, 1, 30), "America/New_York", utc(2027, 11, 7, 5, 30)),
        (local(2027, 6, 1, 12), "UTC", utc(2027, 6, 1, 12)),
    ],
)
def test_resolve_local(wall: datetime, tz: str, expected: datetime) -> None:
    result = resolve_local(wall, tz)
    assert result == expected
    assert result.tzinfo is UTC


@pytest.mark.parametrize(
    ("wall", "tz", "message"),
    [
        (
            local(2027, 3, 28, 2, 30),
            BERLIN,
            "02:30 does not exist on 2027-03-28 in Europe/Berlin (clocks jump from 02:00 to 03:00)",
        ),
        (
            local(2027, 3, 28, 2, 0),
            BERLIN,
            "02:00 does not exist on 2027-03-28 in Europe/Berlin (clocks jump from 02:00 to 03:00)",
        ),
        (
            local(2027, 3, 14, 2, 15),
            "America/New_York",
            "02:15 does not exist on 2027-03-14 in America/New_York "
            "(clocks jump from 02:00 to 03:00)",
        ),
        (
            local(2011, 12, 30, 12),
            "Pacific/Apia",
            "12:00 does not exist on 2011-12-30 in Pacific/Apia "
            "(clocks jump from 2011-12-30 00:00 to 2011-12-31 00:00)",
        ),
    ],
)
def test_nonexistent_local_time_is_rejected_with_an_explanation(
    wall: datetime, tz: str, message: str
) -> None:
    with pytest.raises(NonexistentLocalTime) as caught:
        resolve_local(wall, tz, field="start")
    assert isinstance(caught.value, ScheduleValidationError)
    assert caught.value.field == "start"
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("wall", "nonexistent", "ambiguous"),
    [
        (local(2027, 3, 28, 1, 59), False, False),
        (local(2027, 3, 28, 2, 0), True, False),
        (local(2027, 3, 28, 2, 59), True, False),
        (local(2027, 3, 28, 3, 0), False, False),
        (local(2027, 10, 31, 1, 59), False, False),
        (local(2027, 10, 31, 2, 0), False, True),
        (local(2027, 10, 31, 2, 59), False, True),
        (local(2027, 10, 31, 3, 0), False, False),
    ],
)
def test_gap_and_fold_detection(wall: datetime, nonexistent: bool, ambiguous: bool) -> None:
    assert is_nonexistent(wall, BERLIN) is nonexistent
    assert is_ambiguous(wall, BERLIN) is ambiguous


def test_recurring_time_in_gap_is_shifted_forward_by_the_gap() -> None:
    # RFC 5545: interpreted with the offset before the gap (+01:00) → 01:30 UTC = 03:30 CEST.
    shifted = resolve_recurring_local(local(2027, 3, 28, 2, 30), BERLIN)
    assert shifted == utc(2027, 3, 28, 1, 30)
    assert to_local(shifted, BERLIN).replace(tzinfo=None) == local(2027, 3, 28, 3, 30)


def test_recurring_ambiguous_time_takes_the_first_instant() -> None:
    assert resolve_recurring_local(local(2027, 10, 31, 2, 30), BERLIN) == utc(2027, 10, 31, 0, 30)


def test_to_local_round_trips() -> None:
    instant = utc(2027, 10, 31, 1, 30)  # the second 02:30 of the night
    wall = to_local(instant, BERLIN)
    assert (wall.hour, wall.minute, wall.fold) == (2, 30, 1)
    assert wall.astimezone(UTC) == instant


@pytest.mark.parametrize("call", [to_local, resolve_local, resolve_recurring_local])
def test_naive_and_aware_inputs_are_not_confused(call: object) -> None:
    wrong = local(2027, 1, 1) if call is to_local else utc(2027, 1, 1)
    with pytest.raises(ValueError):
        call(wrong, BERLIN)  # type: ignore[operator]


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "", "../../etc/passwd", "/etc/localtime"])
def test_invalid_timezone(name: str) -> None:
    with pytest.raises(InvalidTimezone) as caught:
        load_timezone(name)
    assert caught.value.field == "timezone"
    with pytest.raises(InvalidTimezone):
        resolve_local(local(2027, 1, 1), name)


@pytest.mark.parametrize(
    ("lead_in", "lead_out", "field"),
    [
        (0, 0, None),
        (60, 30, None),
        (5, 0, None),
        (-1, 0, "lead_in_minutes"),
        (61, 0, "lead_in_minutes"),
        (True, 0, "lead_in_minutes"),
        (5.0, 0, "lead_in_minutes"),
        (0, 31, "lead_out_minutes"),
        (0, -5, "lead_out_minutes"),
    ],
)
def test_lead_times(lead_in: int, lead_out: int, field: str | None) -> None:
    if field is None:
        validate_lead_times(lead_in, lead_out)
        return
    with pytest.raises(ScheduleValidationError) as caught:
        validate_lead_times(lead_in, lead_out)
    assert caught.value.field == field


def test_resolve_span_returns_utc_instants() -> None:
    assert resolve_span(local(2027, 3, 2, 18), local(2027, 3, 2, 20), BERLIN) == (
        utc(2027, 3, 2, 17),
        utc(2027, 3, 2, 19),
    )
    # Exactly the maximum duration is fine.
    resolve_span(local(2027, 3, 2, 8), local(2027, 3, 2, 20), BERLIN)


@pytest.mark.parametrize(
    ("start", "end", "field", "fragment"),
    [
        (local(2027, 3, 2, 18), local(2027, 3, 2, 17), "end", "after the start"),
        (local(2027, 3, 2, 18), local(2027, 3, 2, 18), "end", "after the start"),
        (local(2027, 3, 2, 8), local(2027, 3, 2, 20, 1), "end", "at most 12 hours"),
        (local(2027, 3, 28, 2, 30), local(2027, 3, 28, 4), "start", "does not exist"),
        (local(2027, 3, 28, 1), local(2027, 3, 28, 2, 15), "end", "does not exist"),
        (datetime(2027, 3, 2, 18, 0, 30, 500), local(2027, 3, 2, 20), "start", "whole second"),
        (local(2027, 3, 2, 18), utc(2027, 3, 2, 20), "end", "without an offset"),
    ],
)
def test_resolve_span_rejects(start: datetime, end: datetime, field: str, fragment: str) -> None:
    with pytest.raises(ScheduleValidationError) as caught:
        resolve_span(start, end, BERLIN)
    assert caught.value.field == field
    assert fragment in caught.value.message


def test_span_across_fall_back_is_measured_in_real_time() -> None:
    # 01:00–03:00 on the fall-back night lasts three real hours.
    start, end = resolve_span(local(2027, 10, 31, 1), local(2027, 10, 31, 3), BERLIN)
    assert (end - start).total_seconds() == 3 * 3600
