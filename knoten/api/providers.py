"""Providers API (Bildungsträger) with their hosts and partners, and the accounts staff manage.

Staff create providers and accounts; a host sees only its own provider. Accounts are listed
without any secret (the password hash never leaves the database).
"""

from __future__ import annotations

from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from knoten.accounts.principal import Role, principal_of
from knoten.accounts.providers import Provider
from knoten.accounts.store import Account
from knoten.http.openapi import Operation
from knoten.http.requests import json_response, path_int, read_model
from knoten.keys import ACCOUNTS, PROVIDERS

DIRECT_HELP = (
    '"darf direkt buchen": its hosts\' bookings are scheduled at once instead of being '
    "requested for the library to confirm"
)
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]


class AccountOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: Literal["staff", "host", "partner"]
    provider_id: int | None
    partner_id: int | None

    @classmethod
    def of(cls, account: Account) -> AccountOut:
        return cls(
            id=account.id,
            username=account.username,
            display_name=account.display_name,
            role=account.role.value,
            provider_id=account.provider_id,
            partner_id=account.partner_id,
        )


class ProviderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    contact: str = Field(default="", max_length=1000, description="who to call, e-mail, phone")
    direct_booking: bool = Field(default=False, description=DIRECT_HELP)


class ProviderPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    contact: str | None = Field(default=None, max_length=1000)
    direct_booking: bool | None = Field(default=None, description=DIRECT_HELP)


class ProviderOut(BaseModel):
    id: int
    name: str
    contact: str
    is_default: bool
    direct_booking: bool
    hosts: list[AccountOut]
    partners: list[AccountOut]


class AccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=2, max_length=64)
    password: str = Field(min_length=10, max_length=200, description="at least 10 characters")
    role: Literal["staff", "host", "partner"]
    display_name: str = Field(default="", max_length=120)
    provider_id: int | None = Field(default=None, ge=1, description="hosts: required")
    partner_id: int | None = Field(
        default=None, ge=1, description="partners: the broadcast partner whose dates they see"
    )


async def _provider_out(request: web.Request, provider: Provider) -> ProviderOut:
    members = await request.app[ACCOUNTS].list(provider.id)
    return ProviderOut(
        id=provider.id,
        name=provider.name,
        contact=provider.contact,
        is_default=provider.is_default,
        direct_booking=provider.direct_booking,
        hosts=[AccountOut.of(a) for a in members if a.role is Role.HOST],
        partners=[AccountOut.of(a) for a in members if a.role is Role.PARTNER],
    )


async def list_providers(request: web.Request) -> web.Response:
    principal = principal_of(request)
    providers = await request.app[PROVIDERS].list()
    if not principal.is_staff:
        providers = [p for p in providers if p.id == principal.provider_id]
    return json_response([await _provider_out(request, p) for p in providers])


async def create_provider(request: web.Request) -> web.Response:
    body = await read_model(request, ProviderIn)
    provider = await request.app[PROVIDERS].create(
        body.name, body.contact, direct_booking=body.direct_booking
    )
    response = json_response(await _provider_out(request, provider), status=201)
    response.headers["Location"] = f"/api/v1/providers/{provider.id}"
    return response


async def get_provider(request: web.Request) -> web.Response:
    provider = await request.app[PROVIDERS].get(path_int(request, "provider_id"))
    return json_response(await _provider_out(request, provider))


async def update_provider(request: web.Request) -> web.Response:
    body = await read_model(request, ProviderPatch)
    changes = body.model_dump(exclude_none=True)
    provider = await request.app[PROVIDERS].update(path_int(request, "provider_id"), **changes)
    return json_response(await _provider_out(request, provider))


async def delete_provider(request: web.Request) -> web.Response:
    await request.app[PROVIDERS].delete(path_int(request, "provider_id"))
    return web.Response(status=204)


async def list_accounts(request: web.Request) -> web.Response:
    return json_response([AccountOut.of(a) for a in await request.app[ACCOUNTS].list()])


async def create_account(request: web.Request) -> web.Response:
    body = await read_model(request, AccountIn)
    if body.provider_id is not None:
        await request.app[PROVIDERS].get(body.provider_id)  # 404 naming the provider
    account = await request.app[ACCOUNTS].create(
        body.username,
        body.password,
        Role(body.role),
        display_name=body.display_name,
        provider_id=body.provider_id,
        partner_id=body.partner_id,
    )
    response = json_response(AccountOut.of(account), status=201)
    response.headers["Location"] = f"/api/v1/accounts/{account.id}"
    return response


async def delete_account(request: web.Request) -> web.Response:
    await request.app[ACCOUNTS].delete(path_int(request, "account_id"))
    return web.Response(status=204)


OPERATIONS = (
    Operation("GET", "/api/v1/providers", list_providers,
              "Providers with their hosts and partners (a host: its own)", "providers",
              response=ProviderOut, response_is_list=True),
    Operation("POST", "/api/v1/providers", create_provider, "Add a provider", "providers",
              request=ProviderIn, response=ProviderOut, status=201, errors=(409, 422)),
    Operation("GET", "/api/v1/providers/{provider_id}", get_provider, "A provider",
              "providers", response=ProviderOut, errors=(404,)),
    Operation("PATCH", "/api/v1/providers/{provider_id}", update_provider,
              "Rename a provider or change its contact", "providers", request=ProviderPatch,
              response=ProviderOut, errors=(404, 409, 422)),
    Operation("DELETE", "/api/v1/providers/{provider_id}", delete_provider,
              "Delete a provider without seminars and accounts", "providers", status=204,
              errors=(404, 409)),
    Operation("GET", "/api/v1/accounts", list_accounts, "All accounts (staff)", "accounts",
              response=AccountOut, response_is_list=True),
    Operation("POST", "/api/v1/accounts", create_account,
              "Create an account for staff, a provider's host or a partner", "accounts",
              request=AccountIn, response=AccountOut, status=201, errors=(404, 409, 422)),
    Operation("DELETE", "/api/v1/accounts/{account_id}", delete_account,
              "Delete an account (its sessions and tokens end)", "accounts", status=204,
              errors=(404, 409)),
)  # fmt: skip
