"""A stand-in for the live pipeline's master feed: a test pattern served as MPEG-TS on a Unix
socket by a real FFmpeg under ``FfmpegSupervisor`` (H.264 + AAC, 1 s GOP, like the real feed).

FFmpeg's ``-listen 1`` serves one client; when it disconnects FFmpeg exits and the supervisor
starts a new one, so a restarted recorder finds the feed again.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from streaming.ffmpeg.policy import RestartPolicy
from streaming.ffmpeg.spec import FfmpegSpec, Output, TestPattern, VideoProfile, build_argv
from streaming.ffmpeg.supervisor import FfmpegSupervisor

FEED_PROFILE = VideoProfile("feed", 640, 360, 30, 800, audio_kbps=96, gop_seconds=1.0)
# Waiting for a client prints no progress: the startup watchdog must wait longer than any test.
FEED_POLICY = RestartPolicy(initial_backoff_s=0.1, max_backoff_s=0.5, startup_timeout_s=120,
                            stale_timeout_s=30, grace_s=2)  # fmt: skip


def feed_argv(socket: Path) -> list[str]:
    output = Output(socket, "mpegts", (("listen", "1"),), socket=True)
    spec = FfmpegSpec("feed", TestPattern(640, 360, 30, clock=False), FEED_PROFILE, (output,))
    return build_argv(spec)


@contextlib.asynccontextmanager
async def stand_in_feed(socket: Path) -> AsyncIterator[Path]:
    """Serve the feed on ``socket`` until the block ends (the FFmpeg is stopped and reaped)."""

    def argv() -> list[str]:
        socket.unlink(missing_ok=True)  # a stale socket file makes -listen fail with EADDRINUSE
        return feed_argv(socket)

    supervisor = FfmpegSupervisor("stand-in-feed", argv, policy=FEED_POLICY)
    await supervisor.start()
    try:
        yield socket
    finally:
        await supervisor.aclose()
        socket.unlink(missing_ok=True)
