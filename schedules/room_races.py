"""Bookings that lost a race for a room to a booking committed at the same moment.

The application checks conflicts inside the booking's transaction, which is enough on one node
with SQLite (one writer at a time). With several nodes on one PostgreSQL, two transactions can
each pass that check before either commits; the exclusion constraint on ``occurrences`` (room and
booked time range of every date that holds the room, migration 0012) then refuses the later
commit with ``exclusion_violation`` (23P01); a deadlock victim (40P01) or a serialization failure
(40001) is treated alike, should a deployment see one. Either way nothing of the refused attempt
was written, so :func:`retry_room_races` runs the operation again: its conflict check now sees the
other booking and raises :class:`~schedules.errors.SeminarConflict` (409) with the details,
exactly as if the other booking had come first.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

#: exclusion_violation, deadlock_detected, serialization_failure: a concurrent writer won.
RACE_SQLSTATES = frozenset({"23P01", "40P01", "40001"})
#: A lost race is normally decided on the second attempt; more are for several nodes at once.
ATTEMPTS = 5

P = ParamSpec("P")
T = TypeVar("T")


def sqlstate(exc: DBAPIError) -> str | None:
    """The SQLSTATE behind a wrapped driver error (asyncpg keeps it on the original error)."""
    for candidate in (exc.orig, getattr(exc.orig, "__cause__", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if code:
            return str(code)
    return None


def lost_room_race(exc: DBAPIError) -> bool:
    return sqlstate(exc) in RACE_SQLSTATES


def retry_room_races(method: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Run a whole transactional write again when it lost a race with another writer."""

    @functools.wraps(method)
    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        attempt = 1
        while True:
            try:
                return await method(*args, **kwargs)
            except DBAPIError as exc:
                if not lost_room_race(exc) or attempt >= ATTEMPTS:
                    raise
                log.info(
                    "%s lost a race with a concurrent booking (%s), attempt %d of %d",
                    method.__name__,
                    sqlstate(exc),
                    attempt,
                    ATTEMPTS,
                )
                attempt += 1

    return run
