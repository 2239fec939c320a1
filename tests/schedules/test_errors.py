"""The typed errors carry what the single HTTP error mapping needs: code, message, field."""

from __future__ import annotations

import pytest

from schedules.domain import Conflict
from schedules.errors import (
    InvalidOccurrenceState,
    InvalidRecurrence,
    InvalidTimezone,
    NonexistentLocalTime,
    OccurrenceNotFound,
    RoomNotFound,
    ScheduleError,
    ScheduleValidationError,
    SeminarConflict,
    SeminarNotFound,
    SeriesTooLong,
)
from tests.schedules.builders import view


@pytest.mark.parametrize(
    ("error", "code", "field"),
    [
        (ScheduleValidationError("end", "x"), "validation_error", "end"),
        (InvalidTimezone("Mars/Base"), "invalid_timezone", "timezone"),
        (NonexistentLocalTime("start", "x"), "nonexistent_local_time", "start"),
        (InvalidRecurrence("x"), "invalid_recurrence", "recurrence"),
        (SeriesTooLong("x"), "series_too_long", "recurrence"),
    ],
)
def test_validation_errors(error: ScheduleValidationError, code: str, field: str) -> None:
    assert isinstance(error, ScheduleValidationError)
    assert (error.code, error.field) == (code, field)
    assert str(error).startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("error", "code", "fragment"),
    [
        (RoomNotFound(3), "room_not_found", "room 3"),
        (SeminarNotFound("abc"), "seminar_not_found", "seminar 'abc'"),
        (
            OccurrenceNotFound(9, "gone"),
            "occurrence_not_found",
            "occurrence 9 does not exist: gone",
        ),
        (InvalidOccurrenceState(9, "over"), "invalid_occurrence_state", "over"),
    ],
)
def test_other_errors(error: ScheduleError, code: str, fragment: str) -> None:
    assert error.code == code
    assert fragment in error.message
    assert not isinstance(error, ScheduleValidationError)


def test_seminar_conflict_summarises_and_needs_a_conflict() -> None:
    pair = Conflict(view("c", "10:00", "11:00"), view("e", "10:30", "11:30"))
    error = SeminarConflict([pair, pair, pair])
    assert error.message.endswith("(and 2 more conflicts)")
    assert len(error.details()) == 3
    with pytest.raises(ValueError):
        SeminarConflict([])
