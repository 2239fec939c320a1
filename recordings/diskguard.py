"""Disk guard: is there enough free space under the archive to keep writing?

Owns the free-space probe (injectable, so tests simulate a full disk) and the threshold decision.
The recorder asks it on every poll and closes the recording cleanly when it says no. The recorder
passes what finalizing its open recordings will need as a reserve on top of the threshold, so a
recording closed by the guard can still be finalized on the same disk.
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

    def check(self, reserve_bytes: int = 0) -> str | None:
        """None while writing may go on; otherwise the reason to stop (blocking: a statvfs).
        ``reserve_bytes`` is kept free on top of the threshold."""
        if self.min_free_bytes <= 0 and reserve_bytes <= 0:
            return None
        free = self.free_bytes(self.root)
        if free >= self.min_free_bytes + reserve_bytes:
            return None
        reserve = f" + {reserve_bytes / 2**20:.1f} MiB kept to finalize" if reserve_bytes else ""
        return (
            f"disk almost full: {free / 2**20:.1f} MiB free, below the "
            f"{self.min_free_bytes / 2**20:.1f} MiB threshold{reserve}"
        )
