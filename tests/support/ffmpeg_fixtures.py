"""Pytest plugin: fixtures for FFmpeg work — a fake ffmpeg, an ffprobe helper, an orphan check.

- ``fake_ffmpeg``: builds argv for ``tests/support/fake_ffmpeg.py`` in a given mode and reads
  back what the fakes recorded (starts, children, exit codes).
- ``ffprobe``: ``await ffprobe(path_or_url)`` → parsed JSON (wraps ``tools.ffprobe_json``).
- ``no_orphan_ffmpeg``: fails the test if an ffmpeg/ffprobe/fake (or a child it spawned) that
  the test started is still alive afterwards. Processes are attributed through an environment
  token the fixture sets for the test's duration, so concurrent test runs on the same machine
  and reparented orphans are told apart correctly.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from streaming.ffmpeg.tools import ffprobe_json

FAKE_FFMPEG = Path(__file__).with_name("fake_ffmpeg.py")
_TOKEN_VAR = "KNOTEN_TEST_PROCESS_TOKEN"
_WATCHED = ("ffmpeg", "ffprobe", "fake_ffmpeg", "sleep")


@dataclass
class FakeFfmpeg:
    """Argv builder and record reader for the fake ffmpeg script."""

    record: Path

    def argv(
        self,
        mode: str = "ok",
        *extra: str,
        blocks: int | None = None,
        interval: float | None = None,
        child: bool = False,
    ) -> list[str]:
        argv = [sys.executable, str(FAKE_FFMPEG), f"--fake-mode={mode}"]
        argv.append(f"--fake-record={self.record}")
        if blocks is not None:
            argv.append(f"--fake-blocks={blocks}")
        if interval is not None:
            argv.append(f"--fake-interval={interval}")
        if child:
            argv.append("--fake-child")
        return [*argv, *extra]

    def _events(self, kind: str) -> list[tuple[int, str]]:
        if not self.record.exists():
            return []
        found = []
        for line in self.record.read_text(encoding="utf-8").splitlines():
            pid, event, *rest = line.split()
            if event == kind:
                found.append((int(pid), rest[0] if rest else ""))
        return found

    @property
    def starts(self) -> list[int]:
        """Pids of every fake process started, in order."""
        return [pid for pid, _ in self._events("start")]

    @property
    def children(self) -> list[int]:
        """Pids of the `sleep` children started with ``child=True``."""
        return [int(child) for _, child in self._events("child")]

    @property
    def exits(self) -> dict[int, int]:
        """Exit codes the fakes reported themselves (not for SIGKILLed ones)."""
        return {pid: int(code) for pid, code in self._events("exit")}


@pytest.fixture
def fake_ffmpeg(tmp_path: Path) -> FakeFfmpeg:
    return FakeFfmpeg(record=tmp_path / "fake-ffmpeg-record.log")


@pytest.fixture
def ffprobe() -> Callable[..., Awaitable[dict[str, Any]]]:
    async def probe(target: str | Path, timeout: float = 15.0) -> dict[str, Any]:
        return await ffprobe_json(target, timeout=timeout)

    return probe


def pid_alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_gone(pids: list[int], timeout: float = 2.0) -> bool:
    """True once none of ``pids`` is alive. A SIGKILLed grandchild dies a moment later than
    the signal is sent, and nobody can wait() for it but its new parent."""
    deadline = time.monotonic() + timeout
    while any(pid_alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def processes_with_token(token: str) -> list[tuple[int, str]]:
    """(pid, cmdline) of live watched processes whose environment carries ``token``."""
    needle = f"{_TOKEN_VAR}={token}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        watched = any(w in cmdline for w in _WATCHED)
        if watched and needle in environ.split(b"\0") and pid_alive(int(entry.name)):
            found.append((int(entry.name), cmdline.strip()))
    return found


@pytest.fixture
def no_orphan_ffmpeg(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail the test if a watched process it started outlives it (then kill the leftovers)."""
    token = uuid.uuid4().hex
    monkeypatch.setenv(_TOKEN_VAR, token)
    yield
    deadline = time.monotonic() + 2.0  # a process that was just SIGKILLed may take a moment
    leftovers = processes_with_token(token)
    while leftovers and time.monotonic() < deadline:
        time.sleep(0.05)
        leftovers = processes_with_token(token)
    for pid, _ in leftovers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if leftovers:
        pytest.fail(f"processes left behind by the test: {leftovers}")
