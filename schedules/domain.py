"""Plain value types of the schedule domain.

These frozen dataclasses and enums are what the pure functions in ``timing``, ``recurrence``,
``conflicts`` and ``desired`` consume and produce. They hold no behaviour beyond derived
properties and carry no I/O or ORM coupling, so the persistence layer maps rows onto them and the
tests build them directly.

Conventions: every ``*_utc`` field is a timezone-aware datetime (any offset compares correctly,
UTC is expected); every ``*_local`` field is a *naive* wall-clock datetime interpreted in the
series' IANA timezone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeAlias

DEFAULT_TIMEZONE = "Europe/Berlin"
DEFAULT_LEAD_IN_MINUTES = 5
DEFAULT_LEAD_OUT_MINUTES = 0
MAX_LEAD_IN_MINUTES = 60
MAX_LEAD_OUT_MINUTES = 30

# Identifiers are whatever the persistence layer uses (integers or UUID strings); the domain only
# needs them hashable and comparable with their own kind.
OccurrenceId: TypeAlias = int | str
SeminarId: TypeAlias = int | str
RoomId: TypeAlias = int | str


class OccurrenceState(StrEnum):
    """Lifecycle of one occurrence: scheduled → live → ended, or one of the other end states.

    ``requested``: a provider's booking that waits for the library's confirmation. It holds the
    room (conflicts apply to it) but never goes live; confirming makes it ``scheduled``.
    """

    REQUESTED = "requested"
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"
    CANCELLED = "cancelled"
    MISSED = "missed"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        """True once nothing will happen to the occurrence any more."""
        return self not in (
            OccurrenceState.SCHEDULED,
            OccurrenceState.LIVE,
            OccurrenceState.REQUESTED,
        )


class Phase(StrEnum):
    """What a running occurrence shows: the lead-in before its start, then the seminar itself."""

    LEAD_IN = "lead_in"
    LIVE = "live"


def _require_aware(name: str, value: datetime | None) -> None:
    # Mixing naive and aware datetimes fails late and obscurely (TypeError deep in a sort); fail
    # at construction instead, naming the field.
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{name} must be timezone-aware, got naive {value!r}")


@dataclass(frozen=True, slots=True)
class SeriesRule:
    """When a seminar happens: a first start/end in local wall time plus an optional RRULE.

    ``start_local``/``end_local`` are naive wall-clock times in ``timezone``; ``rrule`` is RFC 5545
    RRULE text without DTSTART (e.g. ``"FREQ=WEEKLY;BYDAY=TU;COUNT=10"``); ``exdates`` are naive
    local start times of occurrences to leave out. Validate with
    :func:`schedules.recurrence.validate_series` before trusting it.
    """

    start_local: datetime
    end_local: datetime
    timezone: str = DEFAULT_TIMEZONE
    rrule: str | None = None
    exdates: tuple[datetime, ...] = ()
    lead_in_minutes: int = DEFAULT_LEAD_IN_MINUTES
    lead_out_minutes: int = DEFAULT_LEAD_OUT_MINUTES

    @property
    def is_recurring(self) -> bool:
        return bool(self.rrule)

    @property
    def lead_in(self) -> timedelta:
        return timedelta(minutes=self.lead_in_minutes)

    @property
    def lead_out(self) -> timedelta:
        return timedelta(minutes=self.lead_out_minutes)


@dataclass(frozen=True, slots=True)
class OccurrenceTime:
    """One expanded occurrence of a series.

    ``recurrence_id`` is the occurrence's *nominal* local start as ISO text
    (``"2027-03-02T18:00:00"``), which stays stable when the occurrence is moved and maps directly
    onto an iCalendar ``RECURRENCE-ID;TZID=...``. ``moved``/``cancelled`` are set by
    :func:`schedules.recurrence.apply_overrides`.
    """

    recurrence_id: str
    start_utc: datetime
    end_utc: datetime
    cancelled: bool = False
    moved: bool = False

    def __post_init__(self) -> None:
        _require_aware("start_utc", self.start_utc)
        _require_aware("end_utc", self.end_utc)


@dataclass(frozen=True, slots=True)
class OccurrenceOverride:
    """A per-occurrence exception: cancel it, or move it to new start/end instants."""

    recurrence_id: str
    cancelled: bool = False
    start_utc: datetime | None = None
    end_utc: datetime | None = None

    def __post_init__(self) -> None:
        _require_aware("start_utc", self.start_utc)
        _require_aware("end_utc", self.end_utc)
        if (self.start_utc is None) != (self.end_utc is None):
            raise ValueError("a moved occurrence needs both start_utc and end_utc")

    @property
    def is_move(self) -> bool:
        return self.start_utc is not None


@dataclass(frozen=True, slots=True)
class OccurrenceView:
    """A persisted (or candidate) occurrence as the conflict and desired-state logic see it.

    ``actual_start_utc`` is set when staff start the occurrence early (or when it actually went
    live); from that instant on it counts as active and blocks its room, even before its lead-in.
    ``seminar_id`` may be ``None`` for candidates of a seminar that is not stored yet.
    """

    id: OccurrenceId
    seminar_id: SeminarId | None
    room_id: RoomId
    title: str
    start_utc: datetime
    end_utc: datetime
    lead_in: timedelta = timedelta(0)
    lead_out: timedelta = timedelta(0)
    state: OccurrenceState = OccurrenceState.SCHEDULED
    recurrence_id: str | None = None
    actual_start_utc: datetime | None = None

    def __post_init__(self) -> None:
        _require_aware("start_utc", self.start_utc)
        _require_aware("end_utc", self.end_utc)
        _require_aware("actual_start_utc", self.actual_start_utc)

    @property
    def blocked_start(self) -> datetime:
        """Start of the room reservation: the lead-in (or an earlier manual start) included."""
        scheduled = self.start_utc - self.lead_in
        if self.actual_start_utc is not None and self.actual_start_utc < scheduled:
            return self.actual_start_utc
        return scheduled

    @property
    def blocked_end(self) -> datetime:
        """End (exclusive) of the room reservation, including the lead-out."""
        return self.end_utc + self.lead_out

    @property
    def blocks_room(self) -> bool:
        """Only occurrences that may still use the room can conflict."""
        return not self.state.is_terminal

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "seminar_id": self.seminar_id,
            "room_id": self.room_id,
            "title": self.title,
            "recurrence_id": self.recurrence_id,
            "start": self.start_utc.isoformat(),
            "end": self.end_utc.isoformat(),
            "blocked_start": self.blocked_start.isoformat(),
            "blocked_end": self.blocked_end.isoformat(),
            "state": self.state.value,
        }


@dataclass(frozen=True, slots=True)
class Conflict:
    """``candidate`` (the booking being made) overlaps ``existing`` in the same room."""

    candidate: OccurrenceView
    existing: OccurrenceView

    @property
    def overlap_start(self) -> datetime:
        return max(self.candidate.blocked_start, self.existing.blocked_start)

    @property
    def overlap_end(self) -> datetime:
        return min(self.candidate.blocked_end, self.existing.blocked_end)

    def describe(self) -> str:
        c, e = self.candidate, self.existing
        return (
            f"{c.title!r} ({_span(c.start_utc, c.end_utc)}) overlaps {e.title!r} "
            f"({_span(e.start_utc, e.end_utc)}) in room {c.room_id!r}, "
            "including lead-in/lead-out"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate.to_dict(),
            "existing": self.existing.to_dict(),
            "overlap_start": self.overlap_start.isoformat(),
            "overlap_end": self.overlap_end.isoformat(),
        }


def _span(start: datetime, end: datetime) -> str:
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    end_format = "%H:%M" if start.date() == end.date() else "%Y-%m-%d %H:%M"
    return f"{start:%Y-%m-%d %H:%M}–{end:{end_format}} UTC"
