"""Reconciliation: make what runs match what the schedule says should run, now.

:class:`Reconciler` is the only place that turns the pure plan of :func:`schedules.desired.plan`
into effects: it reads the candidates from an :class:`~schedules.ports.OccurrenceSource`, asks the
:class:`~schedules.ports.SessionRunner` what runs, plans, and carries the actions out. It is safe
to call at any time and as often as wanted (triggers, API edits, manual actions and the boot run
all call it); a call right after another finds nothing to do.

With several nodes on one database a :class:`~schedules.ports.LeaseGate` decides which node runs
a date: a start happens only on the node that takes the date's lease, and a stop gives it back.

Failure policy: every action is isolated. A session that fails to start is marked FAILED (and
whatever it left running is stopped) so it is not retried in a loop; any other failed action is
logged and simply left for the next reconciliation, which plans it again because the world still
differs from the schedule. Only a failure to read the candidates aborts the call.
"""

from __future__ import annotations

import asyncio
import logging
from typing import cast

from schedules.clock import Clock
from schedules.desired import Action, MarkEnded, MarkMissed, Start, Stop, plan
from schedules.domain import OccurrenceId, OccurrenceState, OccurrenceView, Phase
from schedules.ports import (
    LeaseGate,
    OccurrenceSource,
    SessionInfo,
    SessionRequest,
    SessionRunner,
)

log = logging.getLogger(__name__)


class Reconciler:
    def __init__(
        self,
        source: OccurrenceSource,
        runner: SessionRunner,
        clock: Clock,
        leases: LeaseGate | None = None,
    ) -> None:
        self._source = source
        self._runner = runner
        self._clock = clock
        # Several nodes on one database: a date starts here only with its lease (None: one node).
        self._leases = leases
        # Triggers, API edits and the boot run may coincide; two interleaved runs would both see
        # the same "not running yet" and act twice, so runs are strictly one after the other.
        self._lock = asyncio.Lock()

    async def reconcile(self, *, boot: bool = False) -> list[Action]:
        """Plan at the current instant and carry the plan out; return the actions that succeeded.

        ``boot`` only changes the wording of the reasons (see :func:`schedules.desired.plan`).
        """
        async with self._lock:
            now = self._clock.now()
            candidates = await self._source.reconcile_candidates(now)
            by_id: dict[OccurrenceId, tuple[OccurrenceView, SessionInfo]] = {
                view.id: (view, info) for view, info in candidates
            }
            actions = plan(
                (view for view, _ in candidates),
                self._runner.running(),
                now,
                started_at_boot=boot,
            )
            done: list[Action] = []
            for action in actions:
                if await self._execute(action, by_id):
                    done.append(action)
            return done

    async def _execute(
        self,
        action: Action,
        by_id: dict[OccurrenceId, tuple[OccurrenceView, SessionInfo]],
    ) -> bool:
        oid = _db_id(action.occurrence_id)
        known = by_id.get(action.occurrence_id)
        title = known[0].title if known is not None else "?"
        at = self._clock.now()
        try:
            match action:
                case Stop():
                    log.info("stop occurrence %s %r: %s", oid, title, action.reason)
                    await self._runner.stop(oid, action.reason)
                    if self._leases is not None:
                        await self._leases.release(oid)
                case MarkEnded():
                    log.info("mark occurrence %s %r ended: %s", oid, title, action.reason)
                    await self._source.mark(oid, OccurrenceState.ENDED, action.reason, at)
                case MarkMissed():
                    log.info("mark occurrence %s %r missed: %s", oid, title, action.reason)
                    await self._source.mark(oid, OccurrenceState.MISSED, action.reason, at)
                case Start():
                    if known is None:  # plan() only starts what it was given; guard anyway
                        raise LookupError(f"occurrence {oid} is not among the candidates")
                    return await self._start(action, *known)
        except Exception:
            # Not the caller's problem: the world still differs from the plan, so the next
            # reconciliation plans the same action again.
            log.exception(
                "%s of occurrence %s failed; retrying at the next reconciliation",
                type(action).__name__,
                oid,
            )
            return False
        return True

    async def _start(self, action: Start, view: OccurrenceView, info: SessionInfo) -> bool:
        oid = _db_id(view.id)
        claimed = self._leases is not None and oid not in self._runner.running()
        if claimed and self._leases is not None and not await self._leases.claim(oid):
            # Another node runs it: its reconciler starts, marks and stops it, not this one.
            return False
        log.info(
            "start occurrence %s %r in room %s, phase %s: %s",
            oid,
            view.title,
            view.room_id,
            action.phase.value,
            action.reason,
        )
        try:
            await self._runner.start(_request(view, info, action.phase))
        except Exception as exc:
            await self._start_failed(oid, view.title, exc)
            if claimed and self._leases is not None:
                await self._leases.release(oid)
            return False
        if action.phase is Phase.LIVE and view.state is OccurrenceState.SCHEDULED:
            # If this mark fails the occurrence keeps running; the next reconciliation plans
            # "going live" again, which repeats the (idempotent) start and this mark.
            await self._source.mark(oid, OccurrenceState.LIVE, action.reason, self._clock.now())
        return True

    async def _start_failed(self, oid: int, title: str, exc: Exception) -> None:
        # FAILED is terminal, so the plan will not retry this start every time a trigger fires; a
        # half-started session would otherwise hold the room, hence the best-effort stop.
        reason = f"start failed: {type(exc).__name__}: {exc}"
        log.error("occurrence %s %r: %s", oid, title, reason, exc_info=exc)
        try:
            await self._source.mark(oid, OccurrenceState.FAILED, reason, self._clock.now())
        except Exception:
            log.exception("could not mark occurrence %s failed", oid)
        if oid in self._runner.running():
            try:
                await self._runner.stop(oid, reason)
            except Exception:
                log.exception("could not stop occurrence %s after its failed start", oid)


def _db_id(value: OccurrenceId | None) -> int:
    # The domain allows int | str identifiers; the ports speak the database's int keys. Values
    # reaching the reconciler come from the source, so they already are ints at runtime.
    return cast(int, value)


def _request(view: OccurrenceView, info: SessionInfo, phase: Phase) -> SessionRequest:
    if view.seminar_id is None:
        raise ValueError(f"occurrence {view.id!r} belongs to no stored seminar")
    return SessionRequest(
        occurrence_id=_db_id(view.id),
        seminar_id=_db_id(view.seminar_id),
        room_id=_db_id(view.room_id),
        title=view.title,
        phase=phase,
        start_utc=view.start_utc,
        end_utc=view.end_utc,
        record=info.record,
        partner_ids=info.partner_ids,
    )
