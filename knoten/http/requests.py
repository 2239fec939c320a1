"""Reading and validating request bodies and query strings into pydantic models.

Malformed JSON is a 400, a body that does not fit the model a 422 naming the first bad field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from knoten.http.errors import ApiError
from streaming.webrtc.sdp import MAX_OFFER_BYTES

M = TypeVar("M", bound=BaseModel)


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
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, "malformed_json", f"request body is not valid JSON: {exc}") from None


async def read_model(request: web.Request, model: type[M]) -> M:
    data = await read_json(request)
    if not isinstance(data, dict):
        raise ApiError(400, "malformed_json", "request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from None


def read_query(query: Mapping[str, str], model: type[M]) -> M:
    try:
        return model.model_validate(dict(query))
    except ValidationError as exc:
        raise validation_error(exc) from None


def path_int(request: web.Request, name: str) -> int:
    """An integer id from the path; anything else names nothing that exists (404)."""
    raw = request.match_info[name]
    kind = name.removesuffix("_id")
    value = int(raw) if raw.isdigit() and len(raw) < 12 else 0
    if value < 1:
        raise ApiError(404, f"{kind}_not_found", f"{kind} {raw!r} does not exist")
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
