"""Checks on media files the tests produced, read with ffprobe."""

from __future__ import annotations

import itertools
import json
import subprocess
from pathlib import Path


def largest_video_gap(path: Path) -> float:
    """Largest step in seconds between consecutive video packets: a reconnect or a stall
    shows up as a gap far above one frame."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time",
         "-of", "json", str(path)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    times = [float(p["pts_time"]) for p in json.loads(result.stdout)["packets"] if "pts_time" in p]
    return max(b - a for a, b in itertools.pairwise(times))
