"""Path safety and share-token unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from recordings.errors import InvalidShareToken, ShareTokenExpired, UnsafePath
from recordings.paths import ArchivePaths, check_text
from recordings.share import ShareLinks, load_or_create_secret


@pytest.mark.parametrize("text", ["../x", "a/../b", "..", "..\\win", "/etc/passwd", "\\\\srv\\x",
                                  "C:\\x", "~/x", "a\x00b", "x\ny"])  # fmt: skip
def test_path_tricks_refused(text):
    with pytest.raises(UnsafePath):
        check_text(text, "title")


@pytest.mark.parametrize("text", ["AC/DC und die 80er", "Vortrag...", "100 % Lesen", "a..b"])
def test_ordinary_titles_pass(text):
    assert check_text(text, "title") == text


def test_ids_never_become_paths_unchecked(tmp_path):
    paths = ArchivePaths(tmp_path / "rec")
    assert paths.media(7) == (tmp_path / "rec" / "00000007" / "recording.mp4").resolve()
    for bad in (0, -1, True, "7", "../7", 7.0):
        with pytest.raises(UnsafePath):
            paths.recording_dir(bad)  # type: ignore[arg-type]
    with pytest.raises(UnsafePath):
        paths.inside(tmp_path / "rec" / ".." / "elsewhere")
    (tmp_path / "rec").mkdir()
    (tmp_path / "rec" / "00000009").symlink_to(tmp_path)  # a link out of the root is refused
    with pytest.raises(UnsafePath):
        paths.recording_dir(9)
    with pytest.raises(ValueError):
        ArchivePaths(Path("relative/root"))
    with pytest.raises(ValueError):
        ArchivePaths(tmp_path / "with space")


def test_share_tokens(tmp_path):
    secret = load_or_create_secret(tmp_path)
    assert (tmp_path / "share-secret").stat().st_mode & 0o777 == 0o600
    assert load_or_create_secret(tmp_path) == secret
    links = ShareLinks(secret)
    token = links.sign(5, 1000)
    assert links.verify(token, now=999) == 5
    with pytest.raises(ShareTokenExpired):
        links.verify(token, now=1000)
    rid, exp, mac = token.split(".")
    for bad in (f"6.{exp}.{mac}", f"{rid}.2000.{mac}", f"{rid}.{exp}", "", "a.b.c", token + "x"):
        with pytest.raises(InvalidShareToken):
            links.verify(bad, now=0)
    with pytest.raises(InvalidShareToken):
        ShareLinks(b"x" * 32).verify(token, now=0)  # another secret
