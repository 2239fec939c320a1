"""API errors and the one mapping from typed domain errors to HTTP status and JSON body.

Every error under ``/api/v1`` becomes ``{"error": {"code", "message", "field"}}``; the domain
packages raise their own exceptions and never see HTTP.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from aiohttp import web


@dataclass
class ApiError(Exception):
    """An error the API reports to its caller as JSON."""

    status: int
    code: str
    message: str
    field: str | None = None
    details: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    headers: dict[str, str] = dataclasses.field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, "field": self.field}
        if self.details:
            error["details"] = self.details
        return {"error": error}

    def response(self) -> web.Response:
        return web.json_response(self.body(), status=self.status, headers=self.headers or None)


#: A domain exception type with the status and code it maps to; checked in order.
DomainErrorRule = tuple[type[Exception], int, str]


def from_domain_error(exc: Exception, rules: tuple[DomainErrorRule, ...]) -> ApiError | None:
    for exc_type, status, code in rules:
        if isinstance(exc, exc_type):
            details = getattr(exc, "details", None)
            if callable(details):
                details = details()
            return ApiError(
                status=status,
                # The domain's own, more specific code wins over the rule's generic one.
                code=getattr(exc, "code", None) or code,
                message=getattr(exc, "message", None) or str(exc),
                field=getattr(exc, "field", None),
                details=list(details or []),
            )
    return None


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    503: "unavailable",
}


def from_http_exception(exc: web.HTTPException) -> ApiError:
    status = exc.status
    message = exc.reason
    if status == 413:
        message = "request body too large"
    elif status == 405:
        allowed = getattr(exc, "allowed_methods", None)
        if allowed:
            message = f"method not allowed; use {', '.join(sorted(allowed))}"
    headers = {}
    if status == 405 and "Allow" in exc.headers:
        headers["Allow"] = exc.headers["Allow"]
    return ApiError(
        status=status,
        code=_HTTP_CODES.get(status, "http_error"),
        message=message,
        headers=headers,
    )
