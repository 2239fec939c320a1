"""Fixtures of the archive tests: real components on a temporary database (SQLite, or PostgreSQL
for tests marked ``both_databases``) and archive root, a stand-in master feed, and a fast way to
make a finalized recording without waiting."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from knoten.db import Database
from recordings.catalog import Catalog
from recordings.diskguard import DiskGuard
from recordings.finalize import Finalizer
from recordings.metrics import RecordingMetrics
from recordings.paths import ArchivePaths
from recordings.recorder import Recorder
from tests.recordings.feeds import stand_in_feed


@dataclass
class Archive:
    db: Database
    catalog: Catalog
    paths: ArchivePaths
    metrics: RecordingMetrics
    registry: CollectorRegistry
    finalizer: Finalizer
    recorder: Recorder
    free: dict[str, int] = field(default_factory=lambda: {"bytes": 10**12})


MIN_FREE = 1 << 30


@pytest.fixture
async def archive(tmp_path: Path, database_url: str) -> AsyncIterator[Archive]:
    db = Database(database_url)
    await db.start()
    registry = CollectorRegistry()
    metrics = RecordingMetrics(registry)
    catalog = Catalog(lambda: db.engine)
    paths = ArchivePaths(tmp_path / "recordings")
    free = {"bytes": 10**12}
    finalizer = Finalizer(catalog, paths, metrics, free_bytes=lambda _p: free["bytes"])
    guard = DiskGuard(paths.root, MIN_FREE, free_bytes=lambda _p: free["bytes"])
    recorder = Recorder(catalog, paths, finalizer, guard, metrics, poll_s=0.25)
    try:
        yield Archive(db, catalog, paths, metrics, registry, finalizer, recorder, free)
    finally:
        await recorder.aclose()
        await db.aclose()


@pytest.fixture
async def feed(tmp_path: Path) -> AsyncIterator[Path]:
    """The stand-in master feed's socket path (served until the test ends)."""
    async with stand_in_feed(tmp_path / "feed.sock") as socket:
        yield socket
