"""Recordings download as ``<date>-<title>.mp4``: a safe ASCII ``filename`` and the exact UTF-8
name as RFC 5987 ``filename*``; nothing in a title becomes a path or a second header."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from knoten.http.download_names import ascii_stem, content_disposition, readable_stem


@pytest.mark.parametrize(
    ("title", "ascii", "exact"),
    [
        (
            "2027-03-16-Lesekreis Überäll",
            "2027-03-16-Lesekreis-Ueberaell",
            "2027-03-16-Lesekreis-Überäll",
        ),
        ("Straße: „Teil 1/2“?", "Strasse-Teil-1-2", "Straße-„Teil-1-2“"),
        ("../../etc/passwd", "etc-passwd", "etc-passwd"),
        ("Zeile\r\nSet-Cookie: x=1", "Zeile-Set-Cookie-x-1", "Zeile-Set-Cookie-x=1"),
        ("Café crème", "Cafe-creme", "Café-crème"),
        ("日本語", "aufzeichnung", "日本語"),
        ("...", "aufzeichnung", "aufzeichnung"),
    ],
)
def test_names(title: str, ascii: str, exact: str) -> None:
    assert ascii_stem(title) == ascii
    assert readable_stem(title) == exact
    header = content_disposition(title, "mp4")
    assert header.isascii() and "\r" not in header and "\n" not in header
    fallback = header.split('filename="')[1].split('"')[0]
    assert fallback == f"{ascii}.mp4"
    assert unquote(header.split("filename*=UTF-8''")[1]) == f"{exact}.mp4"


def test_inline_and_length() -> None:
    assert content_disposition("x", "mp4", attachment=False).startswith("inline; ")
    assert len(readable_stem("ä" * 500)) == 120
