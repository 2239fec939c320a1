"""Validation of a room's camera source, the one user string that names a media input.

A source is the built-in test pattern, a file inside the data directory, a camera URL
(RTSP, RTMP, SRT) or a V4L2 device. Anything else is refused before it is stored, so nothing a
user typed can later become an FFmpeg option or reach outside the data directory.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from knoten.http.errors import ApiError
from streaming.errors import InvalidMediaUrl
from streaming.ffmpeg.urls import mask_url, validate_input_url

TEST_PATTERN = "testsrc"
#: The host pushes (OBS, hardware encoder) to Knoten's SRT listener with the room's key.
SRT_PUSH = "srt-push"
SOURCE_URL_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "rtmps://", "srt://")
_V4L2_DEVICE = re.compile(r"^/dev/video[0-9]{1,2}$")


def _invalid(message: str) -> ApiError:
    return ApiError(422, "validation_error", message, field="source")


def validate_room_source(value: str, data_dir: Path) -> str:
    """Return the canonical form of ``value`` or raise a 422 naming the ``source`` field."""
    value = value.strip()
    if value in (TEST_PATTERN, SRT_PUSH):
        return value
    if _V4L2_DEVICE.match(value):
        return value
    if value.startswith(SOURCE_URL_SCHEMES):
        try:
            return validate_input_url(value, field="source")
        except InvalidMediaUrl as exc:
            raise _invalid(str(exc)) from None
    if "://" in value or value.startswith("-") or ":" in value.split("/")[0]:
        raise _invalid(
            "source must be 'testsrc', 'srt-push', a file inside the data directory, an rtsp://, "
            "rtmp:// or srt:// URL, or a /dev/videoN device"
        )
    if any(ord(ch) < 32 for ch in value) or not value:
        raise _invalid("source contains control characters or is empty")
    # Relative paths are taken relative to the data directory; absolute ones must point into it.
    root = data_dir.resolve()
    candidate = PurePosixPath(value)
    if ".." in candidate.parts:
        raise _invalid("source path may not contain '..'")
    path = (root / candidate).resolve() if not candidate.is_absolute() else Path(value).resolve()
    if not path.is_relative_to(root):
        raise _invalid(f"source file must lie inside the data directory ({root})")
    return str(path.relative_to(root))


def public_source(value: str) -> str:
    """The source as shown in API listings: credentials and keys masked."""
    if value.startswith(SOURCE_URL_SCHEMES):
        return mask_url(value)
    return value
