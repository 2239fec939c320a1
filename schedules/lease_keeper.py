"""The lease keeper: this node's live leases, renewed, fenced, and taken over from dead nodes.

Several Knoten nodes may share one database; each date's live session must run on exactly one of
them. :class:`LeaseKeeper` is the :class:`~schedules.ports.LeaseGate` the reconciler asks before
it starts a date here, and a loop every ``renew_s`` that

* renews the leases of the dates this node runs; one another node took, or one that could not be
  renewed for ``fence_after_s`` (database unreachable), is *fenced*: the ``fence`` callback stops
  the date here without finishing its recording, which the new holder continues;
* watches what the schedule wants: when the plan at this instant asks this node for anything but
  starts of dates another node holds (a dead node's lease expired, a date stopped or moved
  through another node), it reconciles. It wakes again just after the earliest foreign lease of a
  wanted date expires, so a dead node's dates move within about ``ttl_s`` of its last renewal.

With one node nothing changes for the librarian: the node always wins its own leases (also right
after a restart, under the same node id).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from schedules.clock import Clock
from schedules.desired import Start, plan
from schedules.lease_store import LeaseStore
from schedules.leases import Lease, LeaseTiming, held_elsewhere, is_held, must_fence
from schedules.ports import OccurrenceSource

log = logging.getLogger(__name__)

#: After a foreign lease's expiry, look again this much later (clock granularity, commit lag).
EXPIRY_SLACK_S = 0.05


class LeaseKeeper:
    def __init__(
        self,
        store: LeaseStore,
        source: OccurrenceSource,
        clock: Clock,
        *,
        node_id: str,
        node_url: str,
        running: Callable[[], set[int]],
        reconcile: Callable[[], Awaitable[object]],
        fence: Callable[[int, str], Awaitable[None]],
        timing: LeaseTiming | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.node_id = node_id
        self.node_url = node_url
        self._store = store
        self._source = source
        self._clock = clock
        self._running = running
        self._reconcile = reconcile
        self._fence_date = fence
        self._timing = timing or LeaseTiming()
        self._monotonic = monotonic
        # Dates this node holds → monotonic time of their last successful renewal (or take).
        self._held: dict[int, float] = {}
        self._tasks: list[asyncio.Task[None]] = []
        # Fences run beside the loops: stopping one date must not delay renewing the others.
        self._fencing: set[asyncio.Task[None]] = set()

    # -- the reconciler's gate ------------------------------------------------------------------

    async def claim(self, occurrence_id: int) -> bool:
        sent = self._monotonic()
        try:
            taken = await self._store.take(
                occurrence_id, self.node_id, self.node_url, self._clock.now(), self._timing.ttl
            )
        except Exception:
            # Unsure who runs it: not starting is the safe side; the next look tries again.
            log.warning("occurrence %s: lease not readable, not starting it", occurrence_id,
                        exc_info=True)  # fmt: skip
            return False
        if taken:
            self._held[occurrence_id] = sent
            log.info("occurrence %s: lease taken by node %s", occurrence_id, self.node_id)
        else:
            log.debug("occurrence %s runs on another node", occurrence_id)
        return taken

    async def release(self, occurrence_id: int) -> None:
        self._held.pop(occurrence_id, None)  # first: a renewal under way must not fence it
        try:
            await self._store.release(self.node_id, [occurrence_id])
        except Exception:
            # It expires by itself within ttl_s; another node then takes it if it is wanted.
            log.warning("occurrence %s: lease not released", occurrence_id, exc_info=True)

    def holds(self, occurrence_id: int) -> bool:
        return occurrence_id in self._held

    # -- what other components read -------------------------------------------------------------

    async def holder(self, occurrence_id: int) -> Lease | None:
        """The node that runs the date now (None: no node does)."""
        lease = (await self._store.holders([occurrence_id])).get(occurrence_id)
        return lease if is_held(lease, self._clock.now()) else None

    async def held_elsewhere(self) -> set[int]:
        """Dates another node runs now: their recordings are that node's to write or finish."""
        now = self._clock.now()
        leases = await self._store.holders()
        return {oid for oid, lease in leases.items() if held_elsewhere(lease, self.node_id, now)}

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        if not self._tasks:
            # Two loops: a reconciliation that starts a date may take seconds, and renewing the
            # other dates' leases must not wait for it.
            self._tasks = [
                asyncio.create_task(self._renewing(), name=f"lease-renew:{self.node_id}"),
                asyncio.create_task(self._watching(), name=f"lease-watch:{self.node_id}"),
            ]

    async def stop(self) -> None:
        """End the loops (shutdown: nothing is renewed, fenced or started from here on)."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # A fence under way finishes: it stops media work, which must not be left half done.
        await asyncio.gather(*list(self._fencing), return_exceptions=True)

    async def aclose(self) -> None:
        """After this node's dates stopped: hand every lease back, so another node takes the
        dates that go on at its next look instead of after the expiry. Idempotent."""
        await self.stop()
        held, self._held = sorted(self._held), {}
        if held:
            try:
                await self._store.release(self.node_id, held)
                log.info("leases of %s released for the other nodes", held)
            except Exception:
                log.warning("leases of %s not released; they expire by themselves", held,
                            exc_info=True)  # fmt: skip

    # -- the loop -------------------------------------------------------------------------------

    async def _renewing(self) -> None:
        while True:
            try:
                await self.renew()
            except Exception:
                log.exception("lease keeper: renewing failed; trying again")
            await asyncio.sleep(self._timing.renew_s)

    async def _watching(self) -> None:
        while True:
            delay = self._timing.renew_s
            try:
                delay = await self.watch()
            except Exception:
                log.exception("lease keeper: watching failed; trying again")
            await asyncio.sleep(delay)

    async def renew(self) -> None:
        """Renew every lease this node holds; fence the ones it lost or could not renew."""
        if not self._held:
            return
        sent = self._monotonic()
        asked = set(self._held)
        try:
            kept: set[int] | None = await self._store.renew(
                self.node_id, asked, self._clock.now() + self._timing.ttl
            )
        except Exception:
            log.warning("leases %s not renewed", sorted(asked), exc_info=True)
            kept = None
        if kept is not None:
            for oid in sorted(asked):
                if oid not in self._held:
                    continue  # released meanwhile
                if oid in kept:
                    self._held[oid] = sent
                else:
                    await self._fence(oid, "another node took the date over")
        now = self._monotonic()
        for oid, last in sorted(self._held.items()):
            if must_fence(last, now, self._timing):
                await self._fence(oid, f"lease not renewed for {now - last:.1f} s")

    async def watch(self) -> float:
        """Reconcile if the schedule wants something of this node now; returns the seconds
        until the next look."""
        now = self._clock.now()
        views = [view for view, _info in await self._source.reconcile_candidates(now)]
        running = self._running()
        actions = plan(views, running, now)
        wanted = {
            int(a.occurrence_id)
            for a in actions
            if isinstance(a, Start) and a.occurrence_id not in running
        }
        leases = await self._store.holders(wanted) if wanted else {}
        elsewhere = {oid: lease for oid, lease in leases.items()
                     if held_elsewhere(lease, self.node_id, now)}  # fmt: skip
        if any(not (isinstance(a, Start) and a.occurrence_id in elsewhere) for a in actions):
            await self._reconcile()
        delay = self._timing.renew_s
        for lease in elsewhere.values():
            until_free = (lease.expires_at - now).total_seconds() + EXPIRY_SLACK_S
            delay = min(delay, until_free)
        return max(delay, EXPIRY_SLACK_S)

    async def _fence(self, occurrence_id: int, reason: str) -> None:
        self._held.pop(occurrence_id, None)
        log.error("occurrence %s: %s; stopping it on node %s", occurrence_id, reason,
                  self.node_id)  # fmt: skip
        task = asyncio.create_task(
            self._stop_fenced(occurrence_id, f"fenced: {reason}"), name=f"fence:{occurrence_id}"
        )
        self._fencing.add(task)
        task.add_done_callback(self._fencing.discard)

    async def _stop_fenced(self, occurrence_id: int, reason: str) -> None:
        try:
            await self._fence_date(occurrence_id, reason)
        except Exception:
            log.exception("occurrence %s: could not stop it after losing its lease", occurrence_id)
