"""Typed errors of the recordings package.

Each carries a stable ``code`` and a human ``message`` (and ``field`` for bad input); the web layer
maps them to HTTP statuses in ``knoten/error_rules.py``, so nothing here knows about HTTP.
"""

from __future__ import annotations


class RecordingError(Exception):
    """Base class of every error the recordings package raises on purpose."""

    code = "recording_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RecordingNotFound(RecordingError):
    code = "recording_not_found"

    def __init__(self, recording_id: int) -> None:
        super().__init__(f"recording {recording_id} does not exist")
        self.field = None


class RecordingBusy(RecordingError):
    """The recording is being written or finalized: it cannot be deleted now (HTTP 409)."""

    code = "recording_busy"

    def __init__(self, recording_id: int, status: str) -> None:
        super().__init__(f"recording {recording_id} is {status}; try again once it is available")
        self.field = None


class RecordingNotAvailable(RecordingError):
    """The media file does not exist (yet): recording, finalizing or failed (HTTP 409)."""

    code = "recording_not_available"

    def __init__(self, recording_id: int, status: str) -> None:
        super().__init__(f"recording {recording_id} has no media file ({status})")
        self.field = None


class UnsafePath(RecordingError, ValueError):
    """Input that looks like a path trick (``../``, absolute path, NUL): refused (HTTP 422)."""

    code = "unsafe_path"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class FinalizeFailed(RecordingError):
    """A recording could not be turned into a verified MP4 (segments are kept)."""

    code = "finalize_failed"


class FinalizeNeedsSpace(FinalizeFailed):
    """Not enough free disk space to finalize now: the segments are kept and finalization is
    retried once space is back (the recording is ``needs_finalize``, never ``failed``)."""

    code = "finalize_needs_space"


class InvalidShareToken(RecordingError):
    """A share link that is malformed, forged or for another recording (HTTP 404)."""

    code = "invalid_share_link"

    def __init__(self, message: str = "this share link is not valid") -> None:
        super().__init__(message)
        self.field = None


class ShareTokenExpired(InvalidShareToken):
    code = "share_link_expired"

    def __init__(self) -> None:
        super().__init__("this share link has expired")
