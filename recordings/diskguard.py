"""Disk guard: is there enough free space under the archive to keep writing?

Owns the free-space probe (injectable, so tests simulate a full disk) and the threshold decision.
The recorder asks it on every poll and closes the recording cleanly when it says no.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

FreeBytes = Callable[[Path], int]


def disk_free_bytes(path: Path) -> int:
    """Bytes available to us (not root's reserve) on the filesystem holding ``path``."""
    return shutil.disk_usage(path).free


@dataclass(frozen=True, slots=True)
class DiskGuard:
    root: Path
    min_free_bytes: int
    free_bytes: FreeBytes = disk_free_bytes

    def check(self) -> str | None:
        """None while writing may go on; otherwise the reason to stop (blocking: a statvfs)."""
        if self.min_free_bytes <= 0:
            return None
        free = self.free_bytes(self.root)
        if free >= self.min_free_bytes:
            return None
        return (
            f"disk almost full: {free / 2**30:.2f} GiB free, "
            f"below the {self.min_free_bytes / 2**30:.2f} GiB threshold"
        )
