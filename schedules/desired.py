"""Desired state: what should be running at an instant, and the actions that get us there.

The controller in ``knoten/`` calls :func:`plan` whenever anything may have changed (a scheduler
trigger from :func:`next_trigger_instants`, an edit, a manual action, a restart) and carries out
the returned actions. Planning is a pure function of the stored occurrences, what is running and
the time, so it is idempotent: calling it twice in a row yields nothing new the second time once
the first actions were carried out.

Active window of an occurrence:

* ``SCHEDULED``: from ``start - lead_in`` (or earlier, from ``actual_start_utc`` when staff started
  it early) until ``end``. A scheduled occurrence that never went live is not started just for
  its lead-out; once its end has passed it is marked missed.
* ``LIVE``: until ``end + lead_out`` (an extension moves ``end``).
* Terminal states (ended — including stopped early by staff —, cancelled, missed, failed): never.

The phase is ``live`` from ``start`` (or from an early manual start) and ``lead_in`` before it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TypeAlias

from schedules.domain import OccurrenceId, OccurrenceState, OccurrenceView, Phase
from schedules.errors import InvalidOccurrenceState, ScheduleValidationError, StartTooEarly
from schedules.timing import validate_duration


@dataclass(frozen=True, slots=True)
class Start:
    """Ensure the occurrence runs in ``phase``; for one already running in lead-in: go live."""

    occurrence_id: OccurrenceId
    phase: Phase
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Stop:
    occurrence_id: OccurrenceId
    reason: str = ""


@dataclass(frozen=True, slots=True)
class MarkMissed:
    """Its time passed and it never went live (typically while the service was down)."""

    occurrence_id: OccurrenceId
    reason: str = ""


@dataclass(frozen=True, slots=True)
class MarkEnded:
    occurrence_id: OccurrenceId
    reason: str = ""


Action: TypeAlias = Start | Stop | MarkMissed | MarkEnded


def is_active(occurrence: OccurrenceView, now: datetime) -> bool:
    """Whether ``occurrence`` should be running at ``now`` (see the module docstring)."""
    if occurrence.state is OccurrenceState.LIVE:
        return now < occurrence.blocked_end
    if occurrence.state is not OccurrenceState.SCHEDULED or now >= occurrence.end_utc:
        return False
    # blocked_start already accounts for an early manual start.
    return occurrence.blocked_start <= now


def desired_phase(occurrence: OccurrenceView, now: datetime) -> Phase:
    """The phase an active occurrence should be in at ``now``."""
    if occurrence.state is OccurrenceState.LIVE or now >= occurrence.start_utc:
        return Phase.LIVE
    started_early = occurrence.actual_start_utc
    if started_early is not None and started_early <= now:
        return Phase.LIVE
    return Phase.LEAD_IN


def what_should_be_live(occurrences: Iterable[OccurrenceView], now: datetime) -> set[OccurrenceId]:
    """Ids of the occurrences that should be running (lead-in included) at ``now``."""
    return {o.id for o in occurrences if is_active(o, now)}


def plan(
    occurrences: Iterable[OccurrenceView],
    running_ids: Collection[OccurrenceId],
    now: datetime,
    started_at_boot: bool = False,
) -> list[Action]:
    """Actions that bring what runs (``running_ids``) in line with the schedule at ``now``.

    Order: all stops, then state marks, then starts, so a room is free before the next booking in
    it starts (touching windows are allowed). A running id that matches no occurrence is stopped.

    The decisions do not depend on ``started_at_boot``: desired state must come out the same
    whenever it is computed. The flag only words the reasons for the log: at boot an open window
    is started at once ("late") and a window that passed entirely while the service was down,
    without the occurrence ever going live, is marked missed.
    """
    running = set(running_ids)
    stops: list[Action] = []
    marks: list[Action] = []
    starts: list[Action] = []
    known: set[OccurrenceId] = set()
    for occurrence in sorted(occurrences, key=lambda o: (o.blocked_start, str(o.id))):
        oid = occurrence.id
        known.add(oid)
        is_running = oid in running
        if is_active(occurrence, now):
            phase = desired_phase(occurrence, now)
            if not is_running:
                late = started_at_boot and now > occurrence.blocked_start
                reason = "window open at boot, starting late" if late else "window open"
                starts.append(Start(oid, phase, reason))
            elif phase is Phase.LIVE and occurrence.state is OccurrenceState.SCHEDULED:
                starts.append(Start(oid, Phase.LIVE, "lead-in over, going live"))
            continue
        if is_running:
            stops.append(Stop(oid, f"not active ({occurrence.state.value})"))
        if occurrence.state is OccurrenceState.LIVE and now >= occurrence.blocked_end:
            marks.append(MarkEnded(oid, "window closed"))
        elif occurrence.state is OccurrenceState.SCHEDULED and now >= occurrence.end_utc:
            if is_running:
                marks.append(MarkEnded(oid, "window closed"))
            else:
                reason = "passed while the service was down" if started_at_boot else "never started"
                marks.append(MarkMissed(oid, reason))
    for oid in sorted(running - known, key=str):
        stops.append(Stop(oid, "no such occurrence scheduled"))
    return stops + marks + starts


def next_trigger_instants(
    occurrences: Iterable[OccurrenceView], now: datetime, until: datetime | None = None
) -> list[datetime]:
    """Sorted distinct UTC instants after ``now`` (up to ``until``) at which to call :func:`plan`.

    For every occurrence that is not finished: lead-in start (or the early manual start), start,
    end (a never-started one becomes missed) and end of lead-out.
    """
    instants: set[datetime] = set()
    for o in occurrences:
        if o.state.is_terminal:
            continue
        for instant in (o.blocked_start, o.start_utc, o.end_utc, o.blocked_end):
            if instant > now and (until is None or instant <= until):
                instants.add(instant.astimezone(UTC))
    return sorted(instants)


def earliest_manual_start(occurrence: OccurrenceView, limit: timedelta | None) -> datetime | None:
    """From when "start now" works without moving the date: ``limit`` before its lead-in
    (``None``: any time)."""
    if limit is None:
        return None
    return occurrence.start_utc - occurrence.lead_in - limit


def start_early(
    occurrence: OccurrenceView, now: datetime, limit: timedelta | None = None
) -> OccurrenceView:
    """Staff pressed "start now": the occurrence goes live at ``now``, lead-in or not.

    Starting before the lead-in moves the blocked window's start back to ``now``; check the
    result with ``find_conflicts`` (the previous booking may still be in its lead-out). More
    than ``limit`` before the lead-in it is refused with :class:`StartTooEarly`: such a date
    is moved to now instead (:func:`move_to_now`), so it does not run for hours.
    """
    if occurrence.state is not OccurrenceState.SCHEDULED:
        raise InvalidOccurrenceState(
            occurrence.id, f"cannot start an occurrence that is {occurrence.state.value}"
        )
    if now >= occurrence.end_utc:
        raise InvalidOccurrenceState(occurrence.id, "cannot start an occurrence that is over")
    earliest = earliest_manual_start(occurrence, limit)
    if earliest is not None and now < earliest and occurrence.actual_start_utc is None:
        raise StartTooEarly(occurrence.id, earliest)
    return replace(occurrence, actual_start_utc=now)


def move_to_now(occurrence: OccurrenceView, now: datetime) -> OccurrenceView:
    """The date moved to begin at ``now`` (whole seconds) with its length kept, started."""
    if occurrence.state is not OccurrenceState.SCHEDULED or occurrence.actual_start_utc:
        raise InvalidOccurrenceState(
            occurrence.id,
            f"only a scheduled occurrence can be moved (it is {occurrence.state.value})",
        )
    start = now.replace(microsecond=0)
    length = occurrence.end_utc - occurrence.start_utc
    return replace(occurrence, start_utc=start, end_utc=start + length, actual_start_utc=start)


def stop_early(occurrence: OccurrenceView, now: datetime) -> OccurrenceView:
    """Staff pressed "stop": the occurrence ends now and is not restarted."""
    if not is_active(occurrence, now):
        raise InvalidOccurrenceState(occurrence.id, "only a running occurrence can be stopped")
    return replace(occurrence, state=OccurrenceState.ENDED)


def extend(occurrence: OccurrenceView, minutes: int, now: datetime) -> OccurrenceView:
    """Move the end ``minutes`` later. Check the result with ``find_conflicts`` before saving."""
    if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes <= 0:
        raise ScheduleValidationError("minutes", "extend by a positive whole number of minutes")
    if occurrence.state.is_terminal or now >= occurrence.blocked_end:
        raise InvalidOccurrenceState(occurrence.id, "cannot extend an occurrence that is over")
    extended = replace(occurrence, end_utc=occurrence.end_utc + timedelta(minutes=minutes))
    validate_duration(extended.start_utc, extended.end_utc, field="minutes")
    return extended
