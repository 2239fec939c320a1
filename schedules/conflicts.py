"""Room conflicts: no two bookings in one room may overlap, lead-in and lead-out included.

Each occurrence blocks its room for ``[start - lead_in, end + lead_out)``. The interval is
half-open, so windows that merely touch (one ends at 18:00, the next begins at 18:00) do not
conflict. Only occurrences that may still use the room block it: cancelled, ended, missed and
failed ones never conflict (an occurrence stopped early frees the rest of its slot).

:func:`find_conflicts` sorts per room and sweeps with a heap of open windows, so checking a series
of hundreds of candidates against thousands of bookings costs O(n log n + conflicts), not O(n²).
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from schedules.domain import (
    Conflict,
    OccurrenceState,
    OccurrenceTime,
    OccurrenceView,
    RoomId,
    SeminarId,
)
from schedules.errors import SeminarConflict


@dataclass(frozen=True, slots=True)
class _Entry:
    start: datetime
    end: datetime
    sequence: int  # tie-breaker so the heap never compares views
    view: OccurrenceView
    is_candidate: bool


def _same_occurrence(a: OccurrenceView, b: OccurrenceView) -> bool:
    # A candidate may be the edited version of a stored occurrence (move, extend); it must not
    # conflict with its own old self.
    return a.id == b.id and a.seminar_id == b.seminar_id


def find_conflicts(
    candidates: Iterable[OccurrenceView], existing: Iterable[OccurrenceView]
) -> list[Conflict]:
    """Every overlap of a candidate with an existing occurrence or with another candidate.

    Overlaps among ``existing`` alone are not reported (they are not this booking's problem).
    When two candidates overlap, the later one is reported as the ``candidate`` side. The result
    is sorted by the candidate's, then the existing occurrence's blocked start.
    """
    rooms: defaultdict[RoomId, list[_Entry]] = defaultdict(list)
    sequence = 0
    for is_candidate, views in ((True, candidates), (False, existing)):
        for view in views:
            if not view.blocks_room or view.blocked_end <= view.blocked_start:
                continue
            rooms[view.room_id].append(
                _Entry(view.blocked_start, view.blocked_end, sequence, view, is_candidate)
            )
            sequence += 1

    conflicts: list[Conflict] = []
    for entries in rooms.values():
        entries.sort(key=lambda e: (e.start, e.sequence))
        open_windows: list[tuple[datetime, int, _Entry]] = []
        for entry in entries:
            while open_windows and open_windows[0][0] <= entry.start:
                heapq.heappop(open_windows)
            for _, _, other in open_windows:
                if not (entry.is_candidate or other.is_candidate):
                    continue
                if _same_occurrence(entry.view, other.view):
                    continue
                if entry.is_candidate:
                    conflicts.append(Conflict(candidate=entry.view, existing=other.view))
                else:
                    conflicts.append(Conflict(candidate=other.view, existing=entry.view))
            heapq.heappush(open_windows, (entry.end, entry.sequence, entry))

    conflicts.sort(
        key=lambda c: (
            c.candidate.blocked_start,
            c.existing.blocked_start,
            str(c.candidate.id),
            str(c.existing.id),
        )
    )
    return conflicts


def check_no_conflicts(
    candidates: Iterable[OccurrenceView], existing: Iterable[OccurrenceView]
) -> None:
    """Raise :class:`SeminarConflict` listing every conflict, if there is any."""
    conflicts = find_conflicts(candidates, existing)
    if conflicts:
        raise SeminarConflict(conflicts)


def excluding_seminar(
    occurrences: Iterable[OccurrenceView], seminar_id: SeminarId
) -> list[OccurrenceView]:
    """``occurrences`` without those of ``seminar_id``: what an edited series is checked against."""
    return [o for o in occurrences if o.seminar_id != seminar_id]


def still_ahead(occurrences: Iterable[OccurrenceView], now: datetime) -> list[OccurrenceView]:
    """Occurrences whose blocked window has not closed yet; the past cannot conflict any more."""
    return [o for o in occurrences if o.blocked_end > now]


def existing_for_update(
    occurrences: Iterable[OccurrenceView], seminar_id: SeminarId, now: datetime
) -> list[OccurrenceView]:
    """What an update of ``seminar_id`` must not collide with: others' occurrences still ahead."""
    return still_ahead(excluding_seminar(occurrences, seminar_id), now)


def candidate_views(
    times: Iterable[OccurrenceTime],
    *,
    seminar_id: SeminarId | None,
    room_id: RoomId,
    title: str,
    lead_in: timedelta,
    lead_out: timedelta,
) -> list[OccurrenceView]:
    """Turn expanded occurrences of a (new or edited) series into views for conflict checks.

    Unsaved occurrences have no database id yet, so the recurrence id stands in for it.
    """
    return [
        OccurrenceView(
            id=time.recurrence_id,
            seminar_id=seminar_id,
            room_id=room_id,
            title=title,
            start_utc=time.start_utc,
            end_utc=time.end_utc,
            lead_in=lead_in,
            lead_out=lead_out,
            state=OccurrenceState.CANCELLED if time.cancelled else OccurrenceState.SCHEDULED,
            recurrence_id=time.recurrence_id,
        )
        for time in times
    ]
