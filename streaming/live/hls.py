"""HLS written by a live session: each pulling partner's playlist and segments, and the public
rendition for large audiences behind an HTTP cache; how FFmpeg's hls muxer is set up for each,
and how a served partner playlist carries the partner's token.

Layout: ``<data_dir>/live/<occurrence_id>/<partner_id>/index.m3u8`` plus ``index<N>.ts``, and the
public rendition in ``<data_dir>/live/<occurrence_id>/public/``. Every path is built from
integers or constants; a segment name from a request is used only when it matches
:data:`SEGMENT_NAME` and resolves to a regular file directly inside the directory.
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
#: The public rendition's directory below an occurrence's HLS root.
PUBLIC = "public"
#: Segment length of the public rendition in seconds: the master's GOP, the shortest cut.
PUBLIC_SEGMENT_S = 1
#: Segments in the public playlist: short, so players start near the live edge.
PUBLIC_WINDOW = 4
_URI_ATTRIBUTE = re.compile(r'URI="([^"]*)"')


def occurrence_dir(data_dir: Path, occurrence_id: int) -> Path:
    """The HLS root of one live occurrence; each HLS partner gets a directory below it."""
    return data_dir / "live" / str(occurrence_id)


def partner_dir(root: Path, partner_id: int) -> Path:
    return root / str(partner_id)


def public_dir(root: Path) -> Path:
    """The public rendition of an occurrence (no partner id is ever a word)."""
    return root / PUBLIC


def public_hls_output(directory: Path) -> Output:
    """The public rendition: a copy of the master (1 s GOP) cut into 1 s segments, a window of
    :data:`PUBLIC_WINDOW` of them, so a viewer behind a cache is about 2 s behind the room.

    Segment names carry a start number in microseconds since the epoch: every restart of the
    output begins far above the last number, so a name is never reused for other bytes. Caches
    keep segments as immutable; with 1 s segments ``epoch`` (whole seconds) could reuse one.
    """
    return Output(
        directory / PLAYLIST,
        "hls",
        options=(
            ("hls_time", str(PUBLIC_SEGMENT_S)),
            ("hls_list_size", str(PUBLIC_WINDOW)),
            (
                "hls_flags",
                "delete_segments+independent_segments+omit_endlist+program_date_time",
            ),
            ("hls_start_number_source", "epoch_us"),
        ),
    )


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
