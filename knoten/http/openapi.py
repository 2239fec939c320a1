"""API route declarations and the OpenAPI 3.1 description generated from them.

Each API module lists its operations as :class:`Operation` values; the same list registers the
handlers on the router and writes the description, so the two cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from knoten.http.requests import MAX_INT

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": ["string", "null"]},
                "details": {"type": "array", "items": {"type": "object"}},
            },
        }
    },
}

_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Malformed request",
    401: "Missing or invalid token",
    404: "Not found",
    409: "Conflict",
    413: "Body too large",
    422: "Validation error",
    503: "Unavailable",
}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    request: type[BaseModel] | None = None
    request_required: bool = True  # False: the body may be left out (defaults apply)
    response: type[BaseModel] | None = None
    response_is_list: bool = False
    status: int = 200
    errors: tuple[int, ...] = ()
    query: type[BaseModel] | None = None
    public: bool = False
    response_media_type: str = "application/json"
    extra: dict[str, Any] = field(default_factory=dict)


#: A path id: ``{room_id}`` is routed as ``{room_id:[0-9]+}`` (ASCII digits only, never ``\d``,
#: which takes '²'), so ``/messages/export`` is not mistaken for a message id either.
_PATH_ID = re.compile(r"\{(\w+_id)\}")


def register(router: web.UrlDispatcher, operations: Iterable[Operation]) -> None:
    for op in operations:
        path = _PATH_ID.sub(r"{\1:[0-9]+}", op.path)
        if op.method == "GET":
            router.add_get(path, op.handler)  # and HEAD, answered like GET without a body
        else:
            router.add_route(op.method, path, op.handler)


def _path_parameters(path: str) -> list[dict[str, Any]]:
    params = []
    for part in path.split("/"):
        if part.startswith("{") and part.endswith("}"):
            name = part[1:-1].split(":")[0]
            schema: dict[str, Any] = {"type": "integer"}
            if name.endswith("_id"):
                schema |= {"minimum": 1, "maximum": MAX_INT}
            params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return params


def _query_parameters(model: type[BaseModel], defs: dict[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    defs.update(schema.pop("$defs", {}))
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def _schema_ref(model: type[BaseModel], defs: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    defs.update(schema.pop("$defs", {}))
    defs[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def build_openapi(operations: Iterable[Operation], *, version: str, server_url: str) -> dict:
    paths: dict[str, dict[str, Any]] = {}
    defs: dict[str, Any] = {"Error": ERROR_SCHEMA}
    for op in operations:
        path = op.path.split(":")[0] if ":" in op.path else op.path
        entry: dict[str, Any] = {
            "summary": op.summary,
            "tags": [op.tag],
            "operationId": op.handler.__name__,
        }
        params = _path_parameters(op.path)
        if op.query is not None:
            params += _query_parameters(op.query, defs)
        if params:
            entry["parameters"] = params
        if op.request is not None:
            entry["requestBody"] = {
                "required": op.request_required,
                "content": {"application/json": {"schema": _schema_ref(op.request, defs)}},
            }
        responses: dict[str, Any] = {}
        if op.response is not None:
            schema = _schema_ref(op.response, defs)
            if op.response_is_list:
                schema = {"type": "array", "items": schema}
            responses[str(op.status)] = {
                "description": _STATUS_TEXT.get(op.status, "OK"),
                "content": {op.response_media_type: {"schema": schema}},
            }
        else:
            responses[str(op.status)] = {"description": _STATUS_TEXT.get(op.status, "OK")}
        error_statuses = set(op.errors)
        if not op.public:
            error_statuses.add(401)
            entry["security"] = [{"bearerAuth": []}]
        else:
            entry["security"] = []
        if op.request is not None:
            error_statuses |= {400, 413, 422}
        # Answered by knoten.http.requests for every operation of these shapes: an id that names
        # nothing (also one past 64 bits) and a query that does not validate.
        if "{" in op.path:
            error_statuses.add(404)
        if op.query is not None:
            error_statuses.add(422)
        for status in sorted(error_statuses):
            responses[str(status)] = {
                "description": _STATUS_TEXT.get(status, "Error"),
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        entry["responses"] = responses
        entry.update(op.extra)
        paths.setdefault(path, {})[op.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Knoten API",
            "version": version,
            "description": "Seminars, rooms, live broadcasts and recordings of the library's "
            "seminar room. Every error is JSON: {error: {code, message, field}}.",
        },
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": defs,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }
