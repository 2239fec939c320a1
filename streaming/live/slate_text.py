"""What the slate says and how it fits: texts wrapped and sized so no letter is cut off.

FFmpeg 5.1's drawtext neither wraps nor shrinks text, so a long seminar title ran off both
sides of the picture. Here the text is laid out before drawtext sees it: words wrapped to the
picture's width (a word longer than a line is split with a hyphen), the font made smaller
until every line fits the height, and as a last resort the lines that still do not fit are
left out with an ellipsis. Widths come from the font's own advance widths (a tiny reader of the
TrueType ``cmap``/``hmtx`` tables; no Pillow), rounded up per glyph as FreeType's hinting may.
"""

from __future__ import annotations

import functools
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

#: The slate's lines once the date has begun and the camera is gone (German first).
TROUBLE_TEXT = "Technische Störung — gleich geht es weiter\nTechnical problem — back in a moment"
#: Free border around the text, as a share of the picture's width and height.
MARGIN_X = 0.06
MARGIN_Y = 0.08
MAX_CHARS = 300  # of a title: more is never shown


@dataclass(frozen=True, slots=True)
class FontMetrics:
    units_per_em: int
    ascender: int
    descender: int  # negative
    advances: dict[int, int]  # code point → advance width in font units
    fallback: int  # advance of a character the font lacks (drawn as a box of about this size)

    @classmethod
    def load(cls, path: str | Path) -> FontMetrics:
        return _load(str(path))

    def line_width(self, text: str, size: int) -> int:
        scale = size / self.units_per_em
        return sum(math.ceil(self.advances.get(ord(ch), self.fallback) * scale) for ch in text)

    def line_height(self, size: int) -> int:
        """Height of one line of glyphs (drawtext steps by this plus ``line_spacing``)."""
        return math.ceil((self.ascender - self.descender) * size / self.units_per_em)


@functools.lru_cache(maxsize=4)
def _load(path: str) -> FontMetrics:
    data = Path(path).read_bytes()
    tables = {}
    (count,) = struct.unpack_from(">H", data, 4)
    for i in range(count):
        tag, _, offset, length = struct.unpack_from(">4sIII", data, 12 + 16 * i)
        tables[tag.decode("latin-1")] = (offset, length)
    head = tables["head"][0]
    (units_per_em,) = struct.unpack_from(">H", data, head + 18)
    hhea = tables["hhea"][0]
    ascender, descender = struct.unpack_from(">hh", data, hhea + 4)
    (metrics_count,) = struct.unpack_from(">H", data, hhea + 34)
    hmtx = tables["hmtx"][0]
    widths = [struct.unpack_from(">H", data, hmtx + 4 * i)[0] for i in range(metrics_count)]
    advances = {
        code: widths[min(glyph, metrics_count - 1)] for code, glyph in _cmap(data, tables).items()
    }
    return FontMetrics(units_per_em, ascender, descender, advances, max(widths))


def _cmap(data: bytes, tables: dict[str, tuple[int, int]]) -> dict[int, int]:
    """Code point → glyph id from the Unicode BMP subtable (format 4)."""
    base = tables["cmap"][0]
    (count,) = struct.unpack_from(">H", data, base + 2)
    for i in range(count):
        platform, encoding, offset = struct.unpack_from(">HHI", data, base + 4 + 8 * i)
        sub = base + offset
        if (platform, encoding) in ((3, 1), (0, 3)) and struct.unpack_from(">H", data, sub)[0] == 4:
            return _format4(data, sub)
    raise ValueError("font has no Unicode BMP cmap (format 4)")


def _format4(data: bytes, sub: int) -> dict[int, int]:
    (seg_x2,) = struct.unpack_from(">H", data, sub + 6)
    segs = seg_x2 // 2
    ends = struct.unpack_from(f">{segs}H", data, sub + 14)
    starts = struct.unpack_from(f">{segs}H", data, sub + 16 + seg_x2)
    deltas = struct.unpack_from(f">{segs}h", data, sub + 16 + 2 * seg_x2)
    range_at = sub + 16 + 3 * seg_x2
    ranges = struct.unpack_from(f">{segs}H", data, range_at)
    mapping: dict[int, int] = {}
    for i in range(segs):
        for code in range(starts[i], min(ends[i], 0xFFFE) + 1):
            if ranges[i] == 0:
                glyph = (code + deltas[i]) & 0xFFFF
            else:
                at = range_at + 2 * i + ranges[i] + 2 * (code - starts[i])
                glyph = struct.unpack_from(">H", data, at)[0]
                glyph = (glyph + deltas[i]) & 0xFFFF if glyph else 0
            if glyph:
                mapping[code] = glyph
    return mapping


@dataclass(frozen=True, slots=True)
class SlateLayout:
    text: str  # what drawtext shows, lines separated by "\n"
    font_size: int
    line_spacing: int
    complete: bool  # False when lines had to be left out


def clean(text: str) -> str:
    """Printable characters only (drawtext shows control characters as boxes)."""
    return "".join(ch for ch in text if ch == "\n" or ch.isprintable())[:MAX_CHARS]


def line_spacing(font_size: int) -> int:
    return max(2, font_size // 4)


def wrap(paragraph: str, metrics: FontMetrics, size: int, width: int) -> list[str]:
    """``paragraph`` broken into lines no wider than ``width`` pixels at ``size``."""
    lines: list[str] = []
    current = ""
    for word in paragraph.split():
        candidate = f"{current} {word}" if current else word
        if metrics.line_width(candidate, size) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = word
        # A single word wider than the line: split it, each part ending in a hyphen.
        while metrics.line_width(current, size) > width and len(current) > 1:
            cut = len(current) - 1
            while cut > 1 and metrics.line_width(current[:cut] + "-", size) > width:
                cut -= 1
            lines.append(current[:cut] + "-")
            current = current[cut:]
    if current or not lines:
        lines.append(current)
    return lines


def fit(
    text: str, width: int, height: int, metrics: FontMetrics, sizes: Sequence[int] | None = None
) -> SlateLayout:
    """The largest layout of ``text`` (paragraphs split by newlines) that fits the picture."""
    box_w = int(width * (1 - 2 * MARGIN_X))
    box_h = int(height * (1 - 2 * MARGIN_Y))
    candidates = sizes or range(max(12, height // 16), max(10, height // 40) - 1, -1)
    size = 0
    lines: list[str] = []
    for size in candidates:
        lines = [line for part in text.split("\n") for line in wrap(part, metrics, size, box_w)]
        if _block_height(len(lines), metrics, size) <= box_h:
            return SlateLayout("\n".join(lines), size, line_spacing(size), True)
    # Even the smallest size is too tall: keep the lines that fit, the last one marked.
    keep = len(lines)
    while keep > 1 and _block_height(keep, metrics, size) > box_h:
        keep -= 1
    shown = lines[:keep]
    last = shown[-1].rstrip("-")
    while last and metrics.line_width(last + " …", size) > box_w:
        last = last[:-1]
    shown[-1] = f"{last} …".strip()
    return SlateLayout("\n".join(shown), size, line_spacing(size), False)


def _block_height(lines: int, metrics: FontMetrics, size: int) -> int:
    return lines * metrics.line_height(size) + (lines - 1) * line_spacing(size)


def fit_all(
    texts: Sequence[str], width: int, height: int, metrics: FontMetrics
) -> tuple[int, list[SlateLayout]]:
    """One font size for several texts the same slate shows in turn (drawtext keeps its size
    while the text file changes): the largest at which each of them fits."""
    size = min(fit(text, width, height, metrics).font_size for text in texts)
    return size, [fit(text, width, height, metrics, sizes=[size]) for text in texts]


def lead_in_text(title: str, start_label: str) -> str:
    return f"{clean(title)}\n\nbeginnt um {start_label} Uhr"


def trouble_text(title: str) -> str:
    return f"{clean(title)}\n\n{TROUBLE_TEXT}"
