"""Personal API tokens: made by a signed-in account, shown once, stored hashed, used as
``Authorization: Bearer``; their role is at most the account's; expiry and revocation end them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie

import aiohttp
import pytest
from sqlalchemy import select, update

from knoten.accounts.principal import Role
from knoten.accounts.tables import api_tokens
from knoten.keys import DATABASE, PROVIDERS
from knoten.web.session import COOKIE
from tests.support.accounts import ensure_account
from tests.support.app_fixtures import RunningApp

pytestmark = [pytest.mark.timeout(60), pytest.mark.both_databases]


async def _session(app: RunningApp, http: aiohttp.ClientSession, user: str, pw: str) -> dict:
    form = {"username": user, "password": pw}
    async with http.post(app.url("/signin"), data=form, allow_redirects=False) as response:
        assert response.status == 303
        cookie = SimpleCookie(response.headers["Set-Cookie"])[COOKIE].value
    async with http.get(app.url("/dashboard"), cookies={COOKIE: cookie}) as page:
        csrf = (await page.text()).split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    return {"cookies": {COOKIE: cookie}, "headers": {"X-CSRF-Token": csrf}}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_host_token_is_shown_once_and_acts_as_the_host(
    knoten_app: RunningApp, http: aiohttp.ClientSession, api: aiohttp.ClientSession
) -> None:
    provider = await knoten_app.app[PROVIDERS].create("Open Factory")
    await ensure_account(knoten_app, "werkstatt", "werkstatt-pw-1", Role.HOST,
                         provider_id=provider.id)  # fmt: skip
    auth = await _session(knoten_app, http, "werkstatt", "werkstatt-pw-1")
    url = knoten_app.url("/api/v1/me/tokens")

    # Not stronger than the account.
    async with http.post(url, json={"name": "zu viel", "role": "staff"}, **auth) as response:
        assert response.status == 422
        assert (await response.json())["error"]["field"] == "role"
    async with http.post(url, json={"name": "Skript", "days": 30}, **auth) as response:
        assert response.status == 201
        assert response.headers["Cache-Control"] == "no-store"
        made = await response.json()
    token = made["token"]
    assert token.startswith("knt_") and made["role"] == "host"
    async with http.get(url, **auth) as response:
        listed = await response.json()
    assert [t["name"] for t in listed] == ["Skript"] and listed[0]["token"] is None
    async with knoten_app.app[DATABASE].engine.connect() as conn:
        stored = (await conn.execute(select(api_tokens.c.digest))).scalars().all()
    assert token not in stored, "only the hash is stored"

    async with http.get(knoten_app.url("/api/v1/me"), headers=_bearer(token)) as response:
        assert (await response.json())["username"] == "werkstatt"
    async with http.get(knoten_app.url("/api/v1/partners"), headers=_bearer(token)) as response:
        assert response.status == 200
    async with http.post(
        knoten_app.url("/api/v1/rooms"), json={"name": "X"}, headers=_bearer(token)
    ) as response:
        assert response.status == 403, "the token has the host's rights, no more"

    # Expired: refused.
    async with knoten_app.app[DATABASE].engine.begin() as conn:
        await conn.execute(
            update(api_tokens).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    async with http.get(knoten_app.url("/api/v1/me"), headers=_bearer(token)) as response:
        assert response.status == 401

    # Revoked: refused.
    async with http.post(url, json={"name": "Zweites"}, **auth) as response:
        second = await response.json()
    async with http.delete(f"{url}/{second['id']}", **auth) as response:
        assert response.status == 204
    async with http.get(knoten_app.url("/api/v1/me"), headers=_bearer(second["token"])) as r:
        assert r.status == 401
    # The configured admin token belongs to no account.
    async with api.get("/api/v1/me/tokens") as response:
        assert response.status == 409


async def test_a_staff_token_may_be_scoped_down_to_partner(
    knoten_app: RunningApp, http: aiohttp.ClientSession
) -> None:
    await ensure_account(knoten_app, "chef", "chef-passwort-1", Role.STAFF)
    auth = await _session(knoten_app, http, "chef", "chef-passwort-1")
    body = {"name": "nur lesen", "role": "partner", "days": 1}
    async with http.post(knoten_app.url("/api/v1/me/tokens"), json=body, **auth) as response:
        token = (await response.json())["token"]
    async with http.get(knoten_app.url("/api/v1/rooms"), headers=_bearer(token)) as response:
        assert response.status == 403
    async with http.get(knoten_app.url("/api/v1/occurrences"), headers=_bearer(token)) as r:
        assert r.status == 200 and await r.json() == []
