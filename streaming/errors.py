"""Errors raised by the media plane (streaming/).

The web layer maps these to HTTP responses in one place; nothing below it raises
``web.HTTPException``. Each error carries a stable ``code`` for the JSON error body.
"""

from __future__ import annotations


class StreamingError(Exception):
    """Base class for every error the streaming package raises on purpose."""

    code = "streaming_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidMediaUrl(StreamingError, ValueError):
    """A user-supplied media URL was refused (scheme, shape or hostile content).

    ``field`` names the input the URL came from (e.g. ``"input_url"``, ``"push_url"``) so the
    API can point at it. The message never repeats the raw URL: it may carry a stream key.
    """

    code = "invalid_media_url"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class FfmpegNotFound(StreamingError):
    """The ffmpeg/ffprobe executable is missing or cannot be executed."""

    code = "ffmpeg_not_found"


class FfprobeFailed(StreamingError):
    """ffprobe ran but could not read the target, timed out or printed no JSON."""

    code = "ffprobe_failed"
