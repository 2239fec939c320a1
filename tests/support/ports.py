"""Loopback port helpers for tests: pick a free TCP port and wait until something listens on it.

Owned by the media test harness. Everything here is loopback-only: tests never touch the network.
The waits take an explicit ``timeout`` (the signature other fixtures code against) rather than
relying on callers to wrap them in ``asyncio.timeout``: a harness wait without a bound is a bug.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time


def free_tcp_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that was free on ``host`` a moment ago.

    The kernel picks the port (bind to 0), so parallel test processes don't collide the way a
    fixed range would. There is an unavoidable race between closing this socket and the caller
    binding the port; callers that spawn servers (see ``NginxRtmpPartner``) retry on a bind failure.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


async def port_accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    """Return True if a TCP connection to ``host:port`` succeeds within ``timeout`` seconds."""
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError, TimeoutError):
        await asyncio.wait_for(writer.wait_closed(), timeout)
    return True


async def wait_for_port(host: str, port: int, timeout: float = 10.0) -> None:
    """Wait until ``host:port`` accepts TCP connections; ``TimeoutError`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"nothing accepted TCP on {host}:{port} within {timeout:.1f} s")
        if await port_accepts(host, port, timeout=min(0.5, remaining)):
            return
        await asyncio.sleep(0.02)


async def wait_for_port_closed(host: str, port: int, timeout: float = 10.0) -> None:
    """Wait until ``host:port`` refuses TCP connections; ``TimeoutError`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while await port_accepts(host, port, timeout=0.5):
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{host}:{port} still accepts TCP after {timeout:.1f} s")
        await asyncio.sleep(0.02)
