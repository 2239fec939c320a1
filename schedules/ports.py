"""The ports through which schedules/ drives the rest of Knoten without importing it.

schedules/ decides *what* should run and *when*; it never touches media or SQL itself. It reaches
them through small protocols that the composition root (``knoten/``) wires up:

* :class:`SessionRunner` — the media side: start/stop the live session of one occurrence.
  :class:`LoggingSessionRunner` is a stand-in that only records and logs, used until the media
  plane lands and by tests.
* :class:`OccurrenceSource` — the storage side: which occurrences matter now, which instants lie
  ahead, and persisting state changes.
* :class:`LeaseGate` — with several nodes on one database: whether this node may run a date.

Identifiers are plain ``int`` here because the database keys are; the pure domain allows
``int | str`` (:data:`schedules.domain.OccurrenceId`), and the reconciler is where the two meet.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from schedules.clock import Clock, SystemClock
from schedules.domain import OccurrenceState, OccurrenceView, Phase

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SessionRequest:
    """Everything the media side needs to run one occurrence of a seminar, in ``phase``."""

    occurrence_id: int
    seminar_id: int
    room_id: int
    title: str
    phase: Phase
    start_utc: datetime
    end_utc: datetime
    record: bool
    partner_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """What storage knows about an occurrence beyond its times: recording and partner outputs."""

    record: bool = False
    partner_ids: tuple[int, ...] = ()


class SessionRunner(Protocol):
    """Runs live sessions. Both operations are idempotent, so reconciliation may repeat them."""

    async def start(self, request: SessionRequest) -> None:
        """Ensure the occurrence runs in ``request.phase``.

        Starting one that already runs only switches its phase (lead_in → live); starting one that
        already runs in that phase does nothing.
        """
        ...

    async def stop(self, occurrence_id: int, reason: str) -> None:
        """Ensure the occurrence no longer runs; stopping one that does not run does nothing."""
        ...

    def running(self) -> set[int]:
        """Ids of the occurrences running now (a snapshot the caller may keep)."""
        ...


class LeaseGate(Protocol):
    """Which node runs a date, when several share the database (:mod:`schedules.leases`)."""

    async def claim(self, occurrence_id: int) -> bool:
        """Take the date's lease for this node; False when another node runs it (or the lease
        cannot be read now). Never raises."""
        ...

    async def release(self, occurrence_id: int) -> None:
        """This node stopped the date: give its lease back. Never raises."""
        ...


class OccurrenceSource(Protocol):
    """What the reconciler and the triggers need from storage."""

    async def reconcile_candidates(self, now: datetime) -> list[tuple[OccurrenceView, SessionInfo]]:
        """Every non-terminal occurrence whose blocked window could matter at ``now``.

        That is: scheduled ones with ``start - lead_in <= now`` (plus a small margin), live ones,
        and scheduled ones whose end has passed (they need a missed mark). Returning more is
        harmless (planning ignores them); returning fewer leaves work undone.
        """
        ...

    async def upcoming(self, now: datetime, until: datetime) -> list[OccurrenceView]:
        """Non-terminal occurrences with an instant in ``(now, until]``.

        The instants are blocked_start, start, end and blocked_end (see
        :func:`schedules.desired.next_trigger_instants`).
        """
        ...

    async def mark(
        self, occurrence_id: int, state: OccurrenceState, reason: str, at: datetime
    ) -> None:
        """Persist a state change made at ``at``.

        LIVE sets the actual start if it is unset; ENDED, MISSED and FAILED set the actual end
        where that is meaningful.
        """
        ...


@dataclass(frozen=True, slots=True)
class RunnerEvent:
    """One thing a :class:`LoggingSessionRunner` did, for tests and diagnostics."""

    kind: Literal["start", "phase", "stop"]
    occurrence_id: int
    phase: Phase | None
    at: datetime
    reason: str = ""


class LoggingSessionRunner:
    """A :class:`SessionRunner` that runs nothing: it keeps the would-be state and logs changes.

    ``phases`` maps running occurrence ids to their phase, ``requests`` holds the request each was
    last started with, and ``events`` lists every change in order with its wall-clock time. Calls
    that change nothing (idempotent repeats) are not recorded as events.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock: Clock = clock if clock is not None else SystemClock()
        self.phases: dict[int, Phase] = {}
        self.requests: dict[int, SessionRequest] = {}
        self.events: list[RunnerEvent] = []

    async def start(self, request: SessionRequest) -> None:
        oid = request.occurrence_id
        current = self.phases.get(oid)
        self.requests[oid] = request
        if current is request.phase:
            log.debug("occurrence %s already running in phase %s", oid, current.value)
            return
        kind: Literal["start", "phase"] = "start" if current is None else "phase"
        reason = "started" if current is None else f"{current.value} -> {request.phase.value}"
        self.phases[oid] = request.phase
        self.events.append(RunnerEvent(kind, oid, request.phase, self._clock.now(), reason))
        log.info(
            "session %s: occurrence %s %r in room %s, phase %s",
            kind,
            oid,
            request.title,
            request.room_id,
            request.phase.value,
        )

    async def stop(self, occurrence_id: int, reason: str) -> None:
        if self.phases.pop(occurrence_id, None) is None:
            return
        request = self.requests.pop(occurrence_id, None)
        title = request.title if request is not None else "?"
        self.events.append(RunnerEvent("stop", occurrence_id, None, self._clock.now(), reason))
        log.info("session stop: occurrence %s %r (%s)", occurrence_id, title, reason)

    def running(self) -> set[int]:
        return set(self.phases)

    def events_of(self, occurrence_ids: Iterable[int] | int) -> list[RunnerEvent]:
        """The recorded events of one or several occurrences, in order."""
        wanted = {occurrence_ids} if isinstance(occurrence_ids, int) else set(occurrence_ids)
        return [event for event in self.events if event.occurrence_id in wanted]
