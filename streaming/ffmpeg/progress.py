"""Parser for FFmpeg's ``-progress`` output: key=value lines, one block per ``progress=`` line.

Pure and incremental: feed it whatever chunks the pipe delivers (split anywhere, even inside a
line or a UTF-8 sequence) and it returns the blocks completed so far as frozen ``Progress``
values. Unknown keys (``stream_0_0_q`` …) are ignored; ``N/A`` becomes ``None``.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

_MAX_PENDING = 64 * 1024  # a "line" longer than this is not progress output: drop it
_TIME = re.compile(r"(-?)(\d+):(\d{1,2}):(\d{1,2}(?:\.\d+)?)")


@dataclass(frozen=True, slots=True)
class Progress:
    """One ``-progress`` block. Fields FFmpeg reported as ``N/A`` (or not at all) are None."""

    frame: int | None = None
    fps: float | None = None
    bitrate_kbps: float | None = None
    total_size: int | None = None
    out_time_s: float | None = None
    speed: float | None = None
    dup_frames: int = 0
    drop_frames: int = 0
    ended: bool = False  # progress=end: FFmpeg is finishing (last block)


class ProgressParser:
    """Accumulates key=value lines; each ``progress=continue|end`` line closes a block."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self._fields: dict[str, str] = {}

    def feed(self, chunk: bytes | str) -> list[Progress]:
        text = self._decoder.decode(chunk) if isinstance(chunk, bytes) else chunk
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        if len(self._pending) > _MAX_PENDING:
            self._pending = ""
        blocks: list[Progress] = []
        for line in lines:
            block = self._line(line.strip())
            if block is not None:
                blocks.append(block)
        return blocks

    def _line(self, line: str) -> Progress | None:
        key, sep, value = line.partition("=")
        if not sep:
            return None
        key, value = key.strip(), value.strip()
        if key != "progress":
            self._fields[key] = value
            return None
        fields, self._fields = self._fields, {}
        return _to_progress(fields, ended=value == "end")


def parse_progress(text: str) -> list[Progress]:
    """Parse a complete ``-progress`` transcript (convenience for tests and tools)."""
    return ProgressParser().feed(text)


def _to_progress(fields: dict[str, str], *, ended: bool) -> Progress:
    return Progress(
        frame=_int(fields.get("frame")),
        fps=_float(fields.get("fps")),
        bitrate_kbps=_float(_strip_suffix(fields.get("bitrate"), "kbits/s")),
        total_size=_int(fields.get("total_size")),
        out_time_s=_out_time(fields),
        speed=_float(_strip_suffix(fields.get("speed"), "x")),
        dup_frames=_int(fields.get("dup_frames")) or 0,
        drop_frames=_int(fields.get("drop_frames")) or 0,
        ended=ended,
    )


def _out_time(fields: dict[str, str]) -> float | None:
    # out_time_ms is microseconds too (a historic FFmpeg misnomer); prefer the explicit _us.
    for key in ("out_time_us", "out_time_ms"):
        micros = _int(fields.get(key))
        if micros is not None:
            return micros / 1_000_000
    match = _TIME.fullmatch(fields.get("out_time", ""))
    if match is None:
        return None
    sign, hours, minutes, seconds = match.groups()
    total = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    return -total if sign else total


def _strip_suffix(value: str | None, suffix: str) -> str | None:
    if value is None:
        return None
    return value.removesuffix(suffix).strip()


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:  # "N/A", empty
        return None
