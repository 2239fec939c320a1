"""Bearer authentication: the configured admin token and personal API tokens.

A personal token is ``knt_`` plus 256 random bits, shown once when it is made; the database
keeps its SHA-256 only (the token is random, so a slow hash adds nothing). Each token carries a
role no stronger than its account's (staff > host > partner) and an expiry; it acts for its
account with that role, so a host's token stays bound to the host's provider.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from knoten.accounts.errors import AccountNotFound, InvalidAccount
from knoten.accounts.principal import ADMIN_TOKEN_PRINCIPAL, Principal, Role
from knoten.accounts.store import Account
from knoten.accounts.tables import accounts, api_tokens

log = logging.getLogger(__name__)

PREFIX = "knt_"
MAX_DAYS = 366
_STRENGTH = {Role.PARTNER: 0, Role.HOST: 1, Role.STAFF: 2}


@dataclass(frozen=True)
class ApiToken:
    id: int
    name: str
    role: Role
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _token(row: object) -> ApiToken:
    return ApiToken(
        row.id,  # type: ignore[attr-defined]
        row.name,  # type: ignore[attr-defined]
        Role(row.role),  # type: ignore[attr-defined]
        row.created_at,  # type: ignore[attr-defined]
        row.expires_at,  # type: ignore[attr-defined]
        row.last_used_at,  # type: ignore[attr-defined]
    )


class BearerAuth:
    """Resolves a presented bearer token to a principal (or None)."""

    def __init__(
        self,
        engine: Callable[[], AsyncEngine],
        admin_token: Callable[[], str | None],
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self._engine = engine
        self._admin_token = admin_token
        self._now = now or (lambda: datetime.now(UTC))

    async def __call__(self, presented: str) -> Principal | None:
        if presented.startswith(PREFIX) and len(presented) < 100:
            return await self._personal(presented)
        admin = self._admin_token()
        if admin and hmac.compare_digest(presented.encode(), admin.encode()):
            return ADMIN_TOKEN_PRINCIPAL
        return None

    async def _personal(self, presented: str) -> Principal | None:
        query = (
            select(
                api_tokens.c.id.label("token_id"),
                api_tokens.c.role.label("token_role"),
                api_tokens.c.expires_at,
                accounts.c.id.label("account_id"),
                accounts.c.role.label("account_role"),
                accounts.c.username,
                accounts.c.provider_id,
                accounts.c.partner_id,
            )
            .join(accounts, accounts.c.id == api_tokens.c.account_id)
            .where(api_tokens.c.digest == _digest(presented))
        )
        async with self._engine().connect() as conn:
            row = (await conn.execute(query)).first()
        now = self._now()
        if row is None or row.expires_at <= now:
            return None
        role = Role(row.token_role)
        if _STRENGTH[role] > _STRENGTH[Role(row.account_role)]:
            return None  # the account was demoted after the token was made
        async with self._engine().begin() as conn:
            await conn.execute(
                update(api_tokens).where(api_tokens.c.id == row.token_id).values(last_used_at=now)
            )
        return Principal(role, row.account_id, row.username, row.provider_id, row.partner_id)

    # -- the tokens of an account ----------------------------------------------------------------

    async def create(
        self, account: Account, name: str, role: Role | None, days: int
    ) -> tuple[str, ApiToken]:
        """A new token; the plain value is returned here and never again."""
        role = role or account.role
        if _STRENGTH[role] > _STRENGTH[account.role]:
            raise InvalidAccount(
                f"Ein Token kann höchstens die Rolle des Kontos haben ({account.role}).", "role"
            )
        if not 1 <= days <= MAX_DAYS:
            raise InvalidAccount(f"Gültigkeit: 1 bis {MAX_DAYS} Tage.", "days")
        name = name.strip()
        if not 1 <= len(name) <= 80:
            raise InvalidAccount("Der Name hat 1–80 Zeichen.", "name")
        token = PREFIX + secrets.token_urlsafe(32)
        now = self._now()
        async with self._engine().begin() as conn:
            result = await conn.execute(
                insert(api_tokens).values(
                    account_id=account.id,
                    name=name,
                    digest=_digest(token),
                    role=role.value,
                    created_at=now,
                    expires_at=now + timedelta(days=days),
                )
            )
            token_id = int(result.inserted_primary_key[0])
        log.info("API token %s (%s) made for account %s", token_id, role.value, account.username)
        return token, ApiToken(token_id, name, role, now, now + timedelta(days=days), None)

    async def list(self, account_id: int) -> list[ApiToken]:
        query = (
            select(api_tokens)
            .where(api_tokens.c.account_id == account_id)
            .order_by(api_tokens.c.id)
        )
        async with self._engine().connect() as conn:
            return [_token(row) for row in await conn.execute(query)]

    async def revoke(self, account_id: int, token_id: int) -> None:
        async with self._engine().begin() as conn:
            result = await conn.execute(
                delete(api_tokens).where(
                    (api_tokens.c.id == token_id) & (api_tokens.c.account_id == account_id)
                )
            )
        if not result.rowcount:
            raise AccountNotFound(f"no token with id {token_id}")
        log.info("API token %s revoked", token_id)
