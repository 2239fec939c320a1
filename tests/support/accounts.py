"""Accounts for tests: a staff account made on demand, and the sign-in form data for it."""

from __future__ import annotations

from knoten.accounts.principal import Role
from knoten.keys import ACCOUNTS
from tests.support.app_fixtures import RunningApp

TEST_STAFF = "personal"
TEST_PASSWORD = "test-passwort-0123"


async def ensure_account(
    app: RunningApp,
    username: str = TEST_STAFF,
    password: str = TEST_PASSWORD,
    role: Role = Role.STAFF,
    **fields: object,
) -> int:
    """The id of the account ``username``, made with ``password`` if it does not exist yet."""
    accounts = app.app[ACCOUNTS]
    account = await accounts.find(username)
    if account is None:
        account = await accounts.create(username, password, role, **fields)  # type: ignore[arg-type]
    return account.id


async def staff_form(app: RunningApp) -> dict[str, str]:
    """The sign-in form's fields for the test staff account (made on first use)."""
    await ensure_account(app)
    return {"username": TEST_STAFF, "password": TEST_PASSWORD}
