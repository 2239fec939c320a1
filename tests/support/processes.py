"""Read-only views of the process table via /proc, for tests asserting that nothing was left behind.

Owned by the media test harness. Typical use: "after stopping the broadcast, no FFmpeg process
remains" -> ``assert not processes_named("ffmpeg")`` or ``assert not children_of(os.getpid())``.
Linux only (reads /proc). Nothing here sends signals except ``kill_all``, which tests use for
cleanup of processes they started themselves.
"""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")


@dataclass(frozen=True)
class ProcStat:
    """The fields of /proc/PID/stat that the tests need."""

    pid: int
    comm: str
    state: str  # "R", "S", "Z" (zombie: exited, not yet reaped by its parent), ...
    ppid: int
    pgrp: int


def read_stat(pid: int) -> ProcStat | None:
    """Parse /proc/PID/stat; None if the process is gone (it may exit between listing and read)."""
    try:
        raw = (_PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # comm is in parentheses and may itself contain spaces or ")" - split at the LAST ")".
    head, _, tail = raw.rpartition(")")
    comm = head.partition("(")[2]
    fields = tail.split()
    return ProcStat(pid=pid, comm=comm, state=fields[0], ppid=int(fields[1]), pgrp=int(fields[2]))


def cmdline(pid: int) -> str:
    """``pid``'s command line joined with spaces ("" for zombies, kernel threads, gone pids)."""
    try:
        raw = (_PROC / str(pid) / "cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return ""
    return raw.rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")


def all_pids() -> list[int]:
    """Every pid currently in /proc."""
    return sorted(int(entry.name) for entry in _PROC.iterdir() if entry.name.isdigit())


def _all_stats() -> list[ProcStat]:
    return [stat for pid in all_pids() if (stat := read_stat(pid)) is not None]


def is_alive(pid: int, *, count_zombies: bool = False) -> bool:
    """True if ``pid`` exists; a zombie counts only with ``count_zombies`` (it no longer runs)."""
    stat = read_stat(pid)
    if stat is None:
        return False
    return count_zombies or stat.state != "Z"


def children_of(pid: int, recursive: bool = True) -> list[int]:
    """Pids whose parent is ``pid`` (and, if ``recursive``, their descendants), zombies included.

    Zombies are included on purpose: an unreaped child is a bug the tests should see.
    """
    by_parent: dict[int, list[int]] = {}
    for stat in _all_stats():
        by_parent.setdefault(stat.ppid, []).append(stat.pid)
    found: list[int] = []
    queue = [pid]
    while queue:
        kids = by_parent.get(queue.pop(), [])
        found.extend(kids)
        if recursive:
            queue.extend(kids)
    return sorted(found)


def processes_named(name: str, *, include_zombies: bool = True) -> list[tuple[int, str]]:
    """(pid, cmdline) of processes whose comm or argv[0] basename equals ``name``.

    comm is truncated to 15 characters by the kernel, so argv[0] is checked too. Zombies (no
    cmdline any more) match by comm and are reported with cmdline "<zombie>".
    """
    matches: list[tuple[int, str]] = []
    for stat in _all_stats():
        if stat.pid == os.getpid():
            continue
        line = cmdline(stat.pid)
        argv0 = os.path.basename(line.split(" ", 1)[0]) if line else ""
        if name not in (stat.comm, argv0):
            continue
        if stat.state == "Z":
            if include_zombies:
                matches.append((stat.pid, "<zombie>"))
            continue
        matches.append((stat.pid, line))
    return matches


def pids_in_group(pgid: int) -> list[int]:
    """Pids whose process group is ``pgid`` (zombies included)."""
    return sorted(stat.pid for stat in _all_stats() if stat.pgrp == pgid)


def kill_all(pids: list[int], sig: int = signal.SIGKILL) -> None:
    """Send ``sig`` to each pid, ignoring ones already gone. For cleanup of our own processes."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
