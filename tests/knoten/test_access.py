"""Roles over the whole API: one table-driven sweep over the OpenAPI route list for each role.

Providers A and B each own a seminar (with a date and a recording). A host of A and a partner
invited to A's date call every route of the served OpenAPI description with B's ids: each answer
is the one the access table promises (403 for a role the route does not admit, 404 for an object
that is not theirs), lists leave out what is not theirs, and afterwards B's objects are unchanged.
Staff read every route with the same ids and are never refused.
"""

from __future__ import annotations

from datetime import UTC, datetime
from http.cookies import SimpleCookie
from typing import Any

import aiohttp
import pytest

from knoten.access import rule_for
from knoten.accounts.principal import Role
from knoten.keys import ACCOUNTS, BEARER_AUTH, RECORDINGS
from knoten.web.session import COOKIE
from tests.support.accounts import ensure_account
from tests.support.app_fixtures import RunningApp

pytestmark = pytest.mark.timeout(120)


async def _json(api: aiohttp.ClientSession, method: str, path: str, body: Any = None) -> Any:
    async with api.request(method, path, json=body) as response:
        assert response.status < 300, f"{method} {path}: {response.status} {await response.text()}"
        return await response.json()


async def _token(app: RunningApp, username: str, role: Role, **fields: Any) -> str:
    account_id = await ensure_account(app, username, "passwort-" + username, role, **fields)
    account = await app.app[ACCOUNTS].get(account_id)
    token, _ = await app.app[BEARER_AUTH].create(account, "test", None, 1)
    return token


def _client(app: RunningApp, token: str) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        base_url=app.base_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=aiohttp.ClientTimeout(total=30),
    )


@pytest.fixture
async def world(knoten_app: RunningApp, api: aiohttp.ClientSession) -> dict[str, Any]:
    a = await _json(api, "POST", "/api/v1/providers", {"name": "DigitalLotsen", "contact": "x"})
    b = await _json(api, "POST", "/api/v1/providers", {"name": "Innovation Port"})
    partner = await _json(
        api, "POST", "/api/v1/partners", {"name": "Campus", "kind": "hls", "enabled": True}
    )
    ids: dict[str, Any] = {"provider_a": a["id"], "provider_b": b["id"], "partner": partner["id"]}
    for key, provider, hour in (("a", a["id"], 10), ("b", b["id"], 14)):
        seminar = await _json(
            api,
            "POST",
            "/api/v1/seminars",
            {
                "title": f"Kurs {key.upper()}",
                "room_id": 1,
                "start": f"2027-03-16T{hour}:00:00",
                "end": f"2027-03-16T{hour + 1}:00:00",
                "partner_ids": [partner["id"]] if key == "a" else [],
                "provider_id": provider,
            },
        )
        occurrence = seminar["occurrences"][0]["id"]
        recording = await knoten_app.app[RECORDINGS].create(
            occurrence, seminar["id"], seminar["title"], datetime.now(UTC)
        )
        ids |= {f"seminar_{key}": seminar["id"], f"occurrence_{key}": occurrence,
                f"recording_{key}": recording.id}  # fmt: skip
    ids["host_a"] = await _token(knoten_app, "host-a", Role.HOST, provider_id=a["id"])
    ids["partner_a"] = await _token(
        knoten_app, "campus", Role.PARTNER, provider_id=a["id"], partner_id=partner["id"]
    )
    ids["staff"] = await _token(knoten_app, "chefin", Role.STAFF)
    return ids


def _concrete(path: str, ids: dict[str, Any]) -> str:
    """The route with B's ids (what a host of A must not reach)."""
    values = {
        "seminar_id": ids["seminar_b"],
        "occurrence_id": ids["occurrence_b"],
        "recording_id": ids["recording_b"],
        "provider_id": ids["provider_b"],
        "partner_id": ids["partner"],
        "room_id": 1,
        "message_id": 1,
        "participant_id": 1,
        "token_id": 999_999,
        "account_id": 999_999,
    }
    for name, value in values.items():
        path = path.replace("{" + name + "}", str(value))
    assert "{" not in path, f"no test id for a parameter of {path}"
    return path


async def _routes(app: RunningApp) -> list[tuple[str, str]]:
    async with aiohttp.ClientSession() as http, http.get(app.url("/api/v1/openapi.json")) as r:
        spec = await r.json()
    routes = [
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    ]
    assert len(routes) > 40
    return routes


@pytest.mark.parametrize("role", ["host", "partner"])
async def test_every_route_refuses_what_the_role_may_not_reach(
    knoten_app: RunningApp, api: aiohttp.ClientSession, world: dict[str, Any], role: str
) -> None:
    principal_role = Role(role)
    token = world["host_a" if role == "host" else "partner_a"]
    checked = 0
    async with _client(knoten_app, token) as client:
        for method, route in await _routes(knoten_app):
            if route == "/api/v1/openapi.json":
                continue
            rule = rule_for(method, route)
            path = _concrete(route, world)
            body = {} if method in ("POST", "PATCH", "PUT") else None
            async with client.request(method, path, json=body) as response:
                status = response.status
                text = await response.text()
            where = f"{role} {method} {path}: {status} {text[:200]}"
            if principal_role not in rule.roles:
                assert status == 403, where
                assert '"field"' in text, "always the JSON error body"
            elif rule.target is not None:
                assert status == 404, where
            else:
                assert status not in (401, 403) and status < 500, where
                # Only a token that does not exist (the test's id 999999) may be "not found".
                assert status != 404 or "{token_id}" in route, where
            checked += 1
    assert checked > 40

    # Lists leave out what is not theirs.
    async with _client(knoten_app, token) as client:
        async with client.get("/api/v1/occurrences?from=2027-03-01&to=2027-04-01") as response:
            dates = {o["id"] for o in await response.json()}
        assert dates == {world["occurrence_a"]}, "only A's date (the partner is invited there)"
        async with client.get(f"/api/v1/occurrences/{world['occurrence_a']}") as response:
            assert response.status == 200
        if role == "host":
            for path, key in (("/api/v1/seminars", "seminar_a"),
                              ("/api/v1/recordings", "recording_a"),
                              ("/api/v1/providers", "provider_a")):  # fmt: skip
                async with client.get(path) as response:
                    assert [x["id"] for x in await response.json()] == [world[key]], path
            for path in (f"/api/v1/seminars/{world['seminar_a']}",
                         f"/api/v1/recordings/{world['recording_a']}",
                         f"/api/v1/providers/{world['provider_a']}"):  # fmt: skip
                async with client.get(path) as response:
                    assert response.status == 200, path
            # A host books for its own provider, never for another.
            booking = {"title": "Eigener Kurs", "room_id": 1,
                       "start": "2027-03-17T10:00:00", "end": "2027-03-17T11:00:00"}  # fmt: skip
            async with client.post("/api/v1/seminars", json=booking) as response:
                assert response.status == 201
                assert (await response.json())["provider_id"] == world["provider_a"]
            other = {**booking, "start": "2027-03-18T10:00:00", "end": "2027-03-18T11:00:00",
                     "provider_id": world["provider_b"]}  # fmt: skip
            async with client.post("/api/v1/seminars", json=other) as response:
                assert response.status == 403
                assert (await response.json())["error"]["field"] == "provider_id"

    # B's things are untouched.
    seminar_b = await _json(api, "GET", f"/api/v1/seminars/{world['seminar_b']}")
    assert seminar_b["title"] == "Kurs B" and seminar_b["provider_id"] == world["provider_b"]
    await _json(api, "GET", f"/api/v1/recordings/{world['recording_b']}")
    occurrence_b = await _json(api, "GET", f"/api/v1/occurrences/{world['occurrence_b']}")
    assert occurrence_b["state"] == "scheduled"


async def test_staff_are_refused_nothing(knoten_app: RunningApp, world: dict[str, Any]) -> None:
    async with _client(knoten_app, world["staff"]) as client:
        for method, route in await _routes(knoten_app):
            if method != "GET":
                continue
            async with client.get(_concrete(route, world)) as response:
                assert response.status not in (401, 403), f"{route}: {response.status}"


async def test_host_pages_of_another_providers_date_are_not_found(
    knoten_app: RunningApp, world: dict[str, Any], http: aiohttp.ClientSession
) -> None:
    form = {"username": "host-a", "password": "passwort-host-a"}
    async with http.post(knoten_app.url("/signin"), data=form, allow_redirects=False) as r:
        assert r.status == 303
        cookies = {COOKIE: SimpleCookie(r.headers["Set-Cookie"])[COOKIE].value}
    for occurrence, status in ((world["occurrence_b"], 404), (world["occurrence_a"], 200)):
        for suffix in ("", "/qr.svg"):
            path = knoten_app.url(f"/dashboard/occurrences/{occurrence}{suffix}")
            async with http.get(path, cookies=cookies, allow_redirects=False) as response:
                assert response.status == status, path
    rooms = knoten_app.url("/dashboard/rooms")
    async with http.get(rooms, cookies=cookies, allow_redirects=False) as response:
        assert response.status == 403, "rooms are the library's business"
