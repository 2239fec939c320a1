"""Path safety of the archive: every file lives under the recordings root, nothing else.

Owns the layout ``<root>/<recording_id>/{recording.mp4, poster.jpg, thumbs.jpg, parts/}`` and the
checks that keep user input from ever becoming a path: ids must be positive ints (never strings),
every derived path is resolved and must stay inside the root, and free-text input that looks like
a path trick (``../``, absolute paths, NUL) is refused before it reaches any handler.
"""

from __future__ import annotations

import re
from pathlib import Path

from recordings.errors import UnsafePath

MEDIA_NAME = "recording.mp4"
POSTER_NAME = "poster.jpg"
THUMBS_NAME = "thumbs.jpg"
PARTS_DIR = "parts"
# FFmpeg muxer option values (segment_list) must stay inside spec.py's quoting-free alphabet.
_SAFE_ROOT = re.compile(r"[A-Za-z0-9+_.,/%-]+")
_TRICKS = (
    re.compile(r"(^|[\\/])\.\.([\\/]|$)"),  # a ../ or ..\ component
    re.compile(r"^([\\/]|[A-Za-z]:[\\/]|~)"),  # absolute (POSIX, Windows drive, home)
)


def check_text(value: str, field: str) -> str:
    """Refuse free text that could act as a path (``../``, absolute paths, NUL, control chars)."""
    if any(ord(ch) < 32 and ch not in "\t" for ch in value):
        raise UnsafePath(field, "control characters are not allowed")
    if any(rule.search(value.strip()) for rule in _TRICKS):
        raise UnsafePath(field, "path components such as '../' or absolute paths are not allowed")
    return value


class ArchivePaths:
    """The recordings root and every path below it."""

    def __init__(self, root: Path) -> None:
        if not root.is_absolute():
            raise ValueError("the recordings root must be an absolute path")
        self.root = root.resolve()
        if not _SAFE_ROOT.fullmatch(str(self.root)):
            # FFmpeg gets the segment list path as a muxer option: keep it free of quoting.
            raise ValueError(
                f"the recordings root {self.root} may only contain letters, digits "
                "and + _ . , / % -"
            )

    def ensure_root(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def inside(self, path: Path) -> Path:
        """``path`` resolved; raises UnsafePath unless it is the root or below it."""
        resolved = path.resolve()
        if resolved != self.root and not resolved.is_relative_to(self.root):
            raise UnsafePath("path", "path is outside the recordings root")
        return resolved

    def recording_dir(self, recording_id: int) -> Path:
        # bool is an int subclass, and a str id would be the classic traversal route.
        if type(recording_id) is not int or recording_id < 1:
            raise UnsafePath("recording_id", "recording ids are positive integers")
        return self.inside(self.root / f"{recording_id:08d}")

    def parts_dir(self, recording_id: int) -> Path:
        return self.recording_dir(recording_id) / PARTS_DIR

    def media(self, recording_id: int) -> Path:
        return self.recording_dir(recording_id) / MEDIA_NAME

    def poster(self, recording_id: int) -> Path:
        return self.recording_dir(recording_id) / POSTER_NAME

    def thumbnails(self, recording_id: int) -> Path:
        return self.recording_dir(recording_id) / THUMBS_NAME

    def existing_ids(self) -> list[int]:
        """Ids of the recording directories on disk (anything else under the root is ignored)."""
        if not self.root.is_dir():
            return []
        return sorted(
            int(entry.name)
            for entry in self.root.iterdir()
            if entry.is_dir() and entry.name.isdigit() and len(entry.name) == 8
        )
