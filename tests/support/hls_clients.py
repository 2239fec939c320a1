"""Simulated HLS viewers: many light players in one process, for the HTTP cache tests.

Run as ``python -m tests.support.hls_clients URL --clients 250 --seconds 20``; prints one JSON
object. Each client behaves like a live player without decoding: it reloads the playlist once
per target duration, starts at the newest segment and then fetches every segment that appears,
reading each body to its end. For every segment it records the latency at the client: the
instant its last byte arrived minus the end of the segment in the room's time
(``EXT-X-PROGRAM-DATE-TIME`` + ``EXTINF`` duration). Clients start spread over one target
duration, as real viewers do not arrive in the same millisecond.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urljoin

import aiohttp


@dataclass
class Segment:
    uri: str
    ends_at: float  # unix seconds: program date time + duration


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    playlists: int = 0
    segments: int = 0
    bytes: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


def parse_playlist(text: str) -> tuple[float, list[Segment]]:
    """The target duration and the segments (with their end in unix seconds) of a playlist."""
    target = 1.0
    segments: list[Segment] = []
    when: float | None = None
    duration = 0.0
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#EXT-X-TARGETDURATION:"):
            target = float(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            when = datetime.fromisoformat(line.split(":", 1)[1]).timestamp()
        elif line.startswith("#EXTINF:"):
            duration = float(line.split(":", 1)[1].split(",")[0])
        elif line and not line.startswith("#") and when is not None:
            segments.append(Segment(line, when + duration))
            when += duration  # the next one follows unless it carries its own tag
    return target, segments


async def viewer(
    http: aiohttp.ClientSession, url: str, until: float, tally: Tally, delay: float
) -> None:
    await asyncio.sleep(delay)
    seen: str | None = None
    while time.time() < until:
        started = time.monotonic()
        target = 1.0
        try:
            async with http.get(url) as response:
                text = await response.text()
                status = response.status
            tally.playlists += 1
            if status != 200:
                tally.error(f"playlist {status}")
            else:
                target, segments = parse_playlist(text)
                uris = [s.uri for s in segments]
                # A new viewer starts at the newest segment; then every one after the last.
                fresh = segments[-1:] if seen not in uris else segments[uris.index(seen) + 1 :]
                for segment in fresh:
                    await fetch_segment(http, urljoin(url, segment.uri), segment, tally)
                    seen = segment.uri
        except (aiohttp.ClientError, TimeoutError) as exc:
            tally.error(type(exc).__name__)
        await asyncio.sleep(max(0.0, target - (time.monotonic() - started)))


async def fetch_segment(
    http: aiohttp.ClientSession, url: str, segment: Segment, tally: Tally
) -> None:
    async with http.get(url) as response:
        if response.status != 200:
            tally.error(f"segment {response.status}")
            await response.read()
            return
        size = 0
        async for chunk in response.content.iter_any():
            size += len(chunk)
    arrived = time.time()
    tally.segments += 1
    tally.bytes += size
    tally.names.add(segment.uri)
    tally.latencies.append(round(arrived - segment.ends_at, 4))


async def run(url: str, clients: int, seconds: float) -> dict[str, object]:
    tally = Tally()
    until = time.time() + seconds
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        await asyncio.gather(
            *(viewer(http, url, until, tally, random.uniform(0, 1.0)) for _ in range(clients))
        )
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "clients": clients,
        "latencies": tally.latencies,
        "playlists": tally.playlists,
        "segments": tally.segments,
        "bytes": tally.bytes,
        "errors": tally.errors,
        "names": sorted(tally.names),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--clients", type=int, default=250)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(run(args.url, args.clients, args.seconds))))


if __name__ == "__main__":
    main(sys.argv[1:])
