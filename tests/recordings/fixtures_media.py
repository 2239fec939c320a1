"""Make finalized recordings quickly: segments rendered faster than real time by a real FFmpeg
(under the supervisor) in the recorder's own on-disk layout, then the real finalizer."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from recordings import segments
from recordings.catalog import Catalog
from recordings.finalize import Finalizer
from recordings.paths import ArchivePaths
from streaming.ffmpeg.oneshot import run_to_completion


def segments_argv(parts: Path, seconds: float) -> list[str]:
    return ["ffmpeg", "-nostdin", "-hide_banner", "-nostats", "-loglevel", "error",
            "-progress", "pipe:1", "-y",
            "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", f"{seconds}", "-map", "0:v", "-map", "1:a",
            "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-f", "segment", "-segment_time", "1", "-segment_format", "mpegts",
            "-segment_list", str(segments.list_path(parts, 1)), "-segment_list_type", "flat",
            str(segments.segment_pattern(parts, 1))]  # fmt: skip


async def write_segments(paths: ArchivePaths, recording_id: int, seconds: float) -> Path:
    parts = paths.parts_dir(recording_id)
    parts.mkdir(parents=True, exist_ok=True)
    await run_to_completion(f"test-segments-{recording_id}", segments_argv(parts, seconds))
    return parts


async def make_recording(
    catalog: Catalog,
    paths: ArchivePaths,
    finalizer: Finalizer,
    *,
    seconds: float = 3.0,
    title: str = "Lesung",
    occurrence_id: int = 1,
    seminar_id: int = 1,
    started_at: datetime,
) -> int:
    """A finalized ("available") recording of ``seconds``; returns its id."""
    recording = await catalog.create(occurrence_id, seminar_id, title, started_at)
    await write_segments(paths, recording.id, seconds)
    await finalizer.finalize(recording.id)
    return recording.id
