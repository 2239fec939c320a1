"""The injected source of "now": the :class:`Clock` protocol, the wall clock and a fake for tests.

Code that acts on time asks a clock instead of calling ``datetime.now`` itself, so tests can pass a
:class:`FakeClock` and move it by hand instead of sleeping. Every clock returns timezone-aware UTC
datetimes. The composition root creates one clock and hands it to every package that needs one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant as an aware UTC datetime."""
        ...


class SystemClock:
    """The real wall clock (UTC)."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock that only moves when told to, for tests."""

    def __init__(self, now: datetime) -> None:
        self._now = _as_utc(now)

    def now(self) -> datetime:
        return self._now

    def set(self, now: datetime) -> None:
        self._now = _as_utc(now)

    def advance(self, delta: timedelta) -> None:
        self._now += delta


def _as_utc(value: datetime) -> datetime:
    # A naive datetime here would only fail later, deep inside a comparison; fail at the call site.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"clock time must be timezone-aware, got naive {value!r}")
    return value.astimezone(UTC)
