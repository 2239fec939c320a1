"""Is a partner's server there? The ready probe of an RTMP(S) partner's supervisor: a TCP connect
to the host and port of its push URL, so a partner back after an outage is reached again within
a second instead of after the backoff the outage built up (see ``FfmpegSupervisor``).

SRT runs over UDP and HLS is pulled from us: those partners get no probe and keep the backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit

from streaming.ffmpeg.supervisor import ReadyProbe

DEFAULT_PORTS = {"rtmp": 1935, "rtmps": 443}


def tcp_probe(url: str | None) -> ReadyProbe | None:
    """A probe for ``url``'s server, or None where a TCP connect says nothing."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:  # a port out of range: the URL check refuses those anyway
        return None

    async def probe() -> bool:
        _reader, writer = await asyncio.open_connection(host, port)
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True

    return probe
