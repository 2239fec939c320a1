"""Retention: which recordings go, when, and the component that deletes them.

``select_for_deletion`` is the pure policy: available recordings older than ``retention_days``,
then, while the archive is above ``quota_bytes``, the oldest remaining ones; never ``keep``, never
one that is not "available" (being written, finalizing, failed ones are someone's to look at) and
never one the recorder is writing. ``Retention`` applies it (deleting row, then files), logs and
counts every deletion, and runs daily on an owned timer task and on demand.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from foundation.clock import Clock, SystemClock
from foundation.periodic import DAY_S, PeriodicJob
from recordings.catalog import Catalog, Recording
from recordings.errors import RecordingBusy, RecordingNotFound
from recordings.metrics import RecordingMetrics
from recordings.paths import ArchivePaths

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetentionRules:
    retention_days: int = 365  # 0 = keep forever
    quota_bytes: int = 0  # 0 = no quota


@dataclass(frozen=True, slots=True)
class Deletion:
    recording_id: int
    reason: str  # "age" | "quota"


def select_for_deletion(
    recordings: Iterable[Recording],
    now: datetime,
    rules: RetentionRules,
    writing: Callable[[int], bool] = lambda _id: False,
) -> list[Deletion]:
    """The recordings to delete under ``rules`` at ``now``, oldest first. Pure."""
    items = sorted(recordings, key=lambda r: (r.started_at, r.id))
    deletable = [r for r in items if r.status == "available" and not r.keep and not writing(r.id)]
    chosen: list[Deletion] = []
    if rules.retention_days > 0:
        cutoff = now - timedelta(days=rules.retention_days)
        chosen = [Deletion(r.id, "age") for r in deletable if r.started_at < cutoff]
    if rules.quota_bytes > 0:
        gone = {d.recording_id for d in chosen}
        total = sum(r.size_bytes or 0 for r in items if r.id not in gone)
        for r in deletable:
            if total <= rules.quota_bytes:
                break
            if r.id not in gone:
                chosen.append(Deletion(r.id, "quota"))
                total -= r.size_bytes or 0
    return chosen


class Retention:
    def __init__(
        self,
        catalog: Catalog,
        paths: ArchivePaths,
        rules: RetentionRules,
        metrics: RecordingMetrics,
        *,
        clock: Clock | None = None,
        writing: Callable[[int], bool] = lambda _id: False,
        after_delete: Callable[[Recording], Awaitable[None]] | None = None,
        interval_s: float = DAY_S,
        first_run_s: float = 60.0,
    ) -> None:
        self._catalog = catalog
        self._paths = paths
        self.rules = rules
        self._metrics = metrics
        self._clock = clock or SystemClock()
        self._writing = writing
        # What else goes with a recording (its date's chat): called after its files are gone.
        self._after_delete = after_delete
        self._job = PeriodicJob(
            "recordings-retention", self.run_once, interval_s=interval_s, first_run_s=first_run_s
        )
        self._lock = asyncio.Lock()  # one pass at a time (timer and on-demand may coincide)
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> list[Deletion]:
        """Apply the rules now; returns what was deleted."""
        async with self._lock:
            candidates = select_for_deletion(
                await self._catalog.list(), self._clock.now(), self.rules, self._writing
            )
            done: list[Deletion] = []
            for deletion in candidates:
                try:
                    removed = await self._catalog.delete(deletion.recording_id, unless_kept=True)
                except (RecordingBusy, RecordingNotFound) as exc:
                    log.info("retention: recording %d skipped: %s", deletion.recording_id, exc)
                    continue  # changed since the list was read (keep set, deleted meanwhile)
                await self.delete_files(removed, deletion.reason)
                done.append(deletion)
            return done

    async def delete_files(self, removed: Recording, reason: str) -> None:
        """Delete the files of a recording whose row is gone; log and count it. Rows go first,
        so a crash in between leaves an unlisted directory, never a listed recording without
        its file."""
        directory = self._paths.recording_dir(removed.id)
        await asyncio.to_thread(shutil.rmtree, directory, ignore_errors=True)
        self._metrics.deleted.labels(reason).inc()
        log.warning(
            "recording %d deleted (%s): %r, started %s, %s bytes",
            removed.id, reason, removed.title, removed.started_at.isoformat(), removed.size_bytes,
        )  # fmt: skip
        if self._after_delete is not None:
            try:
                await self._after_delete(removed)
            except Exception:  # the recording is gone either way; what goes with it is retried
                log.exception("recording %d: cleaning up what belongs to it failed", removed.id)

    def start(self) -> None:
        self._job.start()

    async def aclose(self) -> None:
        await self._job.aclose()
