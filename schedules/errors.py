"""Typed errors of the schedules package.

Every error carries a stable machine ``code`` and a human ``message``; validation errors also name
the request ``field`` they refer to. The web layer maps these to HTTP statuses and the JSON body
``{"error": {"code": ..., "message": ..., "field": ...}}`` in one place, so nothing here knows about
HTTP. :class:`SeminarConflict` additionally carries the conflicting occurrences for the 409 body.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, ClassVar

from schedules.domain import Conflict, OccurrenceId, RoomId, SeminarId


class ScheduleError(Exception):
    """Base class of every error raised by the schedules package."""

    code: ClassVar[str] = "schedule_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ScheduleValidationError(ScheduleError):
    """Input that can never be valid, whatever else is booked (HTTP 422)."""

    code: ClassVar[str] = "validation_error"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class InvalidTimezone(ScheduleValidationError):
    """The timezone is not a known IANA name."""

    code: ClassVar[str] = "invalid_timezone"

    def __init__(self, name: str, field: str = "timezone") -> None:
        super().__init__(field, f"{name!r} is not a known IANA timezone (e.g. 'Europe/Berlin')")
        self.name = name


class NonexistentLocalTime(ScheduleValidationError):
    """A wall-clock time that falls into a daylight-saving gap and so never happens."""

    code: ClassVar[str] = "nonexistent_local_time"


class InvalidRecurrence(ScheduleValidationError):
    """The RRULE text is malformed or describes something a seminar cannot be."""

    code: ClassVar[str] = "invalid_recurrence"

    def __init__(self, message: str, field: str = "recurrence") -> None:
        super().__init__(field, message)


class SeriesTooLong(InvalidRecurrence):
    """The series would produce more occurrences than :data:`recurrence.MAX_OCCURRENCES`."""

    code: ClassVar[str] = "series_too_long"


class SeminarConflict(ScheduleError):
    """The booking overlaps other bookings in the same room (HTTP 409)."""

    code: ClassVar[str] = "seminar_conflict"

    def __init__(self, conflicts: Iterable[Conflict]) -> None:
        self.conflicts: tuple[Conflict, ...] = tuple(conflicts)
        if not self.conflicts:
            raise ValueError("SeminarConflict needs at least one conflict")
        first = self.conflicts[0]
        more = len(self.conflicts) - 1
        suffix = f" (and {more} more conflict{'s' if more != 1 else ''})" if more else ""
        super().__init__(f"{first.describe()}{suffix}")

    def details(self) -> list[dict[str, Any]]:
        """JSON-ready description of every conflict, for the 409 response body."""
        return [conflict.to_dict() for conflict in self.conflicts]


class InvalidOccurrenceState(ScheduleError):
    """A manual action that the occurrence's current state does not allow (HTTP 409)."""

    code: ClassVar[str] = "invalid_occurrence_state"

    def __init__(self, occurrence_id: OccurrenceId, message: str) -> None:
        super().__init__(message)
        self.occurrence_id = occurrence_id


class StartTooEarly(InvalidOccurrenceState):
    """ "Start now" so long before the lead-in that the date must be moved to now instead
    (HTTP 409): starting tomorrow's date today would run camera, recording and partners for
    hours."""

    code: ClassVar[str] = "start_too_early"

    def __init__(self, occurrence_id: OccurrenceId, earliest: datetime) -> None:
        super().__init__(
            occurrence_id,
            f"too early to start: it can be started from {earliest.isoformat()} on; "
            "move it to now to start it earlier",
        )
        self.earliest = earliest

    def details(self) -> list[dict[str, Any]]:
        return [{"earliest_start": self.earliest.isoformat()}]


class RoomNotFound(ScheduleError):
    code: ClassVar[str] = "room_not_found"

    def __init__(self, room_id: RoomId) -> None:
        super().__init__(f"room {room_id!r} does not exist")
        self.room_id = room_id


class SeminarNotFound(ScheduleError):
    code: ClassVar[str] = "seminar_not_found"

    def __init__(self, seminar_id: SeminarId) -> None:
        super().__init__(f"seminar {seminar_id!r} does not exist")
        self.seminar_id = seminar_id


class OccurrenceNotFound(ScheduleError):
    code: ClassVar[str] = "occurrence_not_found"

    def __init__(self, occurrence_id: OccurrenceId, detail: str = "") -> None:
        text = f"occurrence {occurrence_id!r} does not exist"
        super().__init__(f"{text}: {detail}" if detail else text)
        self.occurrence_id = occurrence_id
