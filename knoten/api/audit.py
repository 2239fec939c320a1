"""Audit log API: staff read and filter who changed what (see :mod:`knoten.audit`)."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from knoten.audit import AuditEntry, AuditFilter
from knoten.http.openapi import Operation
from knoten.http.requests import json_response, read_query
from knoten.keys import AUDIT_LOG


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: datetime | None = Field(default=None, alias="from", description="RFC 3339, inclusive")
    to: datetime | None = Field(default=None, description="RFC 3339, exclusive")
    username: str | None = Field(default=None, max_length=64)
    action: str | None = Field(default=None, max_length=32, description="create, change, start …")
    object_type: str | None = Field(default=None, max_length=32, description="seminars …")
    object_id: int | None = Field(default=None, ge=1)
    limit: int = Field(default=200, ge=1, le=1000)


class AuditOut(BaseModel):
    id: int
    at: datetime
    account_id: int | None
    username: str
    role: str
    action: str
    object_type: str
    object_id: int | None
    path: str
    status: int

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditOut:
        return cls(**entry.__dict__)


def _aware(value: datetime | None) -> datetime | None:
    """A time without an offset is UTC."""
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


async def list_audit(request: web.Request) -> web.Response:
    query = read_query(request.query, AuditQuery)
    where = AuditFilter(
        since=_aware(query.from_),
        until=_aware(query.to),
        username=query.username,
        action=query.action,
        object_type=query.object_type,
        object_id=query.object_id,
        limit=query.limit,
    )
    entries = await request.app[AUDIT_LOG].entries(where)
    return json_response([AuditOut.of(e) for e in entries])


OPERATIONS = (
    Operation("GET", "/api/v1/audit", list_audit,
              "Who created, changed, started, stopped or deleted what (newest first; staff)",
              "audit", response=AuditOut, response_is_list=True, query=AuditQuery,
              errors=(422,)),
)  # fmt: skip
