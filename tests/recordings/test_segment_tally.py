"""The segment tally: promotion and counts from the lists' new lines only (plain files, no
FFmpeg: the list protocol is FFmpeg's segment muxer's, as ``fixtures_media`` records it)."""

from __future__ import annotations

from pathlib import Path

from recordings import segments
from recordings.segments import SegmentTally


def _write_part(parts: Path, run: int, index: int, size: int) -> str:
    name = f"r{run:03d}-{index:05d}.ts.part"
    (parts / name).write_bytes(b"\x47" * size)
    return name


def _append(parts: Path, run: int, text: str) -> None:
    with segments.list_path(parts, run).open("a", encoding="utf-8") as fh:
        fh.write(text)


def test_listed_segments_are_promoted_and_counted_with_the_open_one(tmp_path: Path) -> None:
    tally = SegmentTally(tmp_path)
    tally.expect(1)
    first = _write_part(tmp_path, 1, 0, 1000)
    assert tally.poll() == segments.Usage(0, 1000)  # nothing listed: only the open segment
    _write_part(tmp_path, 1, 1, 300)
    _append(tmp_path, 1, first + "\n")
    usage = tally.poll()
    assert usage == segments.Usage(1, 1300)
    assert (tmp_path / "r001-00000.ts").stat().st_size == 1000
    assert not (tmp_path / first).exists()
    assert usage == segments.usage(tmp_path)  # the same answer as a full scan


def test_a_line_half_written_waits_for_its_newline(tmp_path: Path) -> None:
    tally = SegmentTally(tmp_path)
    tally.expect(1)
    name = _write_part(tmp_path, 1, 0, 500)
    _append(tmp_path, 1, name[:7])
    assert tally.poll().segments == 0
    assert (tmp_path / name).exists()
    _append(tmp_path, 1, name[7:] + "\n")
    assert tally.poll().segments == 1
    assert (tmp_path / "r001-00000.ts").exists()


def test_foreign_names_empty_parts_and_repeats_are_not_counted(tmp_path: Path) -> None:
    tally = SegmentTally(tmp_path)
    tally.expect(1)
    empty = _write_part(tmp_path, 1, 0, 0)
    good = _write_part(tmp_path, 1, 1, 200)
    outside = tmp_path.parent / "r001-00002.ts.part"
    outside.write_bytes(b"x")
    other_run = _write_part(tmp_path, 2, 0, 50)
    _append(tmp_path, 1, f"{empty}\n{good}\n../{outside.name}\n{other_run}\n{good}\n")
    assert tally.poll() == segments.Usage(1, 200)
    assert not (tmp_path / empty).exists()  # dropped, as the full scan drops it
    assert outside.exists() and (tmp_path / other_run).exists()


def test_a_restarted_run_and_a_continued_recording(tmp_path: Path) -> None:
    # Run 1 of an earlier service: one segment promoted, one listed but not yet renamed, and
    # the one being written when it died (a leftover, salvaged by finalize).
    (tmp_path / "r001-00000.ts").write_bytes(b"a" * 100)
    listed = _write_part(tmp_path, 1, 1, 100)
    _write_part(tmp_path, 1, 2, 40)
    _append(tmp_path, 1, f"r001-00000.ts.part\n{listed}\n")
    tally = SegmentTally(tmp_path)
    assert (tmp_path / "r001-00001.ts").exists()
    assert tally.poll() == segments.Usage(2, 240)
    run = segments.next_run(tmp_path)
    assert run == 2
    tally.expect(run)
    name = _write_part(tmp_path, 2, 0, 70)
    _append(tmp_path, 2, name + "\n")
    _write_part(tmp_path, 2, 1, 5)
    assert tally.poll() == segments.Usage(3, 315)
    assert tally.poll() == segments.usage(tmp_path)
