#!/usr/bin/env python3
"""A stand-in for ffmpeg that misbehaves on request, for supervisor edge cases.

Usage: fake_ffmpeg.py --fake-mode=MODE [--fake-blocks=N] [--fake-interval=S] [--fake-child]
       [--fake-record=FILE] [anything else; arguments containing :// are echoed to stderr]

Modes (or env FAKE_FFMPEG_MODE):
  ok             progress block every interval; SIGINT → final block, exit 255 (like ffmpeg)
  exit255        same as ok, named for tests that care about the SIGINT exit code
  crash          N blocks (default 2), an error line on stderr, exit 1
  hang           one block, then silence while staying alive (SIGINT still → 255)
  silent         no progress at all, stays alive (startup timeout)
  ignore-sigint  blocks forever and ignores SIGINT: only SIGKILL ends it
  finish         N blocks (default 3), progress=end, exit 0
  spam           N stderr lines numbered "line <i>", then behaves like ok

--fake-child starts `sleep 1000` in the same process group (inheriting the SIGINT disposition,
so with ignore-sigint only SIGKILL to the group can end it).
If --fake-record (or env FAKE_FFMPEG_RECORD) names a file, one line per event is appended:
"<pid> start <mode>", "<pid> child <child pid>", "<pid> exit <code>", so tests can count
restarts and find children.
Only the standard library is used: it runs under any python3.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import NoReturn

MODES = ("ok", "exit255", "crash", "hang", "silent", "ignore-sigint", "finish", "spam")


RECORD_PATH = [os.environ.get("FAKE_FFMPEG_RECORD", "")]


def record(event: str) -> None:
    path = RECORD_PATH[0]
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()} {event}\n")


def block(frame: int, fps: float, end: bool = False) -> None:
    out_us = int(frame / fps * 1_000_000)
    secs = out_us / 1_000_000
    lines = [
        f"frame={frame}",
        f"fps={fps:.2f}",
        "stream_0_0_q=23.0",
        f"bitrate={800.0 + frame % 7:.1f}kbits/s",
        f"total_size={frame * 3300}",
        f"out_time_us={out_us}",
        f"out_time_ms={out_us}",
        f"out_time=00:00:{secs:09.6f}",
        "dup_frames=0",
        f"drop_frames={frame // 6}",  # one per block: counters must survive restarts
        "speed=1.00x",
        f"progress={'end' if end else 'continue'}",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def finish(code: int, message: str | None = None) -> NoReturn:
    if message:
        print(message, file=sys.stderr, flush=True)
    record(f"exit {code}")
    sys.exit(code)


def main(argv: list[str]) -> None:
    mode = os.environ.get("FAKE_FFMPEG_MODE", "ok")
    blocks: int | None = None
    interval = 0.2
    child = False
    urls = []
    for arg in argv:
        if arg.startswith("--fake-mode="):
            mode = arg.split("=", 1)[1]
        elif arg.startswith("--fake-blocks="):
            blocks = int(arg.split("=", 1)[1])
        elif arg.startswith("--fake-interval="):
            interval = float(arg.split("=", 1)[1])
        elif arg.startswith("--fake-record="):
            RECORD_PATH[0] = arg.split("=", 1)[1]
        elif arg == "--fake-child":
            child = True
        elif "://" in arg:
            urls.append(arg)
    if mode not in MODES:
        finish(2, f"fake_ffmpeg: unknown mode {mode!r}")
    record(f"start {mode}")

    frame = 0

    def on_sigint(signum: int, _frame: object) -> None:
        block(frame, 30.0, end=True)
        finish(255, "[info] Exiting normally, received signal 2.")

    if mode == "ignore-sigint":
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGINT, on_sigint)
    if child:
        # Same process group (no new session): the supervisor must reap it with the group.
        proc = subprocess.Popen(["sleep", "1000"], stdin=subprocess.DEVNULL)
        record(f"child {proc.pid}")
    for url in urls:
        print(f"[info] Output #0, flv, to '{url}':", file=sys.stderr, flush=True)
    if mode == "spam":
        for i in range(blocks or 100):
            print(f"[info] line {i}", file=sys.stderr)
        sys.stderr.flush()
        blocks = None

    limit = {"crash": 2, "finish": 3, "hang": 1}.get(mode) if blocks is None else blocks
    if mode in ("ok", "exit255", "ignore-sigint", "spam"):
        limit = None
    if mode == "silent":
        limit = 0
    while limit is None or frame < limit * 6:
        time.sleep(interval)
        frame += 6
        block(frame, 30.0)
    if mode == "crash":
        for url in urls:
            print(f"[tcp @ 0x5] [error] Connection to {url} failed", file=sys.stderr)
        finish(1, "[error] Error opening output files: Connection refused")
    if mode == "finish":
        block(frame, 30.0, end=True)
        finish(0)
    while True:  # hang / silent: alive but quiet
        time.sleep(3600)


if __name__ == "__main__":
    main(sys.argv[1:])
