"""HLS for partners who pull: where a live session writes each partner's playlist and segments,
how FFmpeg's hls muxer is set up, and how a served playlist carries the partner's token.

Layout: ``<data_dir>/live/<occurrence_id>/<partner_id>/index.m3u8`` plus ``index<N>.ts``. Every
path is built from integers; a segment name from a request is used only when it matches
:data:`SEGMENT_NAME` and resolves to a regular file directly inside the partner's directory.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

from streaming.ffmpeg.spec import Output

PLAYLIST = "index.m3u8"
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
SEGMENT_TYPE = "video/mp2t"
#: What FFmpeg's hls muxer names segments after ``index.m3u8``: index0.ts, index1.ts, …
SEGMENT_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}\.ts")
_URI_ATTRIBUTE = re.compile(r'URI="([^"]*)"')


def occurrence_dir(data_dir: Path, occurrence_id: int) -> Path:
    """The HLS root of one live occurrence; each HLS partner gets a directory below it."""
    return data_dir / "live" / str(occurrence_id)


def partner_dir(root: Path, partner_id: int) -> Path:
    return root / str(partner_id)


def hls_output(directory: Path) -> Output:
    """FFmpeg's hls muxer writing a 6 × 2 s live window into ``directory``."""
    return Output(
        directory / PLAYLIST,
        "hls",
        options=(
            ("hls_time", "2"),
            ("hls_list_size", "6"),
            # program_date_time: EXT-X-PROGRAM-DATE-TIME on every segment, the wall clock
            # partners use to measure latency and to line the stream up with other sources.
            (
                "hls_flags",
                "delete_segments+independent_segments+omit_endlist+program_date_time",
            ),
            # Numbers keep rising across an output restart: players never see the playlist
            # jump back to segment 0 and replay stale cached segments.
            ("hls_start_number_source", "epoch"),
        ),
    )


def file_inside(directory: Path, name: str) -> Path | None:
    """``directory/name`` if it is an existing regular file that really lies directly in
    ``directory`` (no traversal, no symlink out), else None."""
    base = directory.resolve()
    candidate = (base / name).resolve()
    if candidate.parent != base or not candidate.is_file():
        return None
    return candidate


def with_token(uri: str, token: str) -> str:
    """A relative URI with ``token`` added; absolute ones are left alone (never leak it)."""
    if not uri or uri.startswith("/") or "://" in uri or uri.startswith("data:"):
        return uri
    return f"{uri}{'&' if '?' in uri else '?'}token={quote(token, safe='')}"


def rewrite_playlist(text: str, token: str) -> str:
    """Every segment line and every ``URI="…"`` attribute of ``text`` carrying the token:
    players request segments relative to the playlist and would drop the query otherwise."""
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            lines.append(line)
        elif stripped.startswith("#"):
            lines.append(
                _URI_ATTRIBUTE.sub(lambda m: f'URI="{with_token(m.group(1), token)}"', line)
            )
        else:
            lines.append(with_token(stripped, token))
    return "\n".join(lines) + "\n"
