"""Who is asking: the roles and the principal a request is authorised as.

``staff`` (the library) may do everything; a ``host`` acts for one provider and only on its
seminars and recordings; a ``partner`` only reads its own dates. The admin token of the
configuration acts as staff, for scripts.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from aiohttp import web


class Role(StrEnum):
    STAFF = "staff"
    HOST = "host"
    PARTNER = "partner"


@dataclass(frozen=True)
class Principal:
    role: Role
    account_id: int | None = None  # None for the configured admin token
    username: str = ""
    provider_id: int | None = None
    partner_id: int | None = None

    @property
    def is_staff(self) -> bool:
        return self.role is Role.STAFF


#: The configured admin token (scripts): everything staff may do.
ADMIN_TOKEN_PRINCIPAL = Principal(Role.STAFF, username="admin-token")


#: The principal the auth middleware resolved for an ``/api/v1`` request.
PRINCIPAL = web.RequestKey("principal", Principal)


def principal_of(request: web.Request) -> Principal:
    """The authorised principal of an API request (the middleware always sets it there)."""
    return request[PRINCIPAL]
