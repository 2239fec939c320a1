"""Retention: the pure policy, and the component against a real catalog with an injected clock
and a small quota (files and rows go, keep and busy recordings stay, deletions are counted)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from recordings.catalog import MediaFacts, Recording
from recordings.retention import Deletion, Retention, RetentionRules, select_for_deletion
from schedules.clock import FakeClock

NOW = datetime(2027, 6, 1, 12, tzinfo=UTC)


def rec(rid: int, days_old: float, size: int = 100, status: str = "available",
        keep: bool = False) -> Recording:  # fmt: skip
    return Recording(id=rid, occurrence_id=rid, seminar_id=1, title=f"r{rid}", status=status,
                     reason=None, recovered=False, keep=keep,
                     started_at=NOW - timedelta(days=days_old), ended_at=None, duration_s=1.0,
                     size_bytes=size, width=None, height=None, video_codec=None,
                     audio_codec=None, bitrate=None, sha256=None)  # fmt: skip


def test_age_oldest_first_never_keep_or_busy():
    items = [rec(1, 400), rec(2, 500, keep=True), rec(3, 366), rec(4, 10),
             rec(5, 900, status="recording"), rec(6, 800, status="finalizing"),
             rec(7, 700, status="failed")]  # fmt: skip
    chosen = select_for_deletion(items, NOW, RetentionRules(retention_days=365))
    assert chosen == [Deletion(1, "age"), Deletion(3, "age")]
    assert select_for_deletion(items, NOW, RetentionRules(retention_days=0)) == []


def test_quota_deletes_oldest_until_under_it():
    items = [rec(1, 30, 400), rec(2, 20, 400, keep=True), rec(3, 10, 400), rec(4, 5, 400)]
    chosen = select_for_deletion(items, NOW, RetentionRules(retention_days=0, quota_bytes=900))
    assert chosen == [Deletion(1, "quota"), Deletion(3, "quota")]  # 2 is kept: skip to 3
    # A recording being written is never chosen, even if it is the oldest.
    chosen = select_for_deletion(items, NOW, RetentionRules(0, 900), writing=lambda i: i == 1)
    assert chosen == [Deletion(3, "quota"), Deletion(4, "quota")]


async def _published(archive, title: str, started: datetime, size: int, keep=False) -> int:
    recording = await archive.catalog.create(1, 1, title, started)
    directory = archive.paths.recording_dir(recording.id)
    directory.mkdir(parents=True)
    (directory / "recording.mp4").write_bytes(b"\0" * size)
    facts = MediaFacts(1.0, size, 320, 180, "h264", "aac", 1000, "0" * 64)
    await archive.catalog.publish(recording.id, facts, recovered=False)
    if keep:
        await archive.catalog.update(recording.id, keep=True)
    return recording.id


@pytest.mark.both_databases
async def test_component_with_clock_and_small_quota(archive, caplog):
    clock = FakeClock(NOW)
    old = await _published(archive, "alt", NOW - timedelta(days=40), 1000)
    kept = await _published(archive, "behalten", NOW - timedelta(days=35), 1000, keep=True)
    mid = await _published(archive, "mittel", NOW - timedelta(days=20), 1000)
    new = await _published(archive, "neu", NOW - timedelta(days=1), 1000)
    busy = await archive.catalog.create(2, 1, "läuft", NOW - timedelta(days=90))
    retention = Retention(archive.catalog, archive.paths, RetentionRules(30, 2500),
                          archive.metrics, clock=clock)  # fmt: skip
    deleted = await retention.run_once()
    # Age removes "alt" (40 d); then 3000 bytes > 2500: quota removes "mittel", the oldest
    # deletable one ("behalten" is kept, the busy one is being written).
    assert deleted == [Deletion(old, "age"), Deletion(mid, "quota")]
    remaining = {r.id for r in await archive.catalog.list()}
    assert remaining == {kept, new, busy.id}
    assert not archive.paths.recording_dir(old).exists()
    assert archive.paths.recording_dir(kept).exists()
    assert archive.registry.get_sample_value("knoten_recordings_deleted_total",
                                             {"reason": "age"}) == 1.0  # fmt: skip
    assert archive.registry.get_sample_value("knoten_recordings_deleted_total",
                                             {"reason": "quota"}) == 1.0  # fmt: skip
    assert f"recording {old} deleted (age)" in caplog.text
    # Time passes: "neu" ages out 30 days later; the kept one never does.
    clock.advance(timedelta(days=31))
    assert await retention.run_once() == [Deletion(new, "age")]
    assert {r.id for r in await archive.catalog.list()} == {kept, busy.id}
