"""Handshake admission: how many viewers may be connecting (ICE + DTLS) at the same time.

A burst of offers (a course's learners all clicking the link at 18:00, every viewer coming back
after a service restart) would otherwise start hundreds of ICE and DTLS handshakes at once on
the event loop that also sends the media: each takes CPU, their retransmission timers fire
while the loop is busy, and many time out together. The gate lets ``limit`` viewers connect at
a time; further offers wait in line (at most ``queue`` of them, each at most ``wait_s``) and
beyond that are told to come back shortly. A slot is held from the answer until the viewer is
connected, fails or times out.
"""

from __future__ import annotations

import asyncio
from collections import deque


class GateBusy(Exception):
    """No slot: the line is full, or the wait in it ran out."""


class AdmissionGate:
    """``limit`` holders at once, first come first served; ``release()`` once per ``acquire()``."""

    def __init__(self, limit: int, queue: int, wait_s: float) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.queue = queue
        self.wait_s = wait_s
        self.held = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        return sum(not waiter.done() for waiter in self._waiters)

    async def acquire(self) -> None:
        """Take a slot, waiting in line if all are held; GateBusy if that is not possible."""
        if self.held < self.limit and not self.waiting:
            self.held += 1
            return
        if self.waiting >= self.queue:
            raise GateBusy(f"{self.waiting} offers already waiting")
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(self.wait_s):
                await waiter
        except BaseException as exc:
            # A slot handed over just as the wait ended goes to the next in line.
            if waiter.done() and not waiter.cancelled():
                self.release()
            else:
                waiter.cancel()
            if isinstance(exc, TimeoutError):
                raise GateBusy(f"no handshake slot within {self.wait_s:g} s") from None
            raise
        finally:
            self._discard_done()

    def release(self) -> None:
        """Give the slot to the first in line, or free it."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot changes hands; ``held`` stays the same
                return
        self.held -= 1

    def _discard_done(self) -> None:
        while self._waiters and self._waiters[0].done():
            self._waiters.popleft()
