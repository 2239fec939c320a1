"""The signed-in account itself: who am I, and my personal API tokens.

A token is shown once, in the answer that creates it; listings show its name, role and expiry
only. The configured admin token has no account and therefore no tokens of its own (409).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from knoten.accounts.principal import Role, principal_of
from knoten.accounts.tokens import MAX_DAYS, ApiToken
from knoten.api.providers import AccountOut
from knoten.http.errors import ApiError
from knoten.http.openapi import Operation
from knoten.http.requests import json_response, path_int, read_model
from knoten.keys import ACCOUNTS, BEARER_AUTH

NO_STORE = {"Cache-Control": "no-store"}


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=80, description="what the token is for")
    role: Literal["staff", "host", "partner"] | None = Field(
        default=None, description="at most the account's role (default: the account's)"
    )
    days: int = Field(default=90, ge=1, le=MAX_DAYS, description="valid for this many days")


class TokenOut(BaseModel):
    id: int
    name: str
    role: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    token: str | None = Field(default=None, description="only in the answer that creates it")

    @classmethod
    def of(cls, token: ApiToken, plain: str | None = None) -> TokenOut:
        return cls(
            id=token.id,
            name=token.name,
            role=token.role.value,
            created_at=token.created_at,
            expires_at=token.expires_at,
            last_used_at=token.last_used_at,
            token=plain,
        )


def _account_id(request: web.Request) -> int:
    account_id = principal_of(request).account_id
    if account_id is None:
        raise ApiError(409, "no_account", "the configured admin token belongs to no account")
    return account_id


async def me(request: web.Request) -> web.Response:
    account = await request.app[ACCOUNTS].get(_account_id(request))
    return json_response(AccountOut.of(account))


async def list_tokens(request: web.Request) -> web.Response:
    tokens = await request.app[BEARER_AUTH].list(_account_id(request))
    return json_response([TokenOut.of(t) for t in tokens])


async def create_token(request: web.Request) -> web.Response:
    body = await read_model(request, TokenIn)
    account = await request.app[ACCOUNTS].get(_account_id(request))
    role = Role(body.role) if body.role else None
    plain, token = await request.app[BEARER_AUTH].create(account, body.name, role, body.days)
    response = json_response(TokenOut.of(token, plain), status=201)
    response.headers.update(NO_STORE)
    return response


async def revoke_token(request: web.Request) -> web.Response:
    await request.app[BEARER_AUTH].revoke(_account_id(request), path_int(request, "token_id"))
    return web.Response(status=204)


OPERATIONS = (
    Operation("GET", "/api/v1/me", me, "The signed-in account", "accounts",
              response=AccountOut, errors=(409,)),
    Operation("GET", "/api/v1/me/tokens", list_tokens, "My personal API tokens (no values)",
              "accounts", response=TokenOut, response_is_list=True, errors=(409,)),
    Operation("POST", "/api/v1/me/tokens", create_token,
              "A new personal API token, shown once (Authorization: Bearer)", "accounts",
              request=TokenIn, response=TokenOut, status=201, errors=(409, 422)),
    Operation("DELETE", "/api/v1/me/tokens/{token_id}", revoke_token, "Revoke one of my tokens",
              "accounts", status=204, errors=(404, 409)),
)  # fmt: skip
