"""One-shot FFmpeg tools: the installed version and ffprobe's JSON view of a file or stream.

Both run as short-lived children in their own process group (``process.spawn_group``) and are
killed with their group on timeout or cancellation, so a stuck probe of a dead RTMP server
never outlives its caller.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
from pathlib import Path
from typing import Any

from streaming.errors import FfmpegNotFound, FfprobeFailed
from streaming.ffmpeg.process import GroupProcess, spawn_group
from streaming.ffmpeg.spec import PROTOCOL_WHITELIST
from streaming.ffmpeg.urls import LogRedactor, mask_url, validate_input_url

_VERSION = re.compile(r"^\S+ version (\S+)")


async def ffmpeg_version(ffmpeg: str = "ffmpeg", timeout: float = 10.0) -> str:
    """Return the version string of ``ffmpeg`` (e.g. "5.1.8-0+deb12u1").

    Raises FfmpegNotFound if it cannot be executed or does not answer like FFmpeg.
    """
    code, out, _err = await _run([ffmpeg, "-hide_banner", "-version"], timeout)
    match = _VERSION.match(out.decode("utf-8", errors="replace"))
    if code != 0 or match is None:
        raise FfmpegNotFound(f"{ffmpeg!r} did not report a version (exit {code})")
    return match.group(1)


async def ffprobe_json(
    target: str | Path, ffprobe: str = "ffprobe", timeout: float = 15.0
) -> dict[str, Any]:
    """Return ``ffprobe -show_format -show_streams -of json`` for a file or an input URL.

    A ``Path`` must be absolute; a ``str`` must be a valid input URL (see ``urls.py``).
    Raises FfprobeFailed if ffprobe fails, times out (it is killed) or prints no JSON.
    """
    if isinstance(target, Path):
        if not target.is_absolute():
            raise ValueError("ffprobe paths must be absolute")
        source, whitelist, shown = str(target), "file", str(target)
    else:
        source = validate_input_url(target, field="target")
        whitelist = PROTOCOL_WHITELIST[source.split(":", 1)[0].lower()]
        shown = mask_url(source)
    argv = [ffprobe, "-v", "error", "-hide_banner", "-show_format", "-show_streams"]
    argv += ["-of", "json", "-protocol_whitelist", whitelist, source]
    try:
        code, out, err = await _run(argv, timeout)
    except TimeoutError as exc:
        raise FfprobeFailed(f"ffprobe of {shown} timed out after {timeout:.0f} s") from exc
    if code != 0:
        detail = LogRedactor.from_argv(argv).redact(err.decode("utf-8", errors="replace").strip())
        raise FfprobeFailed(f"ffprobe of {shown} failed (exit {code}): {detail[-500:]}")
    try:
        data = json.loads(out)
    except json.JSONDecodeError as exc:
        raise FfprobeFailed(f"ffprobe of {shown} printed no JSON") from exc
    if not isinstance(data, dict):
        raise FfprobeFailed(f"ffprobe of {shown} printed unexpected JSON")
    return data


async def _run(argv: list[str], timeout: float) -> tuple[int, bytes, bytes]:
    """Run to completion; on timeout or cancellation kill the group and reap it."""
    proc: GroupProcess = await spawn_group(argv)
    try:
        async with asyncio.timeout(timeout):
            out, err = await proc.process.communicate()
            await proc.wait_exit(None)
    finally:
        # Covers timeout and cancellation alike; a no-op when it already exited.
        proc.signal_group(signal.SIGKILL)
        await asyncio.shield(proc.wait_exit(5.0))
        proc.close()
    return proc.returncode if proc.returncode is not None else -1, out, err
