"""Recordings: finalize time of a 10-minute recording, sha256 speed, recorder CPU while live.

The 10-minute recording is built from 10 s of real 720p segments (2.5 Mbps, 1 s GOP) copied 61
times as 61 recorder runs (a worst case: a seminar whose feed dropped 60 times): the concat
demuxer re-bases each run's timestamps, so the remux sees 10 minutes of media.
Recorder CPU is read from the kernel for its FFmpeg while it records the stand-in master
feed (copy only, no decoding).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import CollectorRegistry

from bench.common import Figure, process_cpu_seconds
from knoten.db import Database
from recordings import segments
from recordings.catalog import Catalog
from recordings.diskguard import DiskGuard
from recordings.finalize import Finalizer, sha256_file
from recordings.metrics import RecordingMetrics
from recordings.paths import ArchivePaths
from recordings.recorder import Recorder
from streaming.ffmpeg.oneshot import run_to_completion
from tests.recordings.feeds import stand_in_feed

MINUTES = 10
LIVE_SECONDS = 10.0


def _source_argv(parts: Path) -> list[str]:
    return ["ffmpeg", "-nostdin", "-hide_banner", "-nostats", "-loglevel", "error",
            "-progress", "pipe:1", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "10",
            "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "ultrafast",
            "-b:v", "2500k", "-g", "30", "-pix_fmt", "yuv420p", "-c:a", "aac",
            "-f", "segment", "-segment_time", "2", "-segment_format", "mpegts",
            str(parts / "src-%05d.ts")]  # fmt: skip


async def _finalize_figures(tmp: Path) -> list[Figure]:
    db = Database(f"sqlite+aiosqlite:///{tmp / 'bench.db'}")
    await db.start()
    try:
        catalog = Catalog(lambda: db.engine)
        paths = ArchivePaths(tmp / "recordings")
        finalizer = Finalizer(catalog, paths, RecordingMetrics(CollectorRegistry()))
        recording = await catalog.create(1, 1, "Bench", datetime.now(UTC))
        parts = paths.parts_dir(recording.id)
        parts.mkdir(parents=True)
        await run_to_completion("bench-source", _source_argv(parts), timeout=300)
        sources = sorted(parts.glob("src-*.ts"))
        copies = MINUTES * 60 // (2 * len(sources)) + 1
        # Each copy is its own "run" (as after a recorder restart): within a run timestamps
        # must be continuous, between runs the concat demuxer re-bases them.
        for run in range(1, copies + 1):
            for n, src in enumerate(sources):
                shutil.copyfile(src, parts / f"r{run:03d}-{n:05d}.ts")
        for src in sources:
            src.unlink()
        size = sum(p.stat().st_size for p in segments.completed(parts))
        started = time.perf_counter()
        await finalizer.finalize(recording.id)
        finalize_s = time.perf_counter() - started
        final = await catalog.get(recording.id)
        media = paths.media(recording.id)
        started = time.perf_counter()
        await asyncio.to_thread(sha256_file, media)
        sha_s = time.perf_counter() - started
    finally:
        await db.aclose()
    return [
        Figure("recording length", (final.duration_s or 0) / 60, "min"),
        Figure("segments size", size / 2**20, "MiB"),
        Figure("finalize (remux+probe+stills+sha256)", finalize_s, "s", "≤ 6"),
        Figure("finalize speed", (final.duration_s or 0) / finalize_s, "× real time", "≥ 100"),
        Figure("sha256", media.stat().st_size / 2**20 / sha_s, "MiB/s"),
    ]


async def _recorder_cpu(tmp: Path) -> list[Figure]:
    db = Database(f"sqlite+aiosqlite:///{tmp / 'live.db'}")
    await db.start()
    metrics = RecordingMetrics(CollectorRegistry())
    catalog = Catalog(lambda: db.engine)
    paths = ArchivePaths(tmp / "live")
    finalizer = Finalizer(catalog, paths, metrics)
    recorder = Recorder(catalog, paths, finalizer, DiskGuard(paths.root, 0), metrics)
    try:
        async with stand_in_feed(tmp / "feed.sock") as feed:
            await recorder.start(1, 1, "Live", feed)
            await asyncio.sleep(2.0)  # past the probe
            pid = recorder._active[1].supervisor.pid
            assert pid is not None
            cpu0, t0 = process_cpu_seconds(pid), time.monotonic()
            await asyncio.sleep(LIVE_SECONDS)
            cpu = (process_cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)
            await recorder.aclose()
    finally:
        await db.aclose()
    return [Figure("recorder FFmpeg CPU while live (640x360 feed)", cpu, "cores", "≤ 0.05")]


async def run() -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="knoten-bench-rec-") as tmp:
        figures = await _finalize_figures(Path(tmp))
        figures += await _recorder_cpu(Path(tmp))
    return figures
