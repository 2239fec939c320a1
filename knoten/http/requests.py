"""Reading and validating request bodies, query strings and path ids.

Malformed JSON is a 400 (also JSON nested deeper than :data:`MAX_JSON_DEPTH`), a body that does
not fit the model a 422 naming the first bad field. Ids in paths are ASCII digits within the
64-bit range of the database; integers and dates beyond what the store and the calendar can hold
are refused with a 422 before they reach either.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, NoReturn, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from knoten.http.errors import ApiError
from streaming.webrtc.sdp import MAX_OFFER_BYTES

M = TypeVar("M", bound=BaseModel)

#: The largest id and integer the database stores (SQLite INTEGER, PostgreSQL BIGINT).
MAX_INT = 2**63 - 1
#: Request JSON deeper than this is refused; no body of this API nests more than four levels,
#: and a deep body would otherwise reach the recursion limit of the decoder and of pydantic.
MAX_JSON_DEPTH = 32
#: Dates outside these years are refused: a seminar needs neither, and near year 1 or 9999 the
#: conversion between time zones and the lead-in/lead-out arithmetic leave datetime's range.
MIN_YEAR, MAX_YEAR = 1970, 2999

# ASCII only: str.isdigit() also accepts '²' and other Unicode digits that int() refuses.
_ASCII_ID = re.compile(r"[0-9]{1,19}")


def parse_id(raw: str) -> int | None:
    """The id written in ``raw``, or None unless it is 1 … 2^63-1 in ASCII digits."""
    if _ASCII_ID.fullmatch(raw) is None:
        return None
    value = int(raw)
    return value if 1 <= value <= MAX_INT else None


def page_id(request: web.Request, name: str) -> int:
    """An id from the path of a page (not the API): anything else is aiohttp's plain 404."""
    value = parse_id(request.match_info[name])
    if value is None:
        raise web.HTTPNotFound()
    return value


def _field_name(loc: tuple[Any, ...]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query")]
    return ".".join(parts) or None


def _limits(err: Any) -> dict[str, Any]:
    """The rule's plain values (``le: 60``, ``max_length: 200``): pages word the error in their
    language from ``type`` and these, without parsing the English message."""
    ctx = err.get("ctx") or {}
    return {k: v for k, v in ctx.items() if isinstance(v, str | int | float | bool)}


def validation_error(exc: ValidationError) -> ApiError:
    details = [
        {"field": _field_name(tuple(err["loc"])), "message": err["msg"], "type": err["type"]}
        | ({"ctx": limits} if (limits := _limits(err)) else {})
        for err in exc.errors(include_url=False, include_input=False)
    ]
    first = details[0]
    message = first["message"]
    if first["type"] == "extra_forbidden":
        message = "unknown field"
    elif first["type"] == "missing":
        message = "field required"
    return ApiError(422, "validation_error", message, field=first["field"], details=details)


async def read_json(request: web.Request) -> Any:
    """The request body as JSON, or a 400 saying why it is not."""
    body = await request.read()  # raises 413 past client_max_size
    if not body:
        raise ApiError(400, "malformed_json", "request body is empty; expected JSON")
    try:
        data = json.loads(body)
    except ValueError as exc:  # also UnicodeDecodeError and an integer of 5,000 digits
        raise ApiError(400, "malformed_json", f"request body is not valid JSON: {exc}") from None
    except RecursionError:  # deeper than the decoder goes
        _too_deep()
    check_json_values(data)
    return data


def _too_deep() -> NoReturn:
    raise ApiError(
        400, "malformed_json", f"request body is nested deeper than {MAX_JSON_DEPTH} levels"
    )


def check_json_values(data: Any) -> None:
    """400 past :data:`MAX_JSON_DEPTH`, 422 naming the field for an integer beyond 64 bits.

    Walks the decoded body without recursion, so any depth the decoder returns is safe here.
    """
    stack: list[tuple[Any, tuple[str, ...], int]] = [(data, (), 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                _too_deep()
            items = value.items() if isinstance(value, dict) else enumerate(value)
            stack.extend((item, (*path, str(key)), depth + 1) for key, item in items)
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
            field = ".".join(path) or None
            raise ApiError(422, "validation_error", "integer out of range", field=field)


async def read_model(request: web.Request, model: type[M]) -> M:
    data = await read_json(request)
    if not isinstance(data, dict):
        raise ApiError(400, "malformed_json", "request body must be a JSON object")
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from None
    check_ranges(parsed)
    return parsed


def read_query(query: Mapping[str, str], model: type[M]) -> M:
    try:
        parsed = model.model_validate(dict(query))
    except ValidationError as exc:
        raise validation_error(exc) from None
    check_ranges(parsed)
    return parsed


def check_ranges(model: BaseModel) -> None:
    """422 naming the field for an integer beyond 64 bits or a date outside MIN_YEAR…MAX_YEAR.

    Checked once here for every body and query, so no model can forget it and no such value
    reaches the database (OverflowError) or datetime arithmetic (year 10000).
    """
    # First in, first out: the first bad field in the model's order is the one named.
    queue: deque[tuple[Any, tuple[str, ...]]] = deque(
        (getattr(model, name), (name,)) for name in type(model).model_fields
    )
    while queue:
        value, path = queue.popleft()
        field = ".".join(path)
        if isinstance(value, BaseModel):
            queue.extend((getattr(value, n), (*path, n)) for n in type(value).model_fields)
        elif isinstance(value, list | tuple):
            queue.extend((item, (*path, str(i))) for i, item in enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
            raise ApiError(422, "validation_error", "integer out of range", field=field)
        elif isinstance(value, date) and not _within_years(value):
            message = f"date out of range; give a year from {MIN_YEAR} to {MAX_YEAR}"
            raise ApiError(422, "validation_error", message, field=field)


def _within_years(value: date) -> bool:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        return False
    offset = value.utcoffset() if isinstance(value, datetime) else None
    # 2999-12-31T23:00-05:00 is already the year 3000 in UTC.
    return offset is None or MIN_YEAR <= (value - offset).year <= MAX_YEAR


def path_int(request: web.Request, name: str) -> int:
    """An integer id from the path; anything else names nothing that exists (404)."""
    raw = request.match_info[name]
    kind = name.removesuffix("_id")
    value = parse_id(raw)
    if value is None:
        raise ApiError(404, f"{kind}_not_found", f"{kind} {raw[:40]!r} does not exist")
    return value


def json_response(model: BaseModel | list[BaseModel], status: int = 200) -> web.Response:
    if isinstance(model, list):
        payload: Any = [item.model_dump(mode="json") for item in model]
    else:
        payload = model.model_dump(mode="json")
    return web.json_response(payload, status=status)


SDP = "application/sdp"


def bearer(request: web.Request) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


async def read_sdp(request: web.Request) -> bytes:
    if request.content_type != SDP:
        raise ApiError(415, "unsupported_media_type", f"send the SDP offer as {SDP}")
    if (request.content_length or 0) > MAX_OFFER_BYTES:
        raise ApiError(413, "payload_too_large", "SDP offer too large")
    body = bytearray()
    async for chunk in request.content.iter_chunked(16384):
        body += chunk
        if len(body) > MAX_OFFER_BYTES:  # chunked uploads carry no Content-Length
            raise ApiError(413, "payload_too_large", "SDP offer too large")
    return bytes(body)
