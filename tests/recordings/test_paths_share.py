"""Path safety and share-token unit tests."""

from __future__ import annotations

import base64
import hashlib
import hmac
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


def test_share_links_mailed_before_the_shared_token_helper_still_verify():
    """Regression: moving ShareLinks onto foundation.signed_tokens must not revoke sent links."""
    secret = bytes(range(32))
    # The original formula: HMAC-SHA256 over "<id>.<expires>", full digest, base64url unpadded.
    digest = hmac.new(secret, b"17.2000000000", hashlib.sha256).digest()
    old = "17.2000000000." + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    links = ShareLinks(secret)
    assert links.sign(17, 2_000_000_000) == old
    assert links.verify(old, now=1_999_999_999.9) == 17
    with pytest.raises(ShareTokenExpired):
        links.verify(old, now=2_000_000_000)


def test_share_secret_file_written_before_is_reused(tmp_path):
    (tmp_path / "share-secret").write_bytes(b"k" * 32)
    assert load_or_create_secret(tmp_path) == b"k" * 32


def test_share_token_edge_cases():
    links = ShareLinks(b"k" * 32)
    with pytest.raises(InvalidShareToken):
        links.verify(links.sign(0, 1000), now=0)  # genuine but names no recording
    for bad in ("\u00b2.1000.x", "5.1000." + "a" * 200):
        with pytest.raises(InvalidShareToken):
            links.verify(bad, now=0)
    assert "k" * 32 not in repr(links)
