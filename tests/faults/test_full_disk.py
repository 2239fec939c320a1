"""A full disk during a recording, on a real (small) tmpfs with the real recorder, finalizer and
FFmpeg: the guard closes the recording at once and the catalog says so; a recording is never shown
as failed because of space — it waits as ``needs_finalize`` and finishes by itself once space is
back; and the guard keeps what finalizing needs, so a disk that only runs low still finalizes.

Regression: the closed recording used to stay "recording" until the date ended, then finalize
failed for lack of space and the recording was marked failed, never retried."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from knoten.db import Database
from recordings.catalog import Catalog
from recordings.diskguard import DiskGuard
from recordings.finalize import Finalizer, space_needed
from recordings.metrics import RecordingMetrics
from recordings.paths import ArchivePaths
from recordings.recorder import Recorder
from streaming.ffmpeg.tools import ffprobe_json
from tests.faults.helpers import wait_for
from tests.recordings.feeds import stand_in_feed

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]
MiB = 2**20
MIN_FREE = 2 * MiB


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 24 MiB tmpfs mounted for this test (root only; skipped where mounting is impossible)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m,mode=0700", "tmpfs", str(mount)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {result.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@dataclass
class Archive:
    catalog: Catalog
    paths: ArchivePaths
    finalizer: Finalizer
    recorder: Recorder
    feed: Path


@pytest.fixture
async def archive(tmp_path: Path, small_disk: Path) -> AsyncIterator[Archive]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'knoten.db'}")  # the database is elsewhere
    await db.start()
    metrics = RecordingMetrics(CollectorRegistry())
    catalog = Catalog(lambda: db.engine)
    paths = ArchivePaths(small_disk / "recordings")
    finalizer = Finalizer(catalog, paths, metrics, retry_s=0.5)
    recorder = Recorder(catalog, paths, finalizer, DiskGuard(paths.root, MIN_FREE), metrics,
                        poll_s=0.25)  # fmt: skip
    finalizer.start()
    try:
        async with stand_in_feed(tmp_path / "feed.sock") as feed:
            yield Archive(catalog, paths, finalizer, recorder, feed)
    finally:
        await recorder.aclose()
        await db.aclose()


def _fill(disk: Path, leave: int) -> Path:
    """Write a ballast file until only ``leave`` bytes are free (0: until ENOSPC)."""
    ballast = disk / "ballast"
    with ballast.open("wb") as out, contextlib.suppress(OSError):
        while (free := shutil.disk_usage(disk).free) > leave:
            out.write(b"\0" * min(MiB, free - leave))
            out.flush()
    return ballast


async def _status(archive: Archive, recording_id: int) -> str:
    return (await archive.catalog.get(recording_id)).status


async def test_full_disk_waits_for_space_and_finalizes_by_itself(archive, small_disk, ffprobe):
    recorder = archive.recorder
    started_at = time.monotonic()
    await recorder.start(31, 7, "Volle Platte", archive.feed)
    await wait_for(lambda: (s := recorder.status(31)) is not None and s.segments >= 1, 15,
                   "a first segment")  # fmt: skip
    await asyncio.sleep(2)
    ballast = _fill(small_disk, 0)  # something else fills the disk completely
    filled_at = time.monotonic()
    closed_after = await wait_for(
        lambda: recorder.status(31).state == "closed_disk_full", 5, "the guard closing", 0.02
    )
    recording_id = recorder.status(31).recording_id

    async def noted() -> bool:
        row = await archive.catalog.get(recording_id)
        return row.status == "recording" and "closed early: disk almost full" in (row.reason or "")

    await wait_for(noted, 5, "the closure in the catalog")

    await recorder.stop(31)  # the date ends while the disk is still full
    await wait_for(lambda: _is(archive, recording_id, "needs_finalize"), 15, "needs_finalize")
    row = await archive.catalog.get(recording_id)
    assert "waiting for disk space" in (row.reason or ""), row
    assert archive.paths.parts_dir(recording_id).is_dir(), "the segments are kept"
    await asyncio.sleep(1.0)  # retries while the disk is full change nothing
    assert await _status(archive, recording_id) == "needs_finalize"

    ballast.unlink()  # space is back (retention ran, or someone deleted something)
    freed_at = time.monotonic()
    await wait_for(lambda: _is(archive, recording_id, "available"), 20, "available")
    available_after = time.monotonic() - freed_at
    media = archive.paths.media(recording_id)
    probe = await ffprobe_json(media)
    duration = float(probe["format"]["duration"])
    print(f"full disk: guard closed {closed_after:.2f} s after the disk filled; finalized "
          f"{available_after:.2f} s after space came back; {duration:.1f} s of "
          f"{filled_at - started_at:.1f} s kept")  # fmt: skip
    assert closed_after <= 1.0
    # Retry every 0.5 s here (30 s by default), then remux, probe, stills and hash: ~2 s idle.
    assert available_after <= 15.0
    assert duration >= 2.0
    assert not archive.paths.parts_dir(recording_id).exists()


async def test_low_disk_keeps_what_finalizing_needs(archive, small_disk):
    recorder = archive.recorder
    await recorder.start(32, 7, "Knapper Platz", archive.feed)
    await wait_for(lambda: (s := recorder.status(32)) is not None and s.segments >= 2, 15,
                   "two segments")  # fmt: skip
    written = recorder.status(32).bytes
    # The disk runs low but is not full: above the plain threshold, below threshold + reserve.
    _fill(small_disk, MIN_FREE + space_needed(written) * 3 // 4)
    await wait_for(lambda: recorder.status(32).state == "closed_disk_full", 5, "the guard", 0.02)
    status = recorder.status(32)
    assert "kept to finalize" in (status.reason or ""), status
    await recorder.stop(32)
    await archive.finalizer.wait_idle()
    row = await archive.catalog.get(status.recording_id)
    assert row.status == "available", row  # finalized on the same disk, no space freed


async def _is(archive: Archive, recording_id: int, status: str) -> bool:
    return await _status(archive, recording_id) == status
