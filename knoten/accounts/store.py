"""Accounts: create, authenticate, reset passwords, list. Passwords are argon2id hashes.

Hashing and verifying cost tens of milliseconds of CPU on purpose; they run in a worker thread
so the event loop (media, WebSockets) never waits for them.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from knoten.accounts import passwords
from knoten.accounts.errors import (
    AccountNotFound,
    AccountTaken,
    InvalidAccount,
    LastStaffAccount,
)
from knoten.accounts.principal import Principal, Role
from knoten.accounts.tables import accounts, web_sessions

log = logging.getLogger(__name__)

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    display_name: str
    role: Role
    provider_id: int | None
    partner_id: int | None

    def principal(self) -> Principal:
        return Principal(self.role, self.id, self.username, self.provider_id, self.partner_id)


def _account(row: object) -> Account:
    return Account(
        id=row.id,  # type: ignore[attr-defined]
        username=row.username,  # type: ignore[attr-defined]
        display_name=row.display_name,  # type: ignore[attr-defined]
        role=Role(row.role),  # type: ignore[attr-defined]
        provider_id=row.provider_id,  # type: ignore[attr-defined]
        partner_id=row.partner_id,  # type: ignore[attr-defined]
    )


def normalize_username(username: str) -> str:
    return username.strip().lower()


def check_new_account(username: str, password: str, role: Role, provider_id: int | None) -> None:
    """Raises :class:`InvalidAccount` naming the field; German messages (shown on pages too)."""
    if not USERNAME_RE.match(username):
        raise InvalidAccount(
            "Der Benutzername besteht aus 2–64 Kleinbuchstaben, Ziffern, '.', '_' oder '-'.",
            "username",
        )
    problem = passwords.password_problem(password)
    if problem:
        raise InvalidAccount(problem, "password")
    if role is Role.HOST and provider_id is None:
        raise InvalidAccount("Ein Host gehört zu einem Bildungsträger.", "provider_id")


class AccountStore:
    def __init__(
        self, engine: Callable[[], AsyncEngine], now: Callable[[], datetime] | None = None
    ) -> None:
        self._engine = engine
        self._now = now or (lambda: datetime.now(UTC))

    async def count(self) -> int:
        async with self._engine().connect() as conn:
            return int(
                (await conn.execute(select(func.count()).select_from(accounts))).scalar_one()
            )

    async def create(
        self,
        username: str,
        password: str,
        role: Role,
        *,
        display_name: str = "",
        provider_id: int | None = None,
        partner_id: int | None = None,
    ) -> Account:
        username = normalize_username(username)
        check_new_account(username, password, role, provider_id)
        encoded = await asyncio.to_thread(passwords.hash_password, password)
        now = self._now()
        values = {
            "username": username,
            "display_name": display_name.strip()[:120] or username,
            "role": role.value,
            "provider_id": provider_id if role is not Role.STAFF else None,
            "partner_id": partner_id if role is Role.PARTNER else None,
            "password_hash": encoded,
            "created_at": now,
            "password_changed_at": now,
        }
        try:
            async with self._engine().begin() as conn:
                result = await conn.execute(insert(accounts).values(**values))
                account_id = result.inserted_primary_key[0]
        except IntegrityError as exc:
            if await self.find(username) is not None:
                raise AccountTaken(
                    f"Den Benutzernamen '{username}' gibt es schon.", "username"
                ) from exc
            raise InvalidAccount("Unbekannter Bildungsträger.", "provider_id") from exc
        log.info("account %s created (role %s, id %s)", username, role.value, account_id)
        return await self.get(int(account_id))

    async def get(self, account_id: int) -> Account:
        async with self._engine().connect() as conn:
            row = (await conn.execute(select(accounts).where(accounts.c.id == account_id))).first()
        if row is None:
            raise AccountNotFound(f"no account with id {account_id}")
        return _account(row)

    async def find(self, username: str) -> Account | None:
        async with self._engine().connect() as conn:
            row = (
                await conn.execute(
                    select(accounts).where(accounts.c.username == normalize_username(username))
                )
            ).first()
        return _account(row) if row is not None else None

    async def list(self, provider_id: int | None = None) -> list[Account]:
        query = select(accounts).order_by(accounts.c.username)
        if provider_id is not None:
            query = query.where(accounts.c.provider_id == provider_id)
        async with self._engine().connect() as conn:
            return [_account(row) for row in await conn.execute(query)]

    async def authenticate(self, username: str, password: str) -> Account | None:
        """The account if the password is right; None otherwise (in about the same time)."""
        async with self._engine().connect() as conn:
            row = (
                await conn.execute(
                    select(accounts).where(accounts.c.username == normalize_username(username))
                )
            ).first()
        encoded = row.password_hash if row is not None else None
        if not await asyncio.to_thread(passwords.verify_password, encoded, password):
            return None
        assert row is not None
        return _account(row)

    async def reset_password(self, username: str, password: str) -> Account:
        """A new password; every session of the account ends (a lost laptop stays signed out)."""
        account = await self.find(username)
        if account is None:
            raise AccountNotFound(f"Kein Konto '{normalize_username(username)}'.", "username")
        problem = passwords.password_problem(password)
        if problem:
            raise InvalidAccount(problem, "password")
        encoded = await asyncio.to_thread(passwords.hash_password, password)
        async with self._engine().begin() as conn:
            await conn.execute(
                update(accounts)
                .where(accounts.c.id == account.id)
                .values(password_hash=encoded, password_changed_at=self._now())
            )
            await conn.execute(web_sessions.delete().where(web_sessions.c.account_id == account.id))
        log.info("password of account %s reset; its sessions ended", account.username)
        return account

    async def delete(self, account_id: int) -> None:
        """Removes the account; its sessions and API tokens go with it (cascade)."""
        account = await self.get(account_id)
        async with self._engine().begin() as conn:
            if account.role is Role.STAFF:
                staff = (
                    await conn.execute(
                        select(func.count())
                        .select_from(accounts)
                        .where(accounts.c.role == Role.STAFF.value)
                    )
                ).scalar_one()
                if staff <= 1:
                    raise LastStaffAccount("Das letzte Konto der Bibliothek bleibt.")
            await conn.execute(delete(accounts).where(accounts.c.id == account_id))
        log.info("account %s deleted", account.username)
