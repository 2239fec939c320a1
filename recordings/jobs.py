"""One-shot FFmpeg jobs of the archive (remux, poster, thumbnail strip), run under the supervisor.

Owns the argv of each job and ``run_job``, which runs one command to completion through an
``FfmpegSupervisor`` (no restarts, clean exit = done) so that a cancelled or timed-out job never
leaves a process behind. Nothing here re-encodes the recording: only the stills are encoded.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from recordings.errors import FinalizeFailed
from streaming.ffmpeg.policy import ProcessState, RestartPolicy, SupervisorEvent
from streaming.ffmpeg.registry import FfmpegProcesses
from streaming.ffmpeg.spec import LOGLEVEL
from streaming.ffmpeg.supervisor import FfmpegSupervisor

THUMB_COUNT = 10
THUMB_WIDTH = 160
POSTER_WIDTH = 640
_ONE_SHOT = RestartPolicy(
    max_restarts=0,
    restart_on_clean_exit=False,
    startup_timeout_s=30.0,  # stills print their only progress block at the end
    stale_timeout_s=30.0,
    grace_s=2.0,
)


def _head(ffmpeg: str) -> list[str]:
    return [ffmpeg, "-nostdin", "-hide_banner", "-nostats", "-loglevel", LOGLEVEL,
            "-progress", "pipe:1", "-y"]  # fmt: skip


def remux_argv(ffmpeg: str, concat_list: Path, output: Path) -> list[str]:
    """Segments listed in an ffconcat file → one faststart MP4, stream copy.

    The concat demuxer (not byte concatenation) re-bases each segment's timestamps on the end of
    the previous one, so runs of the recorder restarted mid-seminar join without a time jump.
    ``-safe 1``: the list may only name plain files next to it.
    """
    return [*_head(ffmpeg), "-f", "concat", "-safe", "1", "-protocol_whitelist", "file",
            "-i", str(concat_list), "-map", "0:v:0?", "-map", "0:a:0?", "-c", "copy",
            "-movflags", "+faststart", "-f", "mp4", str(output)]  # fmt: skip


def poster_argv(ffmpeg: str, media: Path, at_s: float, output: Path) -> list[str]:
    return [*_head(ffmpeg), "-ss", f"{at_s:.3f}", "-protocol_whitelist", "file",
            "-i", str(media), "-frames:v", "1", "-vf", f"scale={POSTER_WIDTH}:-2",
            "-q:v", "3", "-f", "image2", str(output)]  # fmt: skip


def thumbnails_argv(ffmpeg: str, media: Path, duration_s: float, output: Path) -> list[str]:
    """A strip of THUMB_COUNT frames spread over the recording, side by side in one JPEG.

    One input-seeked (-ss before -i, so keyframe-jumps, not decoding) input per frame: a
    fps-filter over the whole file decoded a 10-minute recording for > 30 s (bench).
    """
    inputs: list[str] = []
    chains: list[str] = []
    for i in range(THUMB_COUNT):
        at = duration_s * (i + 0.5) / THUMB_COUNT
        inputs += ["-ss", f"{at:.3f}", "-protocol_whitelist", "file", "-i", str(media)]
        chains.append(f"[{i}:v:0]trim=end_frame=1,setpts=PTS-STARTPTS,scale={THUMB_WIDTH}:-2[t{i}]")
    labels = "".join(f"[t{i}]" for i in range(THUMB_COUNT))
    graph = ";".join(chains) + f";{labels}hstack=inputs={THUMB_COUNT}"
    return [*_head(ffmpeg), *inputs, "-filter_complex", graph, "-frames:v", "1",
            "-q:v", "4", "-f", "image2", str(output)]  # fmt: skip


async def run_job(
    name: str,
    argv: list[str],
    *,
    processes: FfmpegProcesses | None = None,
    timeout: float = 600.0,
) -> None:
    """Run ``argv`` once to completion; raise FinalizeFailed unless it exits 0 in time."""
    supervisor = FfmpegSupervisor(name, argv, policy=_ONE_SHOT)
    done: asyncio.Future[ProcessState] = asyncio.get_running_loop().create_future()

    def on_event(event: SupervisorEvent) -> None:
        if event.new_state in (ProcessState.STOPPED, ProcessState.FAILED) and not done.done():
            done.set_result(event.new_state)

    supervisor.subscribe(on_event)
    if processes is not None:
        try:
            processes.add(supervisor)  # visible in metrics, and killed by the app at shutdown
        except RuntimeError as exc:  # the registry is closed: the service is shutting down
            raise FinalizeFailed(f"{name}: not started, {exc}") from None
    try:
        await supervisor.start()
        try:
            state = await asyncio.wait_for(asyncio.shield(done), timeout)
        except TimeoutError:
            raise FinalizeFailed(f"{name}: no result after {timeout:.0f} s") from None
        if state is not ProcessState.STOPPED or supervisor.last_exit_code != 0:
            tail = " | ".join(supervisor.stderr_tail[-3:])
            raise FinalizeFailed(f"{name} failed (exit {supervisor.last_exit_code}): {tail}")
    finally:
        if processes is not None:
            with contextlib.suppress(Exception):
                await processes.remove(name)
        await supervisor.aclose()
