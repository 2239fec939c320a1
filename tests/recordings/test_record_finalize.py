"""Recorder + finalizer end to end on a real feed: the seminar archive's main promise."""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path

import pytest

from recordings.recorder import RecorderStatus
from tests.recordings.conftest import MIN_FREE, Archive

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("no_orphan_ffmpeg")]


async def _record(archive: Archive, feed: Path, occurrence_id: int, seconds: float) -> int:
    recorder = archive.recorder
    await recorder.start(occurrence_id, 7, "Stadtgeschichte", feed)
    await asyncio.sleep(seconds)
    status = recorder.status(occurrence_id)
    assert status is not None and status.recording_id is not None
    await recorder.stop(occurrence_id)
    await archive.finalizer.wait_idle()
    return status.recording_id


async def test_eight_seconds_become_one_available_recording(archive, feed, ffprobe):
    started = time.monotonic()
    recording_id = await _record(archive, feed, occurrence_id=11, seconds=8.0)
    finalize_s = time.monotonic() - started - 8.0

    [recording] = await archive.catalog.list()
    assert recording.id == recording_id
    assert (recording.status, recording.recovered, recording.occurrence_id) == (
        "available", False, 11)  # fmt: skip
    media = archive.paths.media(recording_id)
    probe = await ffprobe(media)
    assert abs(float(probe["format"]["duration"]) - 8.0) <= 1.0, probe["format"]
    codecs = sorted(s["codec_name"] for s in probe["streams"])
    assert codecs == ["aac", "h264"]
    assert "mp4" in probe["format"]["format_name"]
    # faststart: the moov box comes before mdat, so browsers start playing at once.
    head = media.read_bytes()[:4096]
    moov, mdat = head.find(b"moov"), head.find(b"mdat")
    assert moov != -1 and (mdat == -1 or moov < mdat)
    assert recording.sha256 == hashlib.sha256(media.read_bytes()).hexdigest()
    assert recording.size_bytes == media.stat().st_size
    assert (recording.width, recording.height) == (640, 360)
    assert (recording.video_codec, recording.audio_codec) == ("h264", "aac")
    poster = await ffprobe(archive.paths.poster(recording_id))
    assert poster["streams"][0]["width"] == 640
    thumbs = await ffprobe(archive.paths.thumbnails(recording_id))
    assert thumbs["streams"][0]["width"] == 1600  # 10 × 160 px
    # Raw segments are gone only now that the MP4 is verified.
    assert not archive.paths.parts_dir(recording_id).exists()
    assert finalize_s < 10.0, finalize_s  # stop + remux + stills + sha256; generous for loaded CI
    assert archive.recorder.status(11) is None


async def test_disk_guard_closes_cleanly_and_keeps_a_valid_file(archive, feed, ffprobe):
    recorder = archive.recorder
    await recorder.start(12, 7, "Volle Platte", feed)
    await asyncio.sleep(3.5)
    archive.free["bytes"] = MIN_FREE - 1  # the disk fills up mid-seminar
    for _ in range(40):
        status = recorder.status(12)
        if status is not None and status.state == "closed_disk_full":
            break
        await asyncio.sleep(0.1)
    assert isinstance(status, RecorderStatus) and status.state == "closed_disk_full"
    assert status.reason and "disk almost full" in status.reason
    assert status.segments >= 1 and status.bytes > 0
    await asyncio.sleep(0.5)
    # Closed cleanly: FFmpeg finished its open segment, so every segment is complete.
    written = list(archive.paths.parts_dir(status.recording_id).iterdir())
    assert not [p.name for p in written if p.name.endswith(".part")]
    # Space comes back (e.g. retention ran): the end of the seminar finalizes what was written.
    archive.free["bytes"] = 10**12
    await recorder.stop(12)
    await archive.finalizer.wait_idle()
    recording = await archive.catalog.get(status.recording_id)
    assert recording.status == "available"
    probe = await ffprobe(archive.paths.media(recording.id))
    assert 2.0 <= float(probe["format"]["duration"]) <= 5.0
    assert len(probe["streams"]) == 2
    assert archive.registry.get_sample_value(
        "knoten_recordings_disk_guard_closures_total") == 1.0  # fmt: skip


async def test_no_recording_starts_on_a_full_disk(archive, feed):
    archive.free["bytes"] = 10
    await archive.recorder.start(13, 7, "Kein Platz", feed)
    status = archive.recorder.status(13)
    assert status is not None and status.state == "closed_disk_full"
    assert await archive.catalog.list() == []
    await archive.recorder.stop(13)
    assert archive.recorder.status(13) is None
