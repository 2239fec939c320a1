"""File names for downloads: ``Content-Disposition`` with a safe ASCII ``filename`` for old
clients and the exact UTF-8 name as RFC 5987 ``filename*`` (RFC 6266), so "Lesekreis Über…"
arrives as ``2027-03-16-Lesekreis-Über….mp4`` and never as a path or a header injection."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

#: Longest name (without extension) we offer; file systems allow 255 bytes.
MAX_STEM = 120

_SPELLED = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"}
)
# Separators, controls and everything a file system or a header treats specially.
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|;,%]+')


def readable_stem(text: str) -> str:
    """The title as a file name part: words joined by ``-``, nothing a path could use."""
    cleaned = _UNSAFE.sub(" ", unicodedata.normalize("NFC", text))
    words = "-".join(cleaned.split()).strip(".-")
    return words[:MAX_STEM].rstrip(".-") or "aufzeichnung"


def ascii_stem(text: str) -> str:
    """Like :func:`readable_stem`, in plain ASCII (umlauts spelled out, accents dropped)."""
    spelled = unicodedata.normalize("NFKD", readable_stem(text).translate(_SPELLED))
    plain = re.sub(r"[^A-Za-z0-9._-]+", "-", spelled.encode("ascii", "ignore").decode())
    return re.sub(r"-{2,}", "-", plain).strip(".-") or "aufzeichnung"


def content_disposition(stem: str, extension: str, *, attachment: bool = True) -> str:
    """The header value for a file called ``<stem>.<extension>``."""
    kind = "attachment" if attachment else "inline"
    fallback = f"{ascii_stem(stem)}.{extension}"
    exact = quote(f"{readable_stem(stem)}.{extension}", safe="")
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{exact}"
