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


class FfmpegJobFailed(StreamingError):
    """A one-shot FFmpeg job (see ``streaming.ffmpeg.oneshot``) did not start, did not finish in
    time or exited with an error; the message names the job and ends with its last stderr lines."""

    code = "ffmpeg_job_failed"


class PartnerNotFound(StreamingError):
    """No partner (broadcast destination) has this id."""

    code = "partner_not_found"

    def __init__(self, partner_id: int) -> None:
        super().__init__(f"partner {partner_id} does not exist")
        self.partner_id = partner_id
        self.field = None


class PartnerNameTaken(StreamingError):
    """Another partner already has this name; names are how hosts tell partners apart."""

    code = "partner_name_taken"

    def __init__(self, name: str) -> None:
        super().__init__(f"a partner named {name!r} exists already")
        self.field = "name"


class InvalidPartner(StreamingError, ValueError):
    """A partner's fields do not fit together (e.g. a URL on an HLS partner, a kind change).

    URL syntax problems are :class:`InvalidMediaUrl`; this covers the combinations.
    """

    code = "invalid_partner"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class InvalidRoomSource(StreamingError, ValueError):
    """A room's camera source was refused (see :mod:`streaming.sources`)."""

    code = "validation_error"
    field = "source"
