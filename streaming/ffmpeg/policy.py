"""The vocabulary of FFmpeg supervision: process states, restart policy, state-change events.

Kept apart from the supervisor so that listeners (metrics, the UI, the seminar controller) can
depend on these small frozen types without the process machinery.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass
from datetime import datetime


class ProcessState(enum.StrEnum):
    IDLE = "idle"  # never started
    STARTING = "starting"  # spawned, no progress block yet
    RUNNING = "running"
    BACKOFF = "backoff"  # waiting before the next restart
    STOPPING = "stopping"  # SIGINT sent, waiting for the exit
    STOPPED = "stopped"  # by request, or finished (policy.restart_on_clean_exit=False)
    FAILED = "failed"  # gave up: max_restarts reached, executable missing, argv factory broke


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    initial_backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.2  # ± fraction of the delay, so many outputs do not retry in lockstep
    stale_timeout_s: float = 10.0  # running, but no progress block for this long → restart
    grace_s: float = 5.0  # SIGINT → SIGKILL
    startup_timeout_s: float = 10.0  # spawned, but no first progress block → restart
    reset_after_s: float = 30.0  # a run this long (in "running") resets the backoff
    max_restarts: int | None = None  # consecutive failed runs before "failed"; None = forever
    restart_on_clean_exit: bool = True  # live outputs: yes; one-shot jobs: exit 0 → "stopped"

    def backoff_s(self, attempt: int, rng: random.Random) -> float:
        """Delay before restart number ``attempt`` (1-based) of a failure streak."""
        # Cap the exponent: a partner that is down for a week must not overflow a float.
        exponent = min(max(0, attempt - 1), 64)
        base = min(self.max_backoff_s, self.initial_backoff_s * self.multiplier**exponent)
        return max(0.0, min(self.max_backoff_s, base * (1 + self.jitter * rng.uniform(-1, 1))))


@dataclass(frozen=True, slots=True)
class SupervisorEvent:
    name: str
    old_state: ProcessState
    new_state: ProcessState
    reason: str
    exit_code: int | None
    restarts: int
    at: datetime  # UTC wall clock, for the UI; order events by arrival, not by this
