"""Soak: a live date for 60 minutes (10 with --short) with 50 viewers, 2 partners and the recording.

The parts are the service's own, wired as ``knoten/app.py`` wires them, without the HTTP pages:
a ``LiveSession`` (test pattern camera 720p30, slate, switch, remote-audio mix, WebRTC feed) with
two RTMP partners on the master profile (nginx-rtmp stand-ins on loopback), the real
``Recorder`` + ``Finalizer`` on a temporary SQLite catalog, and the WebRTC viewers in the
service's two worker processes (``ShardedRegistry``). 50 viewers join through a WHEP-like
offer endpoint; they are the light counting receivers of ``bench_webrtc`` (two processes, RTP
counted and sequence gaps noted, nothing decoded).

Figures:

* RSS slope: the service-side processes (this one — switch, feed hubs, recorder — plus the
  viewer workers), sampled every ``SAMPLE_S`` after a warm-up of ``WARMUP_S``, least-squares
  slope in MiB per 10 minutes (target ≤ 1 MiB per 10 minutes), in all and per process.
  ``KNOTEN_SOAK_TRACEMALLOC=1`` also prints where this process's Python allocations grew.
* Lost at viewers: RTP packets missing by sequence number at the 50 viewers over the soak
  (target 0 on loopback), and video frames received against 30 fps × duration × viewers.
* Recording length against wall time: the finalized MP4's duration minus the time between
  ``Recorder.start`` and ``Recorder.stop`` (target ± 1 s).

``python -m bench soak`` (and ``make bench``) runs the 10-minute soak so a whole ``make bench``
stays short; ``KNOTEN_SOAK_MINUTES=60`` (or ``python -m bench.bench_soak --minutes 60``) the full
hour; ``--short`` the 10-minute one; ``--minutes N`` any length (a few minutes to check the set-up).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry

from bench.bench_webrtc import PER_WORKER, WORKER, ask, spawn
from bench.common import Figure, serve_offers
from foundation.malloc_arenas import limit_malloc_arenas
from knoten.db import Database
from recordings.catalog import Catalog
from recordings.diskguard import DiskGuard
from recordings.finalize import Finalizer
from recordings.metrics import RecordingMetrics
from recordings.paths import ArchivePaths
from recordings.recorder import Recorder
from streaming.ffmpeg.registry import FfmpegProcesses
from streaming.live.plan import CameraSource, PartnerTarget, SessionPlan
from streaming.live.session import LiveSession
from streaming.webrtc import ViewerLimitReached, WebrtcOptions, WebrtcRegistry
from streaming.webrtc.shards import ShardedRegistry
from tests.support.nginx_rtmp import NginxRtmpPartner

VIEWERS = 50
PARTNERS = 2
SAMPLE_S = 30.0
WARMUP_S = 60.0
FPS = 30
OCCURRENCE = 1
# Diagnosis only (slows every allocation): trace the service process's Python allocations.
TRACE = os.environ.get("KNOTEN_SOAK_TRACEMALLOC") == "1"


def _rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _slope_per_10_min(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MiB) samples, in MiB per 10 minutes."""
    if len(samples) < 2:
        return math.nan
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_m = sum(m for _, m in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    cov = sum((t - mean_t) * (m - mean_m) for t, m in samples)
    return cov / var * 600 if var else math.nan


async def _wait(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def _offer_endpoint(registry: ShardedRegistry) -> tuple[web.AppRunner, str]:
    async def offer(request: web.Request) -> web.Response:
        try:
            _, answer = await registry.add_viewer(OCCURRENCE, await request.read())
        except ViewerLimitReached as exc:  # busy: the client comes back, as a player does
            return web.Response(status=503, headers={"Retry-After": str(exc.retry_after_s)})
        return web.Response(status=201, text=answer, content_type="application/sdp")

    return await serve_offers(offer)


async def soak(minutes: float) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="knoten-soak-") as tmp_name:
        tmp = Path(tmp_name)
        partners = [NginxRtmpPartner(tmp / f"partner-{i}") for i in range(PARTNERS)]
        for partner in partners:
            await partner.start()
        db = Database(f"sqlite+aiosqlite:///{tmp / 'knoten.db'}")
        await db.start()
        processes = FfmpegProcesses()
        metrics = RecordingMetrics(CollectorRegistry())
        catalog = Catalog(lambda: db.engine)
        paths = ArchivePaths(tmp / "recordings")
        finalizer = Finalizer(catalog, paths, metrics, processes=processes)
        recorder = Recorder(catalog, paths, finalizer, DiskGuard(paths.root, 2**30), metrics,
                            processes=processes)  # fmt: skip
        plan = SessionPlan(
            occurrence_id=OCCURRENCE, title="Dauerlauf", start_label="18:00",
            camera=CameraSource("testsrc"), run_dir=tmp / "run", hls_dir=tmp / "hls",
            partners=tuple(PartnerTarget(i + 1, f"Partner {i + 1}", "rtmp", "720p",
                                         p.url(f"soak{i}")) for i, p in enumerate(partners)),
        )  # fmt: skip
        session = LiveSession(plan, processes)
        if TRACE:
            tracemalloc.start(8)
        options = WebrtcOptions(host_addresses=("127.0.0.1",), max_viewers=VIEWERS + 5)
        # KNOTEN_SOAK_WORKERS=0 keeps the viewers in this process (tracemalloc then sees them).
        workers = int(os.environ.get("KNOTEN_SOAK_WORKERS", "2"))
        registry = ShardedRegistry(options, workers=workers) if workers else WebrtcRegistry(options)
        clients: list[asyncio.subprocess.Process] = []
        runner = None
        try:
            await registry.start()
            await session.start(live=True)
            await _wait(lambda: session.source_status().on_air == "camera", 60, "camera")
            await _wait(lambda: all(o.state == "live" for o in session.outputs_status()), 60,
                        "partners")  # fmt: skip
            await registry.open(OCCURRENCE, session.webrtc_feed, plan.title)
            recording_started = time.monotonic()
            await recorder.start(OCCURRENCE, 1, plan.title, session.master_feed)
            runner, url = await _offer_endpoint(registry)
            shares = [PER_WORKER] * (VIEWERS // PER_WORKER)
            clients = [await spawn(WORKER, url, str(share)) for share in shares]
            ready = [await asyncio.wait_for(c.stdout.readline(), 300) for c in clients]  # type: ignore[union-attr]
            connected = sum(json.loads(line)["connected"] for line in ready)
            await asyncio.sleep(5)
            before = await ask(clients, "snap")
            began = time.monotonic()
            samples: list[tuple[float, float]] = []
            # Per process as well: which one grows, when the sum does.
            own: list[tuple[float, float]] = []
            workers: dict[int, list[tuple[float, float]]] = {}
            shards = getattr(registry, "_shards", [])
            pids = lambda: [s.process.pid for s in shards if s.process]  # noqa: E731
            end = began + minutes * 60
            traced = None
            while (now := time.monotonic()) < end:
                if now - began >= min(WARMUP_S, minutes * 60 / 4):
                    if TRACE and traced is None:
                        traced = tracemalloc.take_snapshot()
                    mine = _rss_mib(os.getpid())
                    theirs = {pid: _rss_mib(pid) for pid in pids()}
                    samples.append((now - began, mine + sum(theirs.values())))
                    own.append((now - began, mine))
                    for pid, mib in theirs.items():
                        workers.setdefault(pid, []).append((now - began, mib))
                await asyncio.sleep(min(SAMPLE_S, max(0.0, end - time.monotonic())))
            if traced is not None:
                _print_growth(traced, tracemalloc.take_snapshot())
            after = await ask(clients, "snap")
            elapsed = after[0]["t"] - before[0]["t"]
            outputs = session.outputs_status()
            await recorder.stop(OCCURRENCE)
            recording_wall = time.monotonic() - recording_started
            await finalizer.wait_idle()
            recording = (await catalog.list())[0]
        finally:
            with contextlib.suppress(Exception):
                await ask(clients, "quit")
            for client in clients:
                with contextlib.suppress(ProcessLookupError):
                    client.kill()
                await client.wait()
            if runner is not None:
                await runner.cleanup()
            await recorder.aclose()
            await registry.aclose()
            await session.aclose()
            await processes.aclose()
            await db.aclose()
            for partner in partners:
                await partner.stop()
    viewers_before = [v for reply in before for v in reply["viewers"]]
    viewers_after = [v for reply in after for v in reply["viewers"]]
    frames = sum(a[0] - b[0] for a, b in zip(viewers_after, viewers_before, strict=True))
    lost = sum(a[3] - b[3] for a, b in zip(viewers_after, viewers_before, strict=True))
    expected = FPS * elapsed * len(viewers_after)
    duration = recording.duration_s or 0.0
    rss_first = samples[0][1] if samples else math.nan
    rss_last = samples[-1][1] if samples else math.nan
    return [
        Figure("soak length", round(elapsed / 60, 1), "min"),
        Figure("viewers connected", connected, "", f"{VIEWERS}"),
        Figure("RSS service side (first sample)", round(rss_first, 1), "MiB"),
        Figure("RSS service side (last sample)", round(rss_last, 1), "MiB"),
        Figure("RSS slope", round(_slope_per_10_min(samples), 2), "MiB/10 min", "≤ 1"),
        Figure("  of it the service process", round(_slope_per_10_min(own), 2), "MiB/10 min"),
        *(
            Figure(
                f"  of it viewer worker {i + 1}", round(_slope_per_10_min(series), 2), "MiB/10 min"
            )
            for i, series in enumerate(workers.values())
        ),
        Figure("RTP packets lost at viewers", lost, "", "0"),
        Figure("video frames at viewers / expected", round(frames / expected, 4), "", "1.0"),
        Figure("partner restarts", sum(o.restarts for o in outputs), "", "0"),
        Figure("recording status", 1.0 if recording.status == "available" else 0.0, "available"),
        Figure("recording length − wall time", round(duration - recording_wall, 2), "s", "± 1"),
    ]


def _print_growth(first: tracemalloc.Snapshot, last: tracemalloc.Snapshot) -> None:
    """``KNOTEN_SOAK_TRACEMALLOC=1``: where the service process's Python memory grew between
    the end of the warm-up and the end of the soak (the 15 largest growths, on stderr)."""
    print("Python allocations that grew in the service process (tracemalloc):", file=sys.stderr)
    for stat in last.compare_to(first, "lineno")[:15]:
        print(f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks  "
              f"{stat.traceback}", file=sys.stderr)  # fmt: skip
    print("the 5 largest, with where they were made:", file=sys.stderr)
    for stat in last.compare_to(first, "traceback")[:5]:
        print(f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks", file=sys.stderr)
        for line in stat.traceback.format()[-16:]:
            print(f"      {line}", file=sys.stderr)


async def run() -> list[Figure]:
    """``python -m bench`` / ``make bench``: 10 minutes unless ``KNOTEN_SOAK_MINUTES`` says."""
    return await soak(float(os.environ.get("KNOTEN_SOAK_MINUTES", "10")))


def main(argv: list[str]) -> int:
    from bench.common import print_table

    parser = argparse.ArgumentParser(prog="python -m bench.bench_soak")
    parser.add_argument("--short", action="store_true", help="10 minutes instead of 60")
    parser.add_argument("--minutes", type=float, help="any length, e.g. 3 to check the set-up")
    args = parser.parse_args(argv)
    minutes = args.minutes or (10 if args.short else 60)
    limit_malloc_arenas()  # as the service does
    figures = asyncio.run(soak(minutes))
    print_table(f"soak: {minutes:g} minutes, {VIEWERS} viewers, {PARTNERS} partners", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
