"""Which redirect targets the pages may send a browser to: paths on this site, nothing else.

``next`` after sign-in comes from the query string or a form, so it is attacker-controlled. A
browser's URL parser drops tabs and newlines anywhere in a URL and treats ``\\`` like ``/``, so
``/\\t/evil.example/`` becomes ``//evil.example/``, another site; the check therefore refuses
every control character, whitespace and backslash instead of looking only at the first bytes.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# A path: one "/", then no second "/" right after it; printable ASCII without "\" and no spaces.
_LOCAL_PATH = re.compile(r"/(?![/])[\x21-\x5b\x5d-\x7e]*")


def same_origin_path(value: str | None) -> str | None:
    """``value`` if it is a path (with query) on this site, else None."""
    if not value or len(value) > 2000 or _LOCAL_PATH.fullmatch(value) is None:
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    return value
