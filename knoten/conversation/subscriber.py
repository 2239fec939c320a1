"""A connected page as the conversation sees it: where its events go, in order, and when it is
cut loose.

Fast path: a broadcast event is serialized and framed once (server frames are unmasked, and the
conversation's sockets do not compress, so the bytes are the same for every page) and written
straight to each page's transport, as long as nothing of that page waits in its queue and its
write buffer is small. Otherwise the event goes into the page's bounded queue, which the page's
handler drains with backpressure; a page that falls :data:`QUEUE_EVENTS` behind is closed and
reconnects to a fresh snapshot. Writing a frame is one synchronous ``transport.write``, so frames
never interleave with the ones aiohttp writes itself (pings, close).
"""

from __future__ import annotations

import asyncio
import struct
from typing import Literal

Role = Literal["participant", "host", "display"]
QUEUE_EVENTS = 256
#: Above this many unsent bytes a page's events wait in its queue instead.
DIRECT_WRITE_LIMIT = 64 * 1024


def text_frame(payload: bytes) -> bytes:
    """An unmasked, final WebSocket text frame (RFC 6455 §5.2) carrying ``payload``."""
    size = len(payload)
    if size < 126:
        return bytes((0x81, size)) + payload
    if size < 65536:
        return struct.pack("!BBH", 0x81, 126, size) + payload
    return struct.pack("!BBQ", 0x81, 127, size) + payload


class Subscriber:
    """One connected page. The handler drains :attr:`queue`; ``None`` in it means "close"."""

    def __init__(
        self,
        role: Role,
        participant_id: int | None = None,
        transport: asyncio.BaseTransport | None = None,
    ) -> None:
        self.role = role
        self.participant_id = participant_id
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(QUEUE_EVENTS)
        self.closed = False
        # The page's connection, for the fast path; None: always through the queue.
        self._transport = transport if isinstance(transport, asyncio.WriteTransport) else None

    def deliver(self, payload: str, frame: bytes) -> None:
        """A broadcast event: ``frame`` is ``payload`` as a text frame (see the module doc)."""
        transport = self._transport
        if (
            transport is not None
            and not self.closed
            and self.queue.empty()
            and not transport.is_closing()
            and transport.get_write_buffer_size() < DIRECT_WRITE_LIMIT
        ):
            transport.write(frame)
        else:
            self.push(payload)

    def push(self, payload: str | None) -> None:
        if self.closed:
            return
        try:
            self.queue.put_nowait(payload)
        except asyncio.QueueFull:
            self.close()  # too slow: it reconnects and gets a fresh snapshot
        if payload is None:
            self.closed = True

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(None)
