"""The arena limit, seen in glibc's own report (``malloc_info``) of a process whose threads
allocate: with the limit at most two heaps, without it one per thread."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from foundation.malloc_arenas import ARENAS

_PROGRAM = """
import ctypes, sys, threading
from foundation.malloc_arenas import limit_malloc_arenas
if sys.argv[1] == "limit":
    assert limit_malloc_arenas()
def work():
    for _ in range(200):
        kept = [bytearray(4096) for _ in range(64)]
        del kept
barrier = threading.Barrier(8)
def run():
    barrier.wait()  # all at once, so each thread needs an arena of its own
    work()
threads = [threading.Thread(target=run) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = (ctypes.c_char_p, ctypes.c_char_p)
libc.malloc_info.argtypes = (ctypes.c_int, ctypes.c_void_p)
libc.fclose.argtypes = (ctypes.c_void_p,)
stream = libc.fopen(sys.argv[2].encode(), b"w")
libc.malloc_info(0, stream)
libc.fclose(stream)
"""


def _heaps(tmp_path: Path, mode: str) -> int:
    report = tmp_path / f"{mode}.xml"
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", _PROGRAM, mode, str(report)], cwd=root, check=True,
                   timeout=60)  # fmt: skip
    return report.read_text().count("<heap nr=")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_threads_share_the_limited_arenas(tmp_path: Path) -> None:
    unlimited = _heaps(tmp_path, "default")
    limited = _heaps(tmp_path, "limit")
    assert unlimited > ARENAS  # the threads did spread out without the limit
    assert 1 <= limited <= ARENAS
