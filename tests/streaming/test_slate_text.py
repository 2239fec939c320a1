"""Slate text fits the picture at every profile: a 200-character German title with umlauts is
wrapped and sized so that, rendered by the real FFmpeg through the slate's own spec, no text
pixel touches the picture's border (a cut letter would)."""

from __future__ import annotations

import array
import asyncio
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from streaming.ffmpeg.spec import (
    FONT_FILE,
    PROFILES,
    FfmpegSpec,
    Output,
    SlateInput,
    VideoProfile,
    build_argv,
)
from streaming.live.slate_text import (
    MARGIN_X,
    FontMetrics,
    fit,
    fit_all,
    lead_in_text,
    trouble_text,
)

pytestmark = pytest.mark.timeout(120)

TITLE = (
    "Größere Übungen für ängstliche Bürgerinnen und Bürger: wie öffentliche Büchereien "
    "Künstliche Intelligenz, 3D-Druck und Virtuelle Realität für alle zugänglich machen – "
    "eine Einführung mit drei Übungen!"
)
SIZES = [
    PROFILES["1080p"],
    PROFILES["720p"],
    PROFILES["480p"],
    VideoProfile("360p", 640, 360, 30, 700),
]


def test_the_title_is_200_characters_with_umlauts() -> None:
    assert len(TITLE) == 200
    assert set("äöüÄÖÜß") & set(TITLE) >= {"ä", "ö", "ü", "Ü", "ß"}


@pytest.mark.parametrize("profile", SIZES, ids=lambda p: p.name)
def test_every_line_fits_and_no_word_is_lost(profile: VideoProfile) -> None:
    metrics = FontMetrics.load(FONT_FILE)
    size, layouts = fit_all(
        [lead_in_text(TITLE, "18:00"), trouble_text(TITLE)], profile.width, profile.height, metrics
    )
    box = profile.width * (1 - 2 * MARGIN_X)
    for layout in layouts:
        assert layout.complete and layout.font_size == size
        assert all(metrics.line_width(line, size) <= box for line in layout.text.split("\n"))
        joined = " ".join(layout.text.split("\n")).replace("- ", "")
        assert " ".join(TITLE.split()) in " ".join(joined.split())
    assert "beginnt um 18:00 Uhr" in layouts[0].text
    assert "Technische Störung — gleich geht es weiter" in layouts[1].text
    assert size >= profile.height // 30, "still readable"


def test_a_word_longer_than_the_line_is_split_and_too_much_text_is_shortened() -> None:
    metrics = FontMetrics.load(FONT_FILE)
    word = "Donaudampfschifffahrtsgesellschaftskapitänsmützenabzeichenherstellung" * 2
    layout = fit(word, 640, 360, metrics)
    lines = layout.text.split("\n")
    assert len(lines) > 1 and all(line.endswith("-") for line in lines[:-1])
    assert all(metrics.line_width(line, layout.font_size) <= 640 * 0.88 for line in lines)
    endless = fit(" ".join(["Übung"] * 400), 640, 360, metrics)
    assert not endless.complete and endless.text.endswith("…")


async def _render(tmp_path: Path, slate: SlateInput, profile: VideoProfile, name: str) -> bytes:
    """One frame of the slate as 8-bit grey pixels, through the slate's real FFmpeg spec."""
    out = tmp_path / f"{name}.ts"
    spec = FfmpegSpec(
        name,
        slate,
        replace(profile, fps=10),
        (Output(out, "mpegts"),),
        duration_s=1.0,
        overwrite=True,
    )
    argv = [a for a in build_argv(spec) if a not in ("-re",)]
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode(errors="replace")[-2000:]
    decode = await asyncio.create_subprocess_exec(
        "ffmpeg", "-nostdin", "-v", "error", "-i", str(out), "-frames:v", "1",
        "-f", "rawvideo", "-pix_fmt", "gray", "pipe:1",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    pixels, err = await asyncio.wait_for(decode.communicate(), 30)
    assert decode.returncode == 0 and len(pixels) == profile.width * profile.height, err
    return pixels


def _text_box(pixels: bytes, width: int, height: int) -> tuple[int, int, int, int] | None:
    """Bounding box (left, top, right, bottom) of the bright text pixels on the blue slate."""
    grey = array.array("B", pixels)
    background = sorted(grey[: width * 4])[width * 2]  # the top rows: plain background
    rows = [y for y in range(height) if max(grey[y * width : (y + 1) * width]) > background + 60]
    if not rows:
        return None
    cols = [
        x
        for x in range(width)
        if max(grey[x + y * width] for y in range(rows[0], rows[-1] + 1)) > background + 60
    ]
    return cols[0], rows[0], cols[-1], rows[-1]


@pytest.mark.parametrize("profile", SIZES, ids=lambda p: p.name)
async def test_rendered_slate_text_stays_inside_the_picture(
    tmp_path: Path, profile: VideoProfile
) -> None:
    metrics = FontMetrics.load(FONT_FILE)
    size, layouts = fit_all(
        [lead_in_text(TITLE, "18:00"), trouble_text(TITLE)], profile.width, profile.height, metrics
    )
    text_file = tmp_path / "slate.txt"
    for index, layout in enumerate(layouts):
        text_file.write_text(layout.text, encoding="utf-8")
        slate = SlateInput(text_file, profile.width, profile.height, 10, size, layout.line_spacing)
        pixels = await _render(tmp_path, slate, profile, f"slate-{index}")
        box = _text_box(pixels, profile.width, profile.height)
        assert box is not None, "text drawn"
        left, top, right, bottom = box
        margin_x, margin_y = profile.width // 50, profile.height // 50
        assert margin_x <= left and right < profile.width - margin_x, (box, layout.text)
        assert margin_y <= top and bottom < profile.height - margin_y, (box, layout.text)
        # Centred: the free space left and right differs by less than a tenth of the width.
        assert abs(left - (profile.width - 1 - right)) < profile.width // 10


async def test_without_the_layout_the_same_title_is_cut_off(tmp_path: Path) -> None:
    """The check above is able to fail: the title unwrapped at the old size runs off both
    sides."""
    profile = PROFILES["720p"]
    text_file = tmp_path / "slate.txt"
    text_file.write_text(lead_in_text(TITLE, "18:00"), encoding="utf-8")
    pixels = await _render(tmp_path, SlateInput(text_file, 1280, 720, 10), profile, "raw")
    box = _text_box(pixels, 1280, 720)
    assert box is not None and box[0] <= 1 and box[2] >= 1278
