"""Accounts: first-run set-up with the code `knoten serve` prints (once only), sign-in with
user name and password, rate limiting, the `knoten user` commands, the migration of an existing
install, and that the configured admin token still opens the API."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from http.cookies import SimpleCookie
from pathlib import Path

import aiohttp
import pytest
from alembic import command
from playwright.async_api import Page, expect
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import create_async_engine

from knoten.db import Database, alembic_config
from knoten.web.session import COOKIE
from tests.support.accounts import TEST_PASSWORD, TEST_STAFF, ensure_account, staff_form
from tests.support.app_fixtures import TEST_TOKEN, RunningApp, wait_healthy

pytestmark = pytest.mark.timeout(90)

SETUP_LINK = re.compile(r"(http://\S+/setup\?code=\S+)")


async def _setup_link(service) -> str:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        match = SETUP_LINK.search(service.log())
        if match:
            return match.group(1)
        await asyncio.sleep(0.2)
    raise AssertionError(f"no set-up link printed:\n{service.log()}")


@pytest.mark.browser
async def test_first_start_set_up_with_the_printed_code_works_once(
    service_factory, page: Page, tmp_path: Path
) -> None:
    service = service_factory(KNOTEN_ADMIN_TOKEN=TEST_TOKEN)
    await wait_healthy(service)
    link = await _setup_link(service)
    code = link.split("code=", 1)[1]
    assert code not in "".join(
        line for line in service.log().splitlines() if " INFO " in line or " WARNING " in line
    ), "the code is printed for the console, never logged"

    # The start page leads to the set-up notice while no account exists …
    await page.goto(service.base_url + "/?lang=de")
    await expect(page.get_by_test_id("start-setup")).to_contain_text("knoten serve")
    # … a wrong code opens nothing …
    await page.goto(service.base_url + "/setup?code=falsch")
    await expect(page.get_by_test_id("setup-invalid")).to_be_visible()
    # … the printed link creates the first staff account and signs in.
    await page.goto(link)
    await page.get_by_label("Benutzername").fill("bibliothek")
    await page.get_by_label("Ihr Name").fill("Anna Bibliothek")
    await page.get_by_label("Passwort", exact=True).fill("kurz")
    await page.get_by_label("Passwort wiederholen").fill("kurz")
    await page.get_by_role("button", name="Konto anlegen und anmelden").click()
    await expect(page.get_by_role("alert")).to_contain_text("mindestens 10 Zeichen")
    await page.get_by_label("Passwort", exact=True).fill("ein-langes-passwort")
    await page.get_by_label("Passwort wiederholen").fill("ein-langes-passwort")
    await page.get_by_role("button", name="Konto anlegen und anmelden").click()
    await expect(page.get_by_role("heading", name="Kalender", exact=True)).to_be_visible()

    # A second attempt with the same code fails, also over plain HTTP.
    async with aiohttp.ClientSession() as http:
        async with http.get(link) as response:
            assert response.status == 403
        form = {"code": code, "username": "zweite", "password": "x" * 12, "password2": "x" * 12}
        async with http.post(service.base_url + "/setup", data=form) as response:
            assert response.status == 403
            assert "gilt nicht" in await response.text()
        # The start page now leads to the sign-in; the admin token still opens the API.
        async with http.get(service.base_url + "/?lang=de") as response:
            assert 'href="/signin"' in await response.text()
        headers = {"Authorization": f"Bearer {TEST_TOKEN}"}
        async with http.get(service.base_url + "/api/v1/rooms", headers=headers) as response:
            assert response.status == 200
        # … but the admin token is no way to sign in to the pages.
        bad = {"username": "bibliothek", "password": TEST_TOKEN}
        async with http.post(service.base_url + "/signin", data=bad) as response:
            assert response.status == 401


@pytest.mark.both_databases
async def test_signin_with_password_and_wrong_password(
    knoten_app: RunningApp, http: aiohttp.ClientSession
) -> None:
    form = await staff_form(knoten_app)
    wrong = {**form, "password": "nicht-das-passwort"}
    async with http.post(knoten_app.url("/signin?lang=de"), data=wrong) as response:
        assert response.status == 401
        assert "Benutzername oder Passwort stimmt nicht" in await response.text()
    async with http.post(
        knoten_app.url("/signin"), data={**form, "username": " Personal "}, allow_redirects=False
    ) as response:
        assert response.status == 303, "user names are matched without case and spaces"
        cookie = SimpleCookie(response.headers["Set-Cookie"])[COOKIE].value
    async with http.get(knoten_app.url("/api/v1/rooms"), cookies={COOKIE: cookie}) as response:
        assert response.status == 200


async def test_signin_is_rate_limited_per_account_and_per_address(
    knoten_app: RunningApp, http: aiohttp.ClientSession
) -> None:
    form = await staff_form(knoten_app)
    url = knoten_app.url("/signin?lang=de")
    for _ in range(5):
        async with http.post(url, data={**form, "password": "falsch-falsch"}) as response:
            assert response.status == 401
    # The sixth attempt waits, even with the right password, and says so in German.
    async with http.post(url, data=form, allow_redirects=False) as response:
        assert response.status == 429
        assert response.headers["Retry-After"] == "1"
        assert "Zu viele Fehlversuche" in await response.text()
    await asyncio.sleep(1.1)
    async with http.post(url, data={**form, "password": "falsch-falsch"}) as response:
        assert response.status == 401
    async with http.post(url, data=form, allow_redirects=False) as response:
        assert response.status == 429
        assert response.headers["Retry-After"] == "2", "the delay grows"
    await asyncio.sleep(2.1)
    async with http.post(url, data=form, allow_redirects=False) as response:
        assert response.status == 303, "after the delay the right password signs in"
    # Per address: five failures under other names lock this address too.
    for name in ("a1", "a2", "a3", "a4", "a5"):
        async with http.post(url, data={"username": name, "password": "xxxxxxxxxx"}) as response:
            assert response.status == 401
    async with http.post(url, data=form, allow_redirects=False) as response:
        assert response.status == 429


def _cli(
    data_dir: Path, *args: str, password: str, database_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "KNOTEN_LOG_LEVEL": "WARNING"}
    if database_url:  # the app's PostgreSQL database rather than the data directory's SQLite
        env["KNOTEN_DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "knoten.cli", "user", *args, "--data-dir", str(data_dir)],
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


async def test_cli_user_add_and_reset_password_ends_sessions(
    knoten_app: RunningApp, http: aiohttp.ClientSession
) -> None:
    data_dir, database_url = knoten_app.config.data_dir, knoten_app.config.storage.database_url

    def cli(*args: str, password: str) -> subprocess.CompletedProcess[str]:
        return _cli(data_dir, *args, password=password, database_url=database_url)

    added = await asyncio.to_thread(cli, "add", "hausmeister", password="erstes-pw-123")
    assert added.returncode == 0, added.stderr
    again = await asyncio.to_thread(cli, "add", "hausmeister", password="erstes-pw-123")
    assert again.returncode == 1 and "gibt es schon" in again.stderr
    short = await asyncio.to_thread(cli, "add", "kurz", password="kurz")
    assert short.returncode == 1 and "mindestens 10 Zeichen" in short.stderr

    form = {"username": "hausmeister", "password": "erstes-pw-123"}
    async with http.post(knoten_app.url("/signin"), data=form, allow_redirects=False) as response:
        assert response.status == 303
        cookie = SimpleCookie(response.headers["Set-Cookie"])[COOKIE].value
    reset = await asyncio.to_thread(cli, "reset-password", "hausmeister", password="zweites-pw-456")
    assert reset.returncode == 0, reset.stderr
    async with http.get(knoten_app.url("/api/v1/rooms"), cookies={COOKIE: cookie}) as response:
        assert response.status == 401, "a password reset ends the account's sessions"
    async with http.post(knoten_app.url("/signin"), data=form) as response:
        assert response.status == 401
    form["password"] = "zweites-pw-456"
    async with http.post(knoten_app.url("/signin"), data=form, allow_redirects=False) as response:
        assert response.status == 303
    missing = await asyncio.to_thread(cli, "reset-password", "niemand", password="x" * 12)
    assert missing.returncode == 1 and "Kein Konto" in missing.stderr


async def test_existing_install_migrates_seminars_to_the_library(tmp_path: Path) -> None:
    """A database at 0007 with a seminar: after the upgrade it belongs to "Bibliothek"."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: command.upgrade(alembic_config(c), "0007"))
        await conn.execute(
            text(
                "INSERT INTO rooms (id, name, source, timezone, created_at, updated_at) "
                "VALUES (7, 'Alt', 'testsrc', 'Europe/Berlin', '2026-01-01', '2026-01-01')"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO seminars (id, room_id, title, description, host, timezone, "
                "start_local, end_local, exdates, record, lead_in_minutes, lead_out_minutes, "
                "partner_ids, sequence, created_at, updated_at) VALUES (3, 7, 'Alt', '', '', "
                "'Europe/Berlin', '2026-02-01', '2026-02-01', '[]', 0, 5, 0, '[]', 0, "
                "'2026-01-01', '2026-01-01')"
            )
        )
    await engine.dispose()
    database = Database(url)
    await database.start()
    try:
        async with database.engine.connect() as conn:
            owner = (
                await conn.execute(
                    text(
                        "SELECT p.name FROM seminar_owners o JOIN providers p "
                        "ON p.id = o.provider_id WHERE o.seminar_id = 3"
                    )
                )
            ).scalar_one()
            accounts = (await conn.execute(text("SELECT count(*) FROM accounts"))).scalar_one()
        assert owner == "Bibliothek"
        assert accounts == 0, "the first staff account comes from the set-up page"
    finally:
        await database.aclose()


@pytest.mark.both_databases
async def test_passwords_are_stored_as_argon2id(knoten_app: RunningApp) -> None:
    from knoten.accounts.tables import accounts
    from knoten.keys import DATABASE

    await ensure_account(knoten_app)
    async with knoten_app.app[DATABASE].engine.connect() as conn:
        stored = (
            await conn.execute(
                select(accounts.c.password_hash).where(accounts.c.username == TEST_STAFF)
            )
        ).scalar_one()
    assert stored.startswith("$argon2id$") and TEST_PASSWORD not in stored
