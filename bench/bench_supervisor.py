"""FFmpeg supervision cost and the 720p30 test-pattern encode.

Reports CPU of the supervising Python process per supervised FFmpeg, and of the encode itself
(what one room source costs on this machine).

Runs N supervised test-pattern encodes (writing to /dev/null through the null muxer's stand-in,
an MPEG-TS file in a temporary directory) for a fixed time and reads CPU time from the kernel.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from bench.common import Figure, process_cpu_seconds, self_cpu_seconds
from streaming.ffmpeg.progress import ProgressParser
from streaming.ffmpeg.registry import FfmpegProcesses
from streaming.ffmpeg.spec import PROFILES, FfmpegSpec, Output, TestPattern, build_argv
from streaming.ffmpeg.supervisor import FfmpegSupervisor, ProcessState

PROCESSES = 2
SECONDS = 10.0


def _parse_rate() -> float:
    block = (
        b"frame=1234\nfps=30.00\nstream_0_0_q=23.0\nbitrate=2500.1kbits/s\ntotal_size=123456\n"
        b"out_time_us=41133333\nout_time_ms=41133333\nout_time=00:00:41.133333\n"
        b"dup_frames=0\ndrop_frames=0\nspeed=1.00x\nprogress=continue\n"
    )
    parser = ProgressParser()
    count = 20_000
    started = time.perf_counter()
    for _ in range(count):
        parser.feed(block)
    return count / (time.perf_counter() - started)


async def run() -> list[Figure]:
    processes = FfmpegProcesses()
    with tempfile.TemporaryDirectory() as tmp:
        supervisors = []
        for index in range(PROCESSES):
            spec = FfmpegSpec(
                name=f"bench-{index}",
                input=TestPattern(width=1280, height=720, fps=30),
                profile=PROFILES["720p"],
                outputs=(Output(Path(tmp) / f"out-{index}.ts", "mpegts"),),
            )
            supervisor = FfmpegSupervisor(spec.name, build_argv(spec))
            await processes.start(supervisor)
            supervisors.append(supervisor)
        for supervisor in supervisors:
            await supervisor.wait_state(ProcessState.RUNNING, timeout=20)
        pids = [s.pid for s in supervisors if s.pid is not None]
        child_before = sum(process_cpu_seconds(pid) for pid in pids)
        self_before = self_cpu_seconds()
        started = time.monotonic()
        await asyncio.sleep(SECONDS)
        elapsed = time.monotonic() - started
        child_cpu = sum(process_cpu_seconds(pid) for pid in pids) - child_before
        self_cpu = self_cpu_seconds() - self_before
        speed = min((s.progress.speed or 0.0) for s in supervisors if s.progress)
        await processes.aclose()
    return [
        Figure("supervised FFmpeg processes", PROCESSES, "count"),
        Figure("720p30 test-pattern encode", child_cpu / elapsed / PROCESSES, "cores each"),
        Figure("encode speed (slowest)", speed, "× realtime", "≈ 1.0"),
        Figure("supervisor overhead", self_cpu / elapsed / PROCESSES, "cores/process", "≤ 0.01"),
        Figure("progress block parsing", _parse_rate(), "blocks/s"),
    ]
