"""Argv of the live session's FFmpeg processes that the generic spec does not cover."""

from __future__ import annotations

from pathlib import Path

import ffmpeg as ffmpeg_python

from streaming.ffmpeg.spec import global_args

#: Opus frame length of the WebRTC feed (see :func:`webrtc_feed_argv`).
OPUS_FRAME_MS = 40


def webrtc_feed_argv(master: Path, output: Path, ffmpeg: str = "ffmpeg") -> list[str]:
    """The WebRTC feed: the master's video as it is (constrained baseline already) and its
    audio as Opus, which browsers need — an audio transcode costs ~1 % of a core, a second
    video encode would cost a third.

    Opus frames are 40 ms instead of the usual 20: every RTP packet costs the fan-out the same
    per viewer whatever its size, and at 20 ms audio made 40 % of all packets. Viewing hears
    the room 20 ms later; browsers decode any Opus frame length.
    """
    source = ffmpeg_python.input(f"unix:{master}", format="mpegts", protocol_whitelist="unix")
    node = ffmpeg_python.output(
        source["v:0"],
        source["a:0?"],
        f"unix:{output}",
        format="mpegts",
        **{
            "c:v": "copy",
            "c:a": "libopus",
            "b:a": "96k",
            "frame_duration": OPUS_FRAME_MS,
            "ar": 48000,
            "ac": 2,
        },
    )
    argv: list[str] = node.compile(cmd=ffmpeg)
    # The output is a socket Knoten listens on: nothing to overwrite, so -n is harmless.
    return [argv[0], *global_args(overwrite=False), *argv[1:]]
