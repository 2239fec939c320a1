"""How many malloc arenas a long-running Knoten process may use (glibc only).

glibc gives each thread that allocates its own arena, up to eight per core. The service hands
blocking work to threads all day (file system calls of the recorder and the archive, SQLite,
``asyncio.to_thread``), so short-lived buffers end up spread over many arenas, each of which
keeps its free pieces. Measured on a live date (session, recorder, two viewer workers, 8
minutes): while the recorder's watcher still rescanned every segment each poll, the process
grew 2.4–5.5 MiB per 10 minutes with the default arenas, mostly free bytes kept in the arenas,
and −0.6 with two; with the watcher reading only new lines both are flat (0.02), and two arenas
are 3 MiB smaller (121.7 against 124.8 MiB). The allocations that matter are Python's own,
made under the GIL, so fewer arenas cost no measurable contention. The processes call
:func:`limit_malloc_arenas` first thing, before any thread starts.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

#: ``M_ARENA_MAX`` of glibc's ``<malloc.h>``.
M_ARENA_MAX = -8
#: Arenas for a Knoten process: the main thread's and one shared by every other thread.
ARENAS = 2


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Ask glibc for at most ``arenas`` arenas; False where that is not glibc (nothing done)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    accepted = bool(mallopt(M_ARENA_MAX, arenas))
    if not accepted:
        log.warning("malloc did not accept an arena limit of %d", arenas)
    return accepted
