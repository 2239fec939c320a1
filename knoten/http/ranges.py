"""Media files over HTTP with the range rules of RFC 9110 where aiohttp's ``FileResponse`` strays.

``FileResponse`` does the file work (sendfile, ETag, Last-Modified, If-None-Match → 304,
If-Match → 412, one byte range → 206, HEAD without a body). Players and download tools met four
answers of it that the RFC forbids, so :class:`MediaFileResponse` decides about ``Range`` and
``If-Range`` first and hands ``FileResponse`` only what it answers right:

- ``bytes=-0`` (an empty suffix) is unsatisfiable: 416, not the whole file as 206;
- several ranges (``bytes=0-9,20-29``) are answered with 200 and the whole file (RFC 9110
  §14.2 allows ignoring ``Range``), not 416;
- a ``Range`` that is not valid ``bytes`` syntax (``bytes=9-2``, ``items=0-5``) is ignored: 200;
- ``If-Range`` (§13.1.5) compares entity tags strongly and dates exactly; a stale or weak
  validator means 200 with the whole file, where ``FileResponse`` ignored entity tags and
  sent the stale range.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
from email.utils import parsedate_to_datetime

from aiohttp import hdrs, web
from aiohttp.abc import AbstractStreamWriter

#: One byte range as RFC 9110 writes it: ``first-[last]`` or ``-suffix``.
_ONE_RANGE = re.compile(r"bytes=(?:(\d{1,19})-(\d{0,19})|-(\d{1,19}))", re.IGNORECASE)
#: A range past any file: ``FileResponse`` answers it with 416 and ``bytes */size``.
_UNSATISFIABLE = f"bytes={2**62}-"


def file_etag(stat: os.stat_result) -> str:
    """The entity tag ``FileResponse`` sends for a file with this stat (without quotes)."""
    return f"{stat.st_mtime_ns:x}-{stat.st_size:x}"


def if_range_holds(if_range: str, stat: os.stat_result) -> bool:
    """Whether the ``If-Range`` validator still names this file (RFC 9110 §13.1.5)."""
    value = if_range.strip()
    if value.startswith('"'):  # a strong entity tag; weak ones (W/"…") never hold
        return value == f'"{file_etag(stat)}"'
    try:
        date = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return False
    # Last-Modified is the modification time rounded up to the second (aiohttp's setter).
    return int(date.timestamp()) == math.ceil(stat.st_mtime)


def effective_range(
    range_header: str | None, if_range: str | None, stat: os.stat_result
) -> str | None:
    """The ``Range`` to hand to ``FileResponse``: None for the whole file (200)."""
    if range_header is None:
        return None
    if if_range is not None and not if_range_holds(if_range, stat):
        return None
    spec = range_header.strip()
    if "," in spec:
        return None  # several ranges: the whole file instead of multipart/byteranges
    match = _ONE_RANGE.fullmatch(spec.replace(" ", ""))
    if match is None:
        return None
    first, last, suffix = match.groups()
    if suffix is not None:
        return _UNSATISFIABLE if int(suffix) == 0 else f"bytes=-{int(suffix)}"
    if last and int(last) < int(first):
        return None  # an invalid range is ignored, not refused
    return f"bytes={int(first)}-{int(last) if last else ''}"


class MediaFileResponse(web.FileResponse):
    """``FileResponse`` behind the RFC 9110 range decisions above."""

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter | None:
        range_header = request.headers.get(hdrs.RANGE)
        if range_header is None or request.method not in (hdrs.METH_GET, hdrs.METH_HEAD):
            return await super().prepare(request)
        try:
            stat = await asyncio.to_thread(self._path.stat)
        except OSError:
            return await super().prepare(request)  # its 404/403
        wanted = effective_range(range_header, request.headers.get(hdrs.IF_RANGE), stat)
        headers = request.headers.copy()
        headers.popall(hdrs.RANGE)
        headers.popall(hdrs.IF_RANGE, None)
        if wanted is not None:
            headers[hdrs.RANGE] = wanted
        # FileResponse reads the request it is prepared with; the clone shares the connection.
        return await super().prepare(request.clone(headers=headers))
