"""Public HLS addresses and the rendition's FFmpeg output, without media: one signed address
per date in the path, valid until the date's end plus lead-out and grace, nothing else
accepted; 1 s segments in a window of 4 whose names never repeat across restarts."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from foundation.signed_tokens import SignedTokens
from knoten.public_hls import PURPOSE, PublicHlsExpired, PublicHlsLinks
from schedules.store import OccurrenceRow
from streaming.ffmpeg.spec import FeedInput, FfmpegSpec, build_argv
from streaming.live.hls import public_dir, public_hls_output

SECRET = b"0123456789abcdef0123456789abcdef"
END = datetime(2027, 3, 4, 19, 0, tzinfo=UTC)


def _row(occurrence_id: int = 7, end: datetime = END, lead_out: int = 10) -> OccurrenceRow:
    # Only the fields the links read; the rest of the row does not matter here.
    row = object.__new__(OccurrenceRow)
    for name, value in {"id": occurrence_id, "end_utc": end, "lead_out_minutes": lead_out}.items():
        object.__setattr__(row, name, value)
    return row


def test_one_address_per_date_in_the_path_valid_until_end_lead_out_and_grace() -> None:
    links = PublicHlsLinks(SECRET, "https://knoten.example", grace=timedelta(minutes=30))
    url = links.url(_row())
    token = url.split("/")[-2]
    assert url == f"https://knoten.example/hls/{token}/index.m3u8"
    assert links.url(_row()) == url, "deterministic: caches and the dashboard see one address"
    closes = END + timedelta(minutes=40)
    assert token.split(".")[:2] == ["7", str(int(closes.timestamp()))]
    assert links.occurrence(token, closes) == 7
    with pytest.raises(PublicHlsExpired):
        links.occurrence(token, closes + timedelta(seconds=1))
    # Moving the end gives a new address; another date another one.
    assert links.url(_row(end=END + timedelta(hours=1))) != url
    assert links.url(_row(occurrence_id=8)) != url
    assert "secret" not in repr(links).lower() or "<secret>" in repr(links)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "7",
        "7.99999999999.AAAAAAAAAAAAAAAAAAAAAA",
        "x" * 5000,
        "7.1.2.3",
        "-7.1.AAAAAAAAAAAAAAAAAAAAAA",
    ],
)
def test_anything_not_signed_for_this_use_names_no_date(token: str) -> None:
    links = PublicHlsLinks(SECRET, "https://knoten.example", grace=timedelta(0))
    assert links.occurrence(token, END) is None


def test_tokens_of_other_uses_and_secrets_are_refused() -> None:
    links = PublicHlsLinks(SECRET, "https://knoten.example", grace=timedelta(0))
    expires = int((END + timedelta(days=1)).timestamp())
    join = SignedTokens(SECRET, "knoten-join:v1", signature_bytes=16, min_secret_bytes=16)
    assert links.occurrence(join.issue(7, expires), END) is None
    other = SignedTokens(b"another secret of 32 bytes......", PURPOSE, signature_bytes=16)
    assert links.occurrence(other.issue(7, expires), END) is None


def test_public_rendition_is_a_copy_in_1_s_segments_with_names_that_never_repeat(
    tmp_path: Path,
) -> None:
    directory = public_dir(tmp_path / "live" / "7")
    assert directory == tmp_path / "live" / "7" / "public"
    spec = FfmpegSpec("occ7-hls", FeedInput(tmp_path / "master.sock"), None,
                      (public_hls_output(directory),), overwrite=True)  # fmt: skip
    argv = build_argv(spec)
    options = dict(itertools.pairwise(argv))
    assert options["-f"] == "hls" and options["-c"] == "copy"
    assert options["-hls_time"] == "1" and options["-hls_list_size"] == "4"
    assert options["-hls_start_number_source"] == "epoch_us"
    assert "program_date_time" in options["-hls_flags"]
    assert argv[-1] == str(directory / "index.m3u8")
