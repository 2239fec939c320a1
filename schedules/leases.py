"""Live leases, the rules: which node may run a live date when several share one database.

A node runs a date's live session only while it holds that date's lease: a row naming the node
and an expiry, renewed every ``renew_s`` for ``ttl_s`` more. Plain functions of the lease and the
time, so the rules are tested without a database; :mod:`schedules.lease_store` states the same
rules as SQL conditions, and :mod:`schedules.lease_keeper` applies them on a timer.

* A node may take a lease that nobody holds, that has expired, or that is its own already (a
  restarted node with the same id picks its dates up at once, without waiting for the expiry).
* A node renews only its own lease; renewing one another node took fails, and the loser stops.
* Fencing: a node that could not renew for ``fence_after_s`` stops the date by itself, before the
  lease can have expired anywhere (``fence_after_s < ttl_s``), so two nodes never knowingly run
  one date. Expiry is judged by each node's own clock: nodes need NTP, and a clock skew between
  them eats into that margin.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

#: What a node id may look like (it appears in logs, the API and the database).
NODE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True, slots=True)
class Lease:
    """Node ``node_id`` (reachable at ``node_url``) runs ``occurrence_id`` until ``expires_at``."""

    occurrence_id: int
    node_id: str
    node_url: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class LeaseTiming:
    """How often a lease is renewed and how long one renewal holds."""

    renew_s: float = 2.0
    ttl_s: float = 6.0

    def __post_init__(self) -> None:
        if self.renew_s <= 0:
            raise ValueError("renew_s must be positive")
        if self.ttl_s < 2 * self.renew_s:
            # A single late renewal must not hand a healthy node's dates to another node.
            raise ValueError("ttl_s must be at least twice renew_s")

    @property
    def ttl(self) -> timedelta:
        return timedelta(seconds=self.ttl_s)

    @property
    def fence_after_s(self) -> float:
        """Seconds without a successful renewal after which a node stops its date itself: one
        renewal interval before the lease runs out for everybody else."""
        return self.ttl_s - self.renew_s


def is_held(lease: Lease | None, now: datetime) -> bool:
    """Whether ``lease`` still binds its date to its node at ``now``."""
    return lease is not None and now < lease.expires_at


def may_take(lease: Lease | None, node_id: str, now: datetime) -> bool:
    """Whether ``node_id`` may take (or keep) the date of ``lease`` at ``now``."""
    return lease is None or lease.node_id == node_id or not is_held(lease, now)


def held_elsewhere(lease: Lease | None, node_id: str, now: datetime) -> bool:
    """Whether another node runs the date now: this node must leave it alone."""
    return lease is not None and not may_take(lease, node_id, now)


def must_fence(last_renewed_s: float, now_s: float, timing: LeaseTiming) -> bool:
    """Whether a node whose last successful renewal was at ``last_renewed_s`` (monotonic
    seconds) must stop the date at ``now_s``, because another node may take it soon."""
    return now_s - last_renewed_s >= timing.fence_after_s
