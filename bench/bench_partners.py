"""Partner fan-out: CPU of 1 vs 3 RTMP partners, a naive per-partner encode, time to first frame.

Everything runs in one process on this machine, one after the other, against real nginx-rtmp
partners on loopback (``tests.support.nginx_rtmp``, the stand-in the tests use; one nginx per
partner, ``record all``):

1. Knoten's ``LiveSession``: testsrc 720p30 camera, 1 RTMP partner on the 720p profile.
2. The same session with 3 RTMP partners on 720p (three nginx instances).
3. A naive baseline: 3 separate ffmpeg processes, each encoding the same 720p30 test pattern with
   the same 720p profile (``build_argv``) and pushing it to its own partner.

CPU is kernel accounting over a fixed window that begins ``SETTLE_S`` after every output is live
(and the camera is on air): utime+stime of every FFmpeg child from ``/proc/<pid>/stat`` (pids from
the supervisors, checked to be unchanged across the window) plus this Python process's own CPU
(``getrusage``: the MasterSwitch's demux threads, its muxer and the feed hubs on the event loop,
the supervisors' progress parsing). The partners' nginx is the partners' cost and reported apart.
Each encoder's frame counter is read too, so a window in which the machine could not keep up
(speed < 1×, which would understate the CPU) shows as such.

4. Time to first frame: from the call of ``LiveSession.start(live=True)`` until the partner's
   nginx has written the first H.264 picture (an FLV video tag with AVCPacketType 1, after the
   sequence header) into its recording, polled every ``POLL_S``; per start the slowest partner.
   The recording file appearing marks the partner accepting the RTMP publish. Runs 1 and 2 count
   as starts, plus ``EXTRA_STARTS`` short 1-partner starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import Figure, process_cpu_seconds, self_cpu_seconds
from streaming.ffmpeg.registry import FfmpegProcesses
from streaming.ffmpeg.spec import PROFILES, FfmpegSpec, Output, TestPattern, build_argv
from streaming.ffmpeg.supervisor import FfmpegSupervisor, ProcessState
from streaming.live.plan import CameraSource, PartnerTarget, SessionPlan
from streaming.live.session import LiveSession
from tests.support.nginx_rtmp import NginxRtmpPartner

PARTNERS = 3
WINDOW_S = 15.0
SETTLE_S = 2.0
EXTRA_STARTS = 2
POLL_S = 0.01
FPS = 30
LIVE_TIMEOUT_S = 40.0
WINDOW_ATTEMPTS = 2
FIRST_FRAME_TIMEOUT_S = 20.0


@dataclass
class Window:
    """CPU seconds per role over one measurement window."""

    wall: float
    cpu: dict[str, float]  # FFmpeg children by role
    frames: dict[str, int]  # frames each FFmpeg child produced in the window
    python: float
    python_loop: float  # the event-loop thread (switch mux, hub fan-out, supervisors)
    python_demux: float  # the switch's two demux threads
    nginx: float

    @property
    def ffmpeg(self) -> float:
        return sum(self.cpu.values())

    @property
    def total(self) -> float:
        return self.ffmpeg + self.python

    def cores(self, seconds: float) -> float:
        return seconds / self.wall

    def role_cores(self, prefix: str) -> list[float]:
        return [v / self.wall for k, v in self.cpu.items() if k.startswith(prefix)]

    def min_speed(self) -> tuple[float, str]:
        return min((n / (FPS * self.wall), role) for role, n in self.frames.items())

    def per_video_second(self) -> float:
        """CPU-s per second of video, each FFmpeg child by the frames it produced itself (so
        the figure means the cost at 1× even when a loaded machine let a process fall behind);
        Python by the mean of its children's video seconds."""
        video_s = {role: max(1, n) / FPS for role, n in self.frames.items()}
        spent = sum(self.cpu[role] / video_s[role] for role in self.cpu)
        return spent + self.python / statistics.fmean(video_s.values())


@dataclass
class Start:
    """Timings (s after ``start()`` was called) of one session start."""

    on_air: float | None = None  # the switch put a source (slate or camera) on the master
    camera_on_air: float | None = None
    first_source: str | None = None
    publish: dict[str, float] = field(default_factory=dict)  # partner key → FLV file created
    frame: dict[str, float] = field(default_factory=dict)  # partner key → first picture
    timed_out: bool = False

    @property
    def slowest(self) -> float:
        """Until every partner had its first picture (inf when one never got it)."""
        return math.inf if self.timed_out else max(self.frame.values())


# -- /proc and FLV helpers (synchronous, tiny reads) ------------------------------------------


def _thread_cpu_seconds(tid: int) -> float:
    fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _python_threads() -> tuple[float, float]:
    """CPU seconds of (the main/event-loop thread, the switch demux threads)."""
    demux = 0.0
    for thread in threading.enumerate():
        if thread.name.startswith("switch-") and thread.native_id is not None:
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                demux += _thread_cpu_seconds(thread.native_id)
    return _thread_cpu_seconds(threading.main_thread().native_id or os.getpid()), demux


def _flv_has_picture(path: Path) -> bool:
    """True once the FLV file holds a complete H.264 picture tag (not just the AVC header)."""
    with path.open("rb") as f:
        data = f.read(1 << 20)
    if len(data) < 13 or data[:3] != b"FLV":
        return False
    pos = int.from_bytes(data[5:9], "big") + 4  # header, then PreviousTagSize0
    while pos + 11 <= len(data):
        kind = data[pos] & 0x1F
        size = int.from_bytes(data[pos + 1 : pos + 4], "big")
        body = pos + 11
        if body + size > len(data):
            return False
        # video tag, CodecID 7 (AVC), AVCPacketType 1 (NAL units)
        if kind == 9 and size >= 2 and data[body] & 0x0F == 7 and data[body + 1] == 1:
            return True
        pos = body + size + 4
    return False


def _recording_state(partner: NginxRtmpPartner, key: str) -> tuple[bool, bool]:
    files = partner.recordings(key)
    return bool(files), bool(files) and _flv_has_picture(files[0])


def _loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


# -- measurement --------------------------------------------------------------------------------


async def _window(roles: dict[str, FfmpegSupervisor], nginx: list[NginxRtmpPartner]) -> Window:
    pids = {role: sup.pid for role, sup in roles.items()}
    missing = [role for role, pid in pids.items() if pid is None]
    if missing:
        raise RuntimeError(f"not running at window start: {missing}")
    nginx_pids = [p.pid for p in nginx if p.pid is not None]

    def frames() -> dict[str, int]:
        return {r: (s.progress.frame or 0) if s.progress else 0 for r, s in roles.items()}

    cpu0 = {role: process_cpu_seconds(pid) for role, pid in pids.items()}  # type: ignore[arg-type]
    nginx0 = sum(process_cpu_seconds(pid) for pid in nginx_pids)
    frames0 = frames()
    loop0, demux0 = _python_threads()
    self0 = self_cpu_seconds()
    started = time.monotonic()
    await asyncio.sleep(WINDOW_S)
    wall = time.monotonic() - started
    self1 = self_cpu_seconds()
    loop1, demux1 = _python_threads()
    cpu1 = {role: process_cpu_seconds(pid) for role, pid in pids.items()}  # type: ignore[arg-type]
    nginx1 = sum(process_cpu_seconds(pid) for pid in nginx_pids)
    frames1 = frames()
    changed = [role for role, sup in roles.items() if sup.pid != pids[role]]
    if changed:
        raise RuntimeError(f"restarted during the window (CPU of the old process lost): {changed}")
    return Window(
        wall=wall,
        cpu={role: cpu1[role] - cpu0[role] for role in pids},
        frames={role: frames1[role] - frames0[role] for role in pids},
        python=self1 - self0,
        python_loop=loop1 - loop0,
        python_demux=demux1 - demux0,
        nginx=nginx1 - nginx0,
    )


async def _window_retrying(
    roles: dict[str, FfmpegSupervisor], nginx: list[NginxRtmpPartner], ready
) -> Window:
    """One window; if a process restarted in it (a loaded machine), wait and measure again."""
    for attempt in range(WINDOW_ATTEMPTS):
        try:
            return await _window(roles, nginx)
        except RuntimeError:
            if attempt == WINDOW_ATTEMPTS - 1:
                raise
            await _wait_until(ready, LIVE_TIMEOUT_S, "the restarted process")
            await asyncio.sleep(SETTLE_S)
    raise AssertionError("unreachable")


async def _watch_start(
    session: LiveSession,
    started: float,
    partners: list[tuple[NginxRtmpPartner, str]],
    start: Start,
) -> None:
    """Poll until every partner has its first picture (runs while ``start()`` is awaited)."""
    deadline = started + FIRST_FRAME_TIMEOUT_S
    while len(start.frame) < len(partners):
        now = time.monotonic()
        if now > deadline:
            start.timed_out = True  # counted as a failed start, not a crash of the benchmark
            return
        with contextlib.suppress(KeyError):  # the switch's inputs exist only once it started
            on_air = session.source_status().on_air
            if on_air is not None and start.on_air is None:
                start.on_air, start.first_source = now - started, on_air
            if on_air == "camera" and start.camera_on_air is None:
                start.camera_on_air = now - started
        for partner, key in partners:
            if key in start.frame:
                continue
            published, picture = _recording_state(partner, key)
            if published:
                start.publish.setdefault(key, now - started)
            if picture:
                start.frame[key] = now - started
        await asyncio.sleep(POLL_S)


async def _wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


def _plan(run_dir: Path, tag: str, targets: list[tuple[NginxRtmpPartner, str]]) -> SessionPlan:
    return SessionPlan(
        occurrence_id=1,
        title=f"Benchmark {tag}",
        start_label="18:00",
        camera=CameraSource("testsrc"),
        run_dir=run_dir / tag,
        hls_dir=run_dir / tag / "hls",
        partners=tuple(
            PartnerTarget(index + 1, f"partner-{index + 1}", "rtmp", "720p", nginx.url(key))
            for index, (nginx, key) in enumerate(targets)
        ),
    )


async def _session_run(
    tmp: Path, tag: str, targets: list[tuple[NginxRtmpPartner, str]], measure: bool
) -> tuple[Start, Window | None]:
    """Start a session, time its first frames, optionally measure CPU; always close it."""
    processes = FfmpegProcesses()
    session = LiveSession(_plan(tmp, tag, targets), processes)
    start = Start()
    try:
        started = time.monotonic()
        watch = asyncio.create_task(_watch_start(session, started, targets, start))
        try:
            await session.start(live=True)
            await watch
        finally:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
        if not measure:
            return start, None

        def all_live() -> bool:
            outputs = session.outputs_status()
            return session.source_status().state == "live" and all(
                o.state == "live" for o in outputs
            )

        await _wait_until(all_live, LIVE_TIMEOUT_S, "all outputs live")
        await asyncio.sleep(SETTLE_S)
        roles: dict[str, FfmpegSupervisor] = {}
        for part in ("camera", "slate", "webrtc"):
            sup = session.supervisor(part)
            if sup is not None:
                roles[part] = sup
        for index in range(len(targets)):
            sup = session.supervisor(f"partner-{index + 1}")
            assert sup is not None
            roles[f"partner-{index + 1}"] = sup
        return start, await _window_retrying(roles, [nginx for nginx, _ in targets], all_live)
    finally:
        await session.aclose()
        await processes.aclose()


async def _naive_run(targets: list[tuple[NginxRtmpPartner, str]]) -> Window:
    processes = FfmpegProcesses()
    try:
        roles: dict[str, FfmpegSupervisor] = {}
        for index, (nginx, key) in enumerate(targets):
            spec = FfmpegSpec(
                f"naive-{index + 1}",
                TestPattern(width=1280, height=720, fps=FPS),
                PROFILES["720p"],
                (Output(nginx.url(key), "flv"),),
            )
            sup = FfmpegSupervisor(spec.name, build_argv(spec))
            await processes.start(sup)
            roles[spec.name] = sup
        for sup in roles.values():
            await sup.wait_state(ProcessState.RUNNING, timeout=LIVE_TIMEOUT_S)
        for nginx, key in targets:
            await nginx.wait_for_publisher(key, timeout_s=LIVE_TIMEOUT_S)
        await asyncio.sleep(SETTLE_S)

        def all_running() -> bool:
            return all(s.state is ProcessState.RUNNING for s in roles.values())

        return await _window_retrying(roles, [nginx for nginx, _ in targets], all_running)
    finally:
        await processes.aclose()


# -- the benchmark ------------------------------------------------------------------------------


def _session_figures(label: str, w: Window) -> list[Figure]:
    copies = w.role_cores("partner-")
    return [
        Figure(f"{label}: total (FFmpeg children + Python)", w.cores(w.total), "cores"),
        Figure(
            "  same, 1×-normalized (each process per s of its own video)",
            w.per_video_second(),
            "CPU-s/s",
        ),
        Figure(
            "  camera ingest: testsrc2+clock → x264 720p30 baseline + AAC",
            w.cores(w.cpu["camera"]),
            "cores",
        ),
        Figure("  slate: color+drawtext → x264 720p30 + AAC", w.cores(w.cpu["slate"]), "cores"),
        Figure("  WebRTC feed: video copy, AAC → Opus", w.cores(w.cpu["webrtc"]), "cores"),
        Figure(
            f"  partner outputs (copy → RTMP), {len(copies)} × mean",
            statistics.fmean(copies),
            "cores each",
        ),
        Figure("  Python: switch demux threads (2)", w.cores(w.python_demux), "cores"),
        Figure(
            "  Python: event loop (switch mux, hub fan-out, supervisors)",
            w.cores(w.python_loop),
            "cores",
        ),
        Figure("  Python: whole process (getrusage)", w.cores(w.python), "cores"),
        Figure(
            f"  slowest speed in window ({w.min_speed()[1]})",
            w.min_speed()[0],
            "× realtime",
            "≈ 1.0",
        ),
        Figure("  partners' nginx (not ours, for reference)", w.cores(w.nginx), "cores"),
    ]


async def run() -> list[Figure]:
    load_before = _loadavg()
    with tempfile.TemporaryDirectory(prefix="knoten-bench-") as tmp_name:
        tmp = Path(tmp_name)
        partners = [NginxRtmpPartner(tmp / f"nginx-{i + 1}", stat=True) for i in range(PARTNERS)]
        try:
            for partner in partners:
                await partner.start()
            starts: list[Start] = []
            start, one = await _session_run(tmp, "one", [(partners[0], "one-1")], measure=True)
            starts.append(start)
            three_targets = [(p, f"three-{i + 1}") for i, p in enumerate(partners)]
            start, three = await _session_run(tmp, "three", three_targets, measure=True)
            starts.append(start)
            for n in range(EXTRA_STARTS):
                start, _ = await _session_run(
                    tmp, f"start{n}", [(partners[0], f"start{n}-1")], measure=False
                )
                starts.append(start)
            naive = await _naive_run([(p, f"naive-{i + 1}") for i, p in enumerate(partners)])
        finally:
            for partner in partners:
                await partner.stop()
    assert one is not None and three is not None
    load_after = _loadavg()

    slowest = [s.slowest for s in starts]
    publish = [max(s.publish.values()) for s in starts if s.publish]
    on_air = [s.on_air for s in starts if s.on_air is not None]
    camera = [s.camera_on_air for s in starts if s.camera_on_air is not None]
    slate_first = sum(1 for s in starts if s.first_source == "slate")
    naive_each = naive.role_cores("naive-")
    return [
        Figure("machine cores (os.cpu_count)", os.cpu_count() or 0, "cores"),
        Figure("  load average (1 min) before the benchmark", load_before, "runnable"),
        Figure("  load average (1 min) after the benchmark", load_after, "runnable"),
        Figure("CPU window per run (after all outputs live + settle)", WINDOW_S, "s"),
        *_session_figures("Knoten, 1 partner 720p", one),
        *_session_figures(f"Knoten, {PARTNERS} partners 720p", three),
        Figure(
            f"Knoten {PARTNERS}-partner / 1-partner total CPU",
            three.cores(three.total) / one.cores(one.total),
            "×",
            "≤ 1.10",
        ),
        Figure(
            "  same, 1×-normalized",
            three.per_video_second() / one.per_video_second(),
            "×",
            "≤ 1.10",
        ),
        Figure(
            f"  per extra partner (({PARTNERS}p − 1p) / {PARTNERS - 1})",
            (three.cores(three.total) - one.cores(one.total)) / (PARTNERS - 1),
            "cores",
        ),
        Figure(
            f"naive: {PARTNERS} ffmpeg (testsrc2 → x264 720p → RTMP each): total",
            naive.cores(naive.total),
            "cores",
        ),
        Figure("  same, 1×-normalized", naive.per_video_second(), "CPU-s/s"),
        Figure("  per process (mean)", statistics.fmean(naive_each), "cores each"),
        Figure("  Python (supervisors only)", naive.cores(naive.python), "cores"),
        Figure(
            f"  slowest speed in window ({naive.min_speed()[1]})",
            naive.min_speed()[0],
            "× realtime",
            "≈ 1.0",
        ),
        Figure("  partners' nginx (not ours, for reference)", naive.cores(naive.nginx), "cores"),
        Figure(
            f"naive / Knoten total CPU, {PARTNERS} partners",
            naive.cores(naive.total) / three.cores(three.total),
            "×",
        ),
        Figure(
            "  same, 1×-normalized",
            naive.per_video_second() / three.per_video_second(),
            "×",
        ),
        Figure(
            "start(live=True) → first H.264 picture in every partner's FLV: median",
            statistics.median(slowest),
            "s",
            "≤ 3",
        ),
        Figure("  same, max", max(slowest), "s", "≤ 3"),
        Figure("  starts measured (1p, 3p, then 1p each)", len(starts), "count", "≥ 3"),
        Figure(
            f"  starts without a picture within {FIRST_FRAME_TIMEOUT_S:.0f} s",
            sum(s.timed_out for s in starts),
            "count",
            "0",
        ),
        Figure("  start → switch puts first source on master (median)", _median(on_air), "s"),
        Figure("  starts where the slate went on air first", slate_first, "count"),
        Figure("  start → camera on master (median)", _median(camera), "s"),
        Figure("  start → RTMP publish accepted (FLV created, median)", _median(publish), "s"),
    ]


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
