"""The recorder: writes each live occurrence's master feed into crash-safe segments.

Owns one FFmpeg (stream copy, segment muxer) per recording occurrence, run by an
``FfmpegSupervisor`` that restarts it if the feed hiccups (each run gets fresh segment names),
plus one watch task that promotes completed segments as FFmpeg lists them
(``segments.SegmentTally``: each poll reads only the lists' new lines), keeps the byte/segment
counts, and asks the disk guard whether writing may go on. A kill -9 loses at most the segment
being written (~``segment_seconds``). A recording still open when the service stopped
(``suspend_all`` at shutdown, or a crash) is continued by the next ``start`` of its occurrence:
same catalog entry, a new run of segments. So is a finalized one whose date staff resumed after a
stop: its MP4 becomes run 0 again and the entry is "recording" until finalize has joined all runs.
``stop`` closes FFmpeg gracefully (SIGINT lets it finish the open segment) and hands the
recording to the ``Finalizer`` in the background.

API used by the session runner: ``start``, ``stop``, ``suspend`` (another node continues the
date), ``status``; the app: ``suspend_all``, ``aclose``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from foundation.clock import Clock, SystemClock
from recordings import segments
from recordings.catalog import Catalog, Recording
from recordings.diskguard import DiskGuard
from recordings.finalize import Finalizer, space_needed
from recordings.metrics import RecordingMetrics
from recordings.paths import ArchivePaths
from streaming.errors import FfmpegJobFailed, FfmpegNotFound
from streaming.ffmpeg.oneshot import run_to_completion
from streaming.ffmpeg.policy import ProcessState, RestartPolicy
from streaming.ffmpeg.registry import FfmpegProcesses
from streaming.ffmpeg.spec import FeedInput, FfmpegSpec, Output, build_argv, reopen_argv
from streaming.ffmpeg.supervisor import FfmpegSupervisor

log = logging.getLogger(__name__)

# Our own feed needs no 5 s of analysis (FFmpeg's default, measured: x264's stream has no VUI
# frame rate, so the probe runs to the limit). Until it ends nothing is written, and a crash then
# would lose those seconds too. 1 s still sees both streams.
ANALYZE_US = 1_000_000
RecorderState = Literal["recording", "closed_disk_full", "failed"]
_POLICY = RestartPolicy(
    initial_backoff_s=0.5,
    max_backoff_s=5.0,  # the feed is local: come back quickly, every lost second is lost footage
    startup_timeout_s=15.0,
    stale_timeout_s=10.0,
    grace_s=5.0,
)


@dataclass(frozen=True, slots=True)
class RecorderStatus:
    state: RecorderState
    recording_id: int | None
    bytes: int
    segments: int
    reason: str | None = None


@dataclass
class _Active:
    occurrence_id: int
    recording_id: int
    parts: Path
    supervisor: FfmpegSupervisor
    tally: segments.SegmentTally
    state: RecorderState = "recording"
    reason: str | None = None
    bytes: int = 0
    segments: int = 0
    watcher: asyncio.Task[None] | None = field(default=None, repr=False)

    def status(self) -> RecorderStatus:
        return RecorderStatus(self.state, self.recording_id, self.bytes, self.segments,
                              self.reason)  # fmt: skip


class Recorder:
    def __init__(
        self,
        catalog: Catalog,
        paths: ArchivePaths,
        finalizer: Finalizer,
        guard: DiskGuard,
        metrics: RecordingMetrics,
        *,
        ffmpeg: str = "ffmpeg",
        processes: FfmpegProcesses | None = None,
        segment_seconds: float = 2.0,
        poll_s: float = 0.5,
        clock: Clock | None = None,
    ) -> None:
        self._catalog = catalog
        self._paths = paths
        self._finalizer = finalizer
        self._guard = guard
        self._metrics = metrics
        self._ffmpeg = ffmpeg
        self._processes = processes
        self._segment_seconds = segment_seconds
        self._poll_s = poll_s
        self._clock = clock or SystemClock()
        self._active: dict[int, _Active] = {}
        self._refused: dict[int, RecorderStatus] = {}  # never started: disk full or no ffmpeg
        self._lock = asyncio.Lock()
        self._closed = False

    # -- the session runner's API ---------------------------------------------------------------

    async def start(self, occurrence_id: int, seminar_id: int, title: str, feed: Path) -> None:
        """Start recording ``feed`` for the occurrence (idempotent while it records)."""
        async with self._lock:
            if self._closed:
                raise RuntimeError("the recorder is closed")
            if occurrence_id in self._active:
                return
            self._refused.pop(occurrence_id, None)
            await asyncio.to_thread(self._paths.ensure_root)
            if reason := await asyncio.to_thread(self._guard.check, self._reserve()):
                log.error("occurrence %d: not recording: %s", occurrence_id, reason)
                self._metrics.disk_guard_closures.inc()
                self._refused[occurrence_id] = RecorderStatus("closed_disk_full", None, 0, 0,
                                                              reason)  # fmt: skip
                return
            recording = await self._continuable(occurrence_id)
            if recording is None:
                recording = await self._catalog.create(
                    occurrence_id, seminar_id, title, self._clock.now()
                )
            parts = self._paths.parts_dir(recording.id)
            await asyncio.to_thread(parts.mkdir, parents=True, exist_ok=True)
            tally = await asyncio.to_thread(segments.SegmentTally, parts)
            supervisor = FfmpegSupervisor(
                f"recorder-{recording.id}", lambda: self._argv(feed, parts, tally), policy=_POLICY
            )
            active = _Active(occurrence_id, recording.id, parts, supervisor, tally)
            try:
                if self._processes is not None:
                    await self._processes.start(supervisor)
                else:
                    await supervisor.start()
            except FfmpegNotFound as exc:
                await self._catalog.set_status(recording.id, "failed", str(exc))
                self._refused[occurrence_id] = RecorderStatus("failed", recording.id, 0, 0,
                                                              str(exc))  # fmt: skip
                return
            active.watcher = asyncio.create_task(
                self._watch(active), name=f"recorder-watch:{recording.id}"
            )
            self._active[occurrence_id] = active
            self._metrics.active.set(len(self._active))
            log.info("occurrence %d: recording %d started", occurrence_id, recording.id)

    async def stop(self, occurrence_id: int) -> None:
        """Close the recording and finalize it in the background; no-op if none is running."""
        async with self._lock:
            self._refused.pop(occurrence_id, None)
            active = self._active.pop(occurrence_id, None)
            self._metrics.active.set(len(self._active))
            if active is None:
                return
            if active.watcher is not None:
                active.watcher.cancel()
                await asyncio.gather(active.watcher, return_exceptions=True)
            await self._close_ffmpeg(active)
            await self._catalog.set_status(
                active.recording_id, "finalizing", active.reason, ended_at=self._clock.now()
            )
            log.info("occurrence %d: recording %d stopped (%d segments, %d bytes)",
                     occurrence_id, active.recording_id, active.segments, active.bytes)  # fmt: skip
            self._finalizer.finalize_soon(active.recording_id)

    async def suspend_all(self) -> None:
        """Service shutdown with dates on air: close every FFmpeg gracefully but leave the
        recordings open ("recording"), so the next start continues each one in the same entry
        (or, if its date ended meanwhile, recovery finalizes it)."""
        async with self._lock:
            suspended, self._active = list(self._active.values()), {}
            self._metrics.active.set(0)
            for active in suspended:
                await self._suspend(active, "for the restart")

    async def suspend(self, occurrence_id: int) -> None:
        """Another node goes on with this date: close its FFmpeg gracefully and leave the
        recording open ("recording") for that node to continue as a further run of segments."""
        async with self._lock:
            active = self._active.pop(occurrence_id, None)
            self._metrics.active.set(len(self._active))
            if active is not None:
                await self._suspend(active, "for another node")

    async def _suspend(self, active: _Active, why: str) -> None:
        if active.watcher is not None:
            active.watcher.cancel()
            await asyncio.gather(active.watcher, return_exceptions=True)
        await self._close_ffmpeg(active)
        log.info("occurrence %d: recording %d suspended %s", active.occurrence_id,
                 active.recording_id, why)  # fmt: skip

    def status(self, occurrence_id: int) -> RecorderStatus | None:
        active = self._active.get(occurrence_id)
        if active is not None:
            return active.status()
        return self._refused.get(occurrence_id)

    def is_writing(self, recording_id: int) -> bool:
        return any(a.recording_id == recording_id for a in self._active.values())

    async def aclose(self, finalize_timeout: float = 30.0) -> None:
        """Stop every recording, then wait for (or, past the timeout, abandon to recovery) their
        finalization. Idempotent."""
        self._closed = True
        for occurrence_id in list(self._active):
            await self.stop(occurrence_id)
        await self._finalizer.aclose(finalize_timeout)

    # -- internals ------------------------------------------------------------------------------

    async def _continuable(self, occurrence_id: int) -> Recording | None:
        """The occurrence's earlier recording, made ready for a new run of segments, or None.

        One date, one archive entry: a restart (the service stopped or died on air) finds it
        still "recording" with its segments; a date stopped by staff and resumed finds it
        "available", and its MP4 goes back into the segments as run 0, so finalize joins it
        with the new runs. A failed entry is left as it is (a new one starts).
        """
        latest = await self._catalog.latest(occurrence_id)
        if latest is None:
            return None
        await self._finalizer.wait_for(latest.id)  # an undo seconds after the stop
        recording = await self._catalog.get(latest.id)
        parts = self._paths.parts_dir(recording.id)
        if recording.status in ("recording", "needs_finalize") and parts.is_dir():
            log.warning("occurrence %d: continuing recording %d after a restart",
                        occurrence_id, recording.id)  # fmt: skip
            await self._catalog.set_status(
                recording.id, "recording", "continued after a service restart"
            )
            return recording
        if recording.status != "available":
            return None
        media = self._paths.media(recording.id)
        # Unavailable first: from here on nobody downloads or shares a file about to change.
        await self._catalog.set_status(
            recording.id, "recording", "continued: the date was resumed after a stop"
        )
        try:
            await asyncio.to_thread(parts.mkdir, parents=True, exist_ok=True)
            scratch = parts / "reopen.tmp.ts"  # no segment name: never salvaged half-written
            argv = reopen_argv(media, scratch, self._ffmpeg)
            await run_to_completion(f"recording-{recording.id}-reopen", argv,
                                    processes=self._processes, timeout=600)  # fmt: skip
            await asyncio.to_thread(os.replace, scratch, parts / segments.first_segment_name())
            await asyncio.to_thread(media.unlink, missing_ok=True)
        except (OSError, FfmpegJobFailed, FfmpegNotFound) as exc:
            # The published file is untouched: give it back and record the rest separately.
            log.error("recording %d: cannot continue it (%s), starting a new one",
                      recording.id, exc)  # fmt: skip
            await asyncio.to_thread(shutil.rmtree, parts, True)
            await self._catalog.set_status(
                recording.id, "available", "the date was resumed; its rest is a separate recording"
            )
            return None
        log.warning("occurrence %d: resumed, continuing recording %d", occurrence_id,
                    recording.id)  # fmt: skip
        return recording

    def _argv(self, feed: Path, parts: Path, tally: segments.SegmentTally) -> list[str]:
        """Evaluated before every (re)start: each run writes its own segments and list."""
        run = segments.next_run(parts)
        tally.expect(run)
        options = (
            ("segment_time", f"{self._segment_seconds:g}"),
            ("segment_format", "mpegts"),
            ("segment_list", str(segments.list_path(parts, run))),
            ("segment_list_type", "flat"),
        )
        output = Output(segments.segment_pattern(parts, run), "segment", options)
        feed_input = FeedInput(feed, analyze_us=ANALYZE_US)
        spec = FfmpegSpec(f"recorder:{parts.parent.name}", feed_input, None, (output,))
        return build_argv(spec, self._ffmpeg)

    def _reserve(self) -> int:
        """Free space the open recordings will need to be finalized (kept by the guard)."""
        return space_needed(sum(a.bytes for a in self._active.values()))

    async def _close_ffmpeg(self, active: _Active) -> None:
        """Graceful stop (the open segment is completed and listed), then promote everything."""
        if self._processes is not None and active.supervisor.name in self._processes:
            await self._processes.remove(active.supervisor.name)
        else:
            await active.supervisor.aclose()
        await self._refresh(active)

    async def _refresh(self, active: _Active) -> None:
        usage = await asyncio.to_thread(active.tally.poll)
        active.bytes, active.segments = usage.bytes, usage.segments

    def _poll(self, active: _Active, reserve: int) -> str | None:
        """One watch step, in a worker thread: promote and count, then ask the guard."""
        usage = active.tally.poll()
        active.bytes, active.segments = usage.bytes, usage.segments
        return self._guard.check(reserve)

    async def _watch(self, active: _Active) -> None:
        while True:
            await asyncio.sleep(self._poll_s)
            try:
                reason = await asyncio.to_thread(self._poll, active, self._reserve())
            except OSError as exc:  # e.g. ENOSPC while renaming: treat like a full disk
                reason = f"archive write error: {exc}"
            if reason is not None:
                log.error("recording %d closed early: %s", active.recording_id, reason)
                self._metrics.disk_guard_closures.inc()
                active.state, active.reason = "closed_disk_full", f"closed early: {reason}"
                with contextlib.suppress(OSError):
                    await self._close_ffmpeg(active)
                try:  # the catalog says so at once, not only when the date ends
                    await self._catalog.set_status(active.recording_id, "recording", active.reason)
                except Exception:  # the database may live on the same full disk
                    log.exception("recording %d: closure not noted in the catalog",
                                  active.recording_id)  # fmt: skip
                return
            if active.supervisor.state is ProcessState.FAILED:
                active.state = "failed"
                active.reason = active.supervisor.last_error or "ffmpeg failed"
                return
