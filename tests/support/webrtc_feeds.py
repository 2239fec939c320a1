"""FFmpeg argv of test feeds in the WebRTC feed's contract: MPEG-TS with H.264 constrained
baseline (SPS/PPS before each keyframe) and Opus, in real time from test sources."""

from __future__ import annotations


def feed_argv(
    size: str = "320x240", *, listen: bool = True, seconds: float | None = None, gop: int = 30
) -> list[str]:
    """Without the output URL: FFmpeg serving one reader (``listen``) or pushing to a hub."""
    duration = [] if seconds is None else ["-t", str(seconds)]
    return [
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
        "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", *duration,
        "-c:v", "libx264", "-profile:v", "baseline", "-preset", "ultrafast",
        "-tune", "zerolatency", "-g", str(gop), "-x264-params", "repeat-headers=1",
        "-c:a", "libopus", "-ar", "48000", "-ac", "2", "-f", "mpegts",
        *(["-listen", "1"] if listen else []),
    ]  # fmt: skip
