"""The audit log: every change through the API is written down with who did it; staff read and
filter it, others may not; entries older than a year go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie

import aiohttp
import pytest

from knoten.accounts.principal import Role
from knoten.audit import AuditFilter, AuditLog
from knoten.keys import ACCOUNTS, AUDIT_LOG, BEARER_AUTH, DATABASE
from knoten.web.session import COOKIE
from tests.support.accounts import ensure_account
from tests.support.app_fixtures import RunningApp

pytestmark = pytest.mark.timeout(60)


@pytest.mark.both_databases
async def test_changes_are_logged_with_who_did_them(
    knoten_app: RunningApp, api: aiohttp.ClientSession
) -> None:
    staff_id = await ensure_account(knoten_app, "anna", "anna-passwort-1", Role.STAFF)
    token, _ = await knoten_app.app[BEARER_AUTH].create(
        await knoten_app.app[ACCOUNTS].get(staff_id), "test", None, 1
    )
    anna = {"Authorization": f"Bearer {token}"}
    body = {"title": "Löten", "room_id": 1, "start": "2027-03-16T18:00:00",
            "end": "2027-03-16T19:00:00"}  # fmt: skip
    async with api.post("/api/v1/seminars", json=body, headers=anna) as response:
        seminar = await response.json()
    occurrence = seminar["occurrences"][0]["id"]
    patch = {"state": "cancelled"}
    async with api.patch(f"/api/v1/occurrences/{occurrence}", json=patch) as response:
        assert response.status == 200
    async with api.patch(f"/api/v1/seminars/{seminar['id']}", json={"title": ""}) as response:
        assert response.status == 422, "refused changes are not logged"
    async with api.delete(f"/api/v1/seminars/{seminar['id']}", headers=anna) as response:
        assert response.status == 204

    async with api.get("/api/v1/audit") as response:
        entries = await response.json()
    logged = [(e["username"], e["action"], e["object_type"], e["object_id"]) for e in entries]
    assert logged == [
        ("anna", "delete", "seminars", seminar["id"]),
        ("admin-token", "change", "occurrences", occurrence),
        ("anna", "create", "seminars", seminar["id"]),
    ]
    assert all(e["status"] < 300 for e in entries)
    async with api.get("/api/v1/audit", params={"username": "anna", "action": "create"}) as r:
        assert [e["object_id"] for e in await r.json()] == [seminar["id"]]
    async with api.get("/api/v1/audit", params={"object_type": "occurrences"}) as r:
        assert len(await r.json()) == 1
    async with api.get("/api/v1/audit", params={"limit": "0"}) as r:
        assert r.status == 422

    host_id = await ensure_account(knoten_app, "gast", "gast-passwort-1", Role.HOST,
                                   provider_id=1)  # fmt: skip
    host_token, _ = await knoten_app.app[BEARER_AUTH].create(
        await knoten_app.app[ACCOUNTS].get(host_id), "test", None, 1
    )
    async with api.get("/api/v1/audit", headers={"Authorization": f"Bearer {host_token}"}) as r:
        assert r.status == 403, "only staff read the audit log"


async def test_entries_older_than_a_year_are_removed(knoten_app: RunningApp) -> None:
    clock = [datetime(2026, 1, 1, tzinfo=UTC)]
    audit = AuditLog(lambda: knoten_app.app[DATABASE].engine, now=lambda: clock[0])
    values = dict(account_id=None, username="x", role="staff", action="create",
                  object_type="rooms", object_id=1, path="/api/v1/rooms", status=201)  # fmt: skip
    await audit.record(**values)
    clock[0] += timedelta(days=200)
    await audit.record(**values)
    clock[0] += timedelta(days=200)
    assert await audit.prune() == 1
    assert len(await knoten_app.app[AUDIT_LOG].entries(AuditFilter())) == 1


async def test_staff_read_the_log_on_a_page_others_may_not(
    knoten_app: RunningApp, api: aiohttp.ClientSession, http: aiohttp.ClientSession
) -> None:
    async with api.post("/api/v1/rooms", json={"name": "Werkstatt"}) as response:
        assert response.status == 201
    await ensure_account(knoten_app, "anna", "anna-passwort-1", Role.STAFF)
    await ensure_account(knoten_app, "gast", "gast-passwort-1", Role.HOST, provider_id=1)
    pages = {}
    for user in ("anna", "gast"):
        form = {"username": user, "password": f"{user}-passwort-1"}
        async with http.post(knoten_app.url("/signin"), data=form, allow_redirects=False) as r:
            cookies = {COOKIE: SimpleCookie(r.headers["Set-Cookie"])[COOKIE].value}
        url = knoten_app.url("/dashboard/audit?lang=de&object_type=rooms")
        async with http.get(url, cookies=cookies, allow_redirects=False) as response:
            pages[user] = (response.status, await response.text())
    status, page = pages["anna"]
    assert status == 200 and 'data-testid="audit-row"' in page
    assert "admin-token (staff)" in page and "create" in page
    assert pages["gast"][0] == 403
