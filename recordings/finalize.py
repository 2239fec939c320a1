"""Finalization: raw segments → one verified faststart MP4, stills, sha256, catalog entry.

Owns the step from "recorded" to "available" and start-up recovery. Finalization is idempotent
and restartable: it only ever writes ``*.part`` files and renames them when complete, verifies the
MP4 with ffprobe before anything is deleted, and removes the raw segments last. A crash or a
shutdown at any point leaves the row "recording"/"finalizing", and ``recover`` picks it up again.
Without the free space finalizing needs (``space_needed``) the row becomes "needs_finalize" with
its segments kept, and a periodic job finalizes it by itself once the space is back.

The FFmpeg commands (remux, stills) come from ``streaming.ffmpeg.spec`` and run through
``streaming.ffmpeg.oneshot``; a failed job becomes this package's ``FinalizeFailed``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shutil
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from foundation.periodic import PeriodicJob
from recordings import segments
from recordings.catalog import Catalog, MediaFacts
from recordings.diskguard import FreeBytes, disk_free_bytes
from recordings.errors import FinalizeFailed, FinalizeNeedsSpace
from recordings.metrics import RecordingMetrics
from recordings.paths import ArchivePaths
from streaming.errors import FfmpegJobFailed, FfprobeFailed
from streaming.ffmpeg.oneshot import run_to_completion
from streaming.ffmpeg.registry import FfmpegProcesses
from streaming.ffmpeg.spec import poster_argv, remux_argv, thumbnails_argv
from streaming.ffmpeg.tools import ffprobe_json

log = logging.getLogger(__name__)

HASH_CHUNK = 1 << 20
SPACE_MARGIN = 1.05  # the MP4 is a little smaller than the TS segments; keep headroom anyway
RETRY_S = 30.0  # how often recordings waiting for disk space are looked at again


def space_needed(segment_bytes: int) -> int:
    """Free bytes finalizing ``segment_bytes`` of segments takes at its peak: the joined copy of
    the segments, then the MP4 beside it. The disk guard keeps this much in reserve."""
    return int(segment_bytes * 2 * SPACE_MARGIN)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def facts_from_probe(probe: dict[str, Any], size: int, sha256: str) -> MediaFacts:
    """Verify the probe of a finished MP4 and keep what the catalog shows."""
    streams = probe.get("streams") or []
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    fmt = probe.get("format") or {}
    try:
        duration = float(fmt.get("duration") or 0.0)
    except ValueError:
        duration = 0.0
    if video is None or duration <= 0:
        raise FinalizeFailed("the remuxed file has no video or no duration")
    bitrate = fmt.get("bit_rate")
    return MediaFacts(
        duration_s=round(duration, 3),
        size_bytes=size,
        width=video.get("width"),
        height=video.get("height"),
        video_codec=video.get("codec_name"),
        audio_codec=audio.get("codec_name") if audio else None,
        bitrate=int(bitrate) if bitrate and str(bitrate).isdigit() else None,
        sha256=sha256,
    )


class Finalizer:
    def __init__(
        self,
        catalog: Catalog,
        paths: ArchivePaths,
        metrics: RecordingMetrics,
        *,
        ffmpeg: str = "ffmpeg",
        ffprobe: str = "ffprobe",
        processes: FfmpegProcesses | None = None,
        free_bytes: FreeBytes = disk_free_bytes,
        retry_s: float = RETRY_S,
    ) -> None:
        self._catalog = catalog
        self._paths = paths
        self._metrics = metrics
        self._ffmpeg = ffmpeg
        self._ffprobe = ffprobe
        self._processes = processes
        self._free_bytes = free_bytes
        self._tasks: set[asyncio.Task[None]] = set()
        self._finalizing: set[int] = set()
        self._retry = PeriodicJob(
            "recordings-finalize-retry", self.retry_waiting, interval_s=retry_s,
            first_run_s=retry_s,
        )  # fmt: skip

    # -- background ownership -------------------------------------------------------------------

    def start(self) -> None:
        """Start looking for recordings that wait for disk space (every ``retry_s``)."""
        self._retry.start()

    def finalize_soon(self, recording_id: int, *, recovered: bool = False) -> None:
        """Finalize in an owned background task (awaited or cancelled by ``aclose``)."""
        if recording_id in self._finalizing:
            return
        self._finalizing.add(recording_id)
        task = asyncio.create_task(
            self.finalize(recording_id, recovered=recovered), name=f"finalize:{recording_id}"
        )
        self._tasks.add(task)

        def done(task: asyncio.Task[None]) -> None:
            self._tasks.discard(task)
            self._finalizing.discard(recording_id)

        task.add_done_callback(done)

    async def retry_waiting(self) -> list[int]:
        """Finalize every "needs_finalize" recording whose space is there now; returns their ids."""
        ready = []
        for recording in await self._catalog.with_status("needs_finalize"):
            if recording.id in self._finalizing:
                continue
            parts = self._paths.parts_dir(recording.id)
            written = (await asyncio.to_thread(segments.usage, parts)).bytes
            free = await asyncio.to_thread(self._free_bytes, self._paths.root)
            if free >= space_needed(written):
                log.info("recording %d: disk space is back, finalizing", recording.id)
                self.finalize_soon(recording.id, recovered=recording.recovered)
                ready.append(recording.id)
        return ready

    async def wait_for(self, recording_id: int) -> None:
        """Return once no finalization of ``recording_id`` runs (a resumed date continues the
        entry only after its first part is published or has failed)."""
        while recording_id in self._finalizing:
            running = [t for t in self._tasks if t.get_name() == f"finalize:{recording_id}"]
            await asyncio.gather(*running, return_exceptions=True)
            if not running:
                await asyncio.sleep(0.05)

    async def wait_idle(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self, timeout: float = 30.0) -> None:
        """Let running finalizations finish for ``timeout`` s, then cancel them: an interrupted
        one stays "finalizing" and is redone by the next start's recovery."""
        await self._retry.aclose()
        tasks = list(self._tasks)
        if not tasks:
            return
        _done, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def recover(
        self,
        active: Callable[[int], bool] = lambda _id: False,
        elsewhere: Collection[int] = (),
    ) -> list[int]:
        """Queue every unfinished recording not ``active`` for finalization; returns their ids.
        Recordings of the occurrences in ``elsewhere`` are left alone: another node of the same
        archive writes them."""
        found = [
            r.id
            for r in await self._catalog.unfinished()
            if not active(r.id) and r.occurrence_id not in elsewhere
        ]
        for recording_id in found:
            log.warning("recording %d was not finished (crash or power loss): recovering",
                        recording_id)  # fmt: skip
            self.finalize_soon(recording_id, recovered=True)
        return found

    # -- the work -----------------------------------------------------------------------------

    async def finalize(self, recording_id: int, *, recovered: bool = False) -> None:
        """Finalize one recording; never raises except on cancellation (failures are recorded)."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            await self._catalog.set_status(recording_id, "finalizing")
            facts = await self._finalize(recording_id, recovered)
        except asyncio.CancelledError:
            raise
        except FinalizeNeedsSpace as exc:
            # The segments are whole and kept: this recording is late, not broken.
            log.warning("recording %d: %s", recording_id, exc.message)
            self._metrics.finalized.labels("waiting").inc()
            await self._catalog.set_status(recording_id, "needs_finalize", exc.message)
            return
        except Exception as exc:
            reason = exc.message if isinstance(exc, FinalizeFailed) else repr(exc)
            log.error("recording %d: finalization failed: %s", recording_id, reason)
            self._metrics.finalized.labels("failed").inc()
            await self._catalog.set_status(recording_id, "failed", reason[:300])
            return
        await self._catalog.publish(recording_id, facts, recovered=recovered)
        self._metrics.finalized.labels("recovered" if recovered else "ok").inc()
        log.info("recording %d available: %.1f s, %d bytes, finalized in %.2f s%s",
                 recording_id, facts.duration_s, facts.size_bytes, loop.time() - started,
                 " (recovered)" if recovered else "")  # fmt: skip

    async def _finalize(self, recording_id: int, recovered: bool) -> MediaFacts:
        parts = self._paths.parts_dir(recording_id)
        media = self._paths.media(recording_id)
        segs: list[Path] = []
        if parts.is_dir():
            await asyncio.to_thread(segments.promote_completed, parts)
            segs = await self._salvage(recording_id, parts)
        if segs:
            await self._remux(recording_id, parts, segs, media)
        elif not media.is_file():
            raise FinalizeFailed("nothing was recorded (no segments)")
        # else: a previous run remuxed and verified already but died before publishing.
        facts = await self._verify(media)
        duration = facts.duration_s
        poster, thumbs = self._paths.poster(recording_id), self._paths.thumbnails(recording_id)
        await self._still(
            recording_id,
            "poster",
            poster_argv(
                media, min(1.0, duration / 2), poster.with_suffix(".part.jpg"), self._ffmpeg
            ),
            poster,
        )
        await self._still(
            recording_id,
            "thumbs",
            thumbnails_argv(media, duration, thumbs.with_suffix(".part.jpg"), self._ffmpeg),
            thumbs,
        )
        if parts.is_dir():
            # Only now, with a verified MP4 renamed into place, are the raw segments expendable.
            await asyncio.to_thread(shutil.rmtree, parts)
        return facts

    async def _salvage(self, recording_id: int, parts: Path) -> list[Path]:
        """Complete segments plus any readable leftover of a crash, in order."""
        for part in segments.leftovers(parts):
            try:
                probe = await ffprobe_json(part, self._ffprobe, timeout=15)
                readable = float((probe.get("format") or {}).get("duration") or 0) > 0
            except (FfprobeFailed, ValueError):
                readable = False
            if readable:
                os.replace(part, part.with_name(part.name.removesuffix(segments.PART_SUFFIX)))
                log.info("recording %d: salvaged partial segment %s", recording_id, part.name)
            else:
                log.warning("recording %d: dropped unreadable segment %s", recording_id,
                            part.name)  # fmt: skip
                part.unlink()
        return segments.completed(parts)

    async def _remux(self, recording_id: int, parts: Path, segs: list[Path], media: Path) -> None:
        needed = space_needed(sum(s.stat().st_size for s in segs))
        free = await asyncio.to_thread(self._free_bytes, self._paths.root)
        if free < needed:
            raise FinalizeNeedsSpace(
                f"waiting for disk space to finalize ({free / 2**20:.1f} MiB free, "
                f"{needed / 2**20:.1f} MiB needed); segments kept, finalized once space is back"
            )
        concat = parts / "concat.ffconcat"
        joined = await asyncio.to_thread(segments.join_runs, parts, segs)
        await asyncio.to_thread(segments.write_concat_list, parts, joined, concat)
        tmp = media.with_suffix(".part.mp4")
        await self._run(f"recording-{recording_id}-remux", remux_argv(concat, tmp, self._ffmpeg))
        await self._verify(tmp, hashed=False)  # never rename a file ffprobe cannot read
        os.replace(tmp, media)

    async def _verify(self, media: Path, *, hashed: bool = True) -> MediaFacts:
        try:
            probe = await ffprobe_json(media, self._ffprobe, timeout=60)
        except FfprobeFailed as exc:
            raise FinalizeFailed(f"the MP4 does not verify: {exc.message}") from None
        size = (await asyncio.to_thread(media.stat)).st_size
        digest = await asyncio.to_thread(sha256_file, media) if hashed else ""
        return facts_from_probe(probe, size, digest)

    async def _run(self, name: str, argv: list[str], timeout: float = 600.0) -> None:
        """One FFmpeg job to completion; its failure is this recording's ``FinalizeFailed``."""
        try:
            await run_to_completion(name, argv, processes=self._processes, timeout=timeout)
        except FfmpegJobFailed as exc:
            raise FinalizeFailed(exc.message) from exc

    async def _still(self, recording_id: int, kind: str, argv: list[str], target: Path) -> None:
        try:
            await self._run(f"recording-{recording_id}-{kind}", argv, timeout=120)
        except FinalizeFailed as exc:
            # A missing still is cosmetic: the recording itself is fine and stays available.
            log.warning("recording %d: no %s image: %s", recording_id, kind, exc.message)
            return
        os.replace(Path(argv[-1]), target)
