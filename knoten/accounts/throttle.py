"""Sign-in rate limiting per account and per address: after 5 failures a growing delay.

After the fifth failure in a row a key (an account name or a client address) is locked for 1 s,
after the sixth for 2 s, then 4 s, 8 s … up to 15 minutes; a successful sign-in clears the
account's key and the address's key. Held in memory: a restart forgives, which is harmless for
argon2 hashes of at least ten characters. No tasks: old entries are dropped lazily.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

FREE_FAILURES = 5
MAX_DELAY_S = 15 * 60
#: A key without a failure for this long is forgotten.
FORGET_AFTER_S = 3600
MAX_KEYS = 10_000


@dataclass
class _Failures:
    count: int
    locked_until: float
    last: float


class SigninThrottle:
    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._keys: dict[str, _Failures] = {}

    def wait_seconds(self, *keys: str) -> int:
        """Seconds until any of ``keys`` may try again (0: it may try now)."""
        now = self._now()
        waits = [self._keys[k].locked_until - now for k in keys if k in self._keys]
        return max(0, math.ceil(max(waits, default=0)))

    def failed(self, *keys: str) -> None:
        now = self._now()
        self._prune(now)
        for key in keys:
            entry = self._keys.setdefault(key, _Failures(0, now, now))
            entry.count += 1
            entry.last = now
            if entry.count >= FREE_FAILURES:
                delay = min(MAX_DELAY_S, 2 ** (entry.count - FREE_FAILURES))
                entry.locked_until = now + delay

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self._keys.pop(key, None)

    def _prune(self, now: float) -> None:
        if len(self._keys) < MAX_KEYS:
            return
        for key, entry in list(self._keys.items()):
            if now - entry.last > FORGET_AFTER_S and entry.locked_until < now:
                del self._keys[key]
        while len(self._keys) >= MAX_KEYS:
            del self._keys[min(self._keys, key=lambda k: self._keys[k].last)]
