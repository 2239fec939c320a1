"""Shared pieces of the benchmarks: figures, percentiles, CPU time from kernel accounting."""

from __future__ import annotations

import os
import resource
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    target: str = ""  # e.g. "≤ 0.004"; empty when the figure is informational
    before: str = ""  # the same figure measured earlier, with its date, to compare side by side

    def row(self) -> tuple[str, str, str, str, str]:
        value = f"{self.value:.4g}" if isinstance(self.value, float) else str(self.value)
        return self.name, value, self.unit, self.target, self.before


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (alive) from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def self_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def print_table(title: str, figures: list[Figure]) -> None:
    columns = 5 if any(f.before for f in figures) else 4
    header = ("figure", "value", "unit", "target", "before")[:columns]
    rows = [header, *(f.row()[:columns] for f in figures)]
    widths = [max(len(row[i]) for row in rows) for i in range(columns)]
    print(f"\n## {title}")
    for index, row in enumerate(rows):
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if index == 0:
            print("  ".join("-" * w for w in widths))


async def serve_offers(
    offer: Callable[[web.Request], Awaitable[web.Response]],
) -> tuple[web.AppRunner, str]:
    """A WHEP-like endpoint (``POST /whep`` → ``offer``) on a free loopback port: its runner
    (the caller cleans it up) and its URL."""
    app = web.Application()
    app.router.add_post("/whep", offer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/whep"
