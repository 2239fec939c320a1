"""A process that runs only the Recorder (what the session runner does for a live occurrence),
so the kill -9 test can kill it mid-recording: ``python -m tests.recordings.recorder_proc DATA
FEED``. Prints one JSON line once recording has begun: {"recording_id", "ffmpeg_pid"}."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from prometheus_client import CollectorRegistry

from knoten.db import Database
from recordings.catalog import Catalog
from recordings.diskguard import DiskGuard
from recordings.finalize import Finalizer
from recordings.metrics import RecordingMetrics
from recordings.paths import ArchivePaths
from recordings.recorder import Recorder


async def main(data: Path, feed: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{data / 'knoten.db'}")
    await db.start()
    catalog = Catalog(lambda: db.engine)
    paths = ArchivePaths(data / "recordings")
    metrics = RecordingMetrics(CollectorRegistry())
    finalizer = Finalizer(catalog, paths, metrics)
    recorder = Recorder(catalog, paths, finalizer, DiskGuard(paths.root, 0), metrics)
    await recorder.start(21, 3, "Absturz", feed)
    status = recorder.status(21)
    assert status is not None and status.recording_id is not None
    supervisor_pid = None
    while supervisor_pid is None:  # the pid of the recorder's FFmpeg (to simulate power loss)
        supervisor_pid = recorder._active[21].supervisor.pid
        await asyncio.sleep(0.05)
    print(json.dumps({"recording_id": status.recording_id, "ffmpeg_pid": supervisor_pid}),
          flush=True)  # fmt: skip
    await asyncio.sleep(3600)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2])))
