"""The injected source of "now" for everything in schedules/ that acts on time.

Reconciliation decisions depend only on the instant they are made at, so production code asks a
:class:`Clock` instead of calling ``datetime.now`` itself; tests pass a :class:`FakeClock` and move
it by hand, which makes time-dependent behaviour testable without sleeping. Every clock returns
timezone-aware UTC datetimes, the convention of :mod:`schedules.domain`. The clocks themselves live
in :mod:`foundation.clock`, so the one clock the composition root creates serves every package.
"""

from __future__ import annotations

from foundation.clock import Clock, FakeClock, SystemClock

__all__ = ["Clock", "FakeClock", "SystemClock"]
