"""Providers (Bildungsträger) and which provider owns which seminar.

The default provider ("Bibliothek", made by migration 0008) owns every seminar without an owner
row, so seminars created before accounts existed, or by staff without naming a provider, are
the library's own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from knoten.accounts.errors import (
    InvalidAccount,
    ProviderInUse,
    ProviderNameTaken,
    ProviderNotFound,
)
from knoten.accounts.tables import accounts, providers, seminar_owners
from schedules.tables import seminars

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Provider:
    id: int
    name: str
    contact: str
    is_default: bool
    direct_booking: bool = False


def _provider(row: object) -> Provider:
    return Provider(
        row.id,  # type: ignore[attr-defined]
        row.name,  # type: ignore[attr-defined]
        row.contact,  # type: ignore[attr-defined]
        bool(row.is_default),  # type: ignore[attr-defined]
        bool(row.direct_booking),  # type: ignore[attr-defined]
    )


def _check_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= 120:
        raise InvalidAccount("Der Name hat 1–120 Zeichen.", "name")
    return name


class ProviderStore:
    def __init__(self, engine: Callable[[], AsyncEngine]) -> None:
        self._engine = engine

    async def list(self) -> list[Provider]:
        async with self._engine().connect() as conn:
            rows = await conn.execute(select(providers).order_by(providers.c.name))
            return [_provider(row) for row in rows]

    async def get(self, provider_id: int) -> Provider:
        async with self._engine().connect() as conn:
            row = (
                await conn.execute(select(providers).where(providers.c.id == provider_id))
            ).first()
        if row is None:
            raise ProviderNotFound(f"no provider with id {provider_id}")
        return _provider(row)

    async def find(self, name: str) -> Provider | None:
        async with self._engine().connect() as conn:
            row = (
                await conn.execute(select(providers).where(providers.c.name == name.strip()))
            ).first()
        return _provider(row) if row is not None else None

    async def default_id(self) -> int:
        async with self._engine().connect() as conn:
            query = select(func.min(providers.c.id)).where(providers.c.is_default.is_(True))
            return int((await conn.execute(query)).scalar_one())

    async def create(
        self, name: str, contact: str = "", *, direct_booking: bool = False
    ) -> Provider:
        values = {
            "name": _check_name(name),
            "contact": contact.strip(),
            "is_default": False,
            "direct_booking": direct_booking,
            "created_at": datetime.now(UTC),
        }
        try:
            async with self._engine().begin() as conn:
                result = await conn.execute(insert(providers).values(**values))
        except IntegrityError as exc:
            raise ProviderNameTaken(f"Den Bildungsträger '{values['name']}' gibt es schon.",
                                    "name") from exc  # fmt: skip
        provider_id = int(result.inserted_primary_key[0])
        log.info("provider %s created (id %s)", values["name"], provider_id)
        return await self.get(provider_id)

    async def update(self, provider_id: int, **changes: str | bool) -> Provider:
        await self.get(provider_id)
        values: dict[str, str | bool] = {}
        if "direct_booking" in changes:
            values["direct_booking"] = bool(changes["direct_booking"])
        if "name" in changes:
            values["name"] = _check_name(str(changes["name"]))
        if "contact" in changes:
            values["contact"] = str(changes["contact"]).strip()
        if values:
            try:
                async with self._engine().begin() as conn:
                    await conn.execute(
                        update(providers).where(providers.c.id == provider_id).values(**values)
                    )
            except IntegrityError as exc:
                raise ProviderNameTaken("Diesen Namen hat schon ein Bildungsträger.",
                                        "name") from exc  # fmt: skip
        return await self.get(provider_id)

    async def delete(self, provider_id: int) -> None:
        provider = await self.get(provider_id)
        if provider.is_default:
            raise ProviderInUse("Der Bildungsträger der Bibliothek bleibt.")
        async with self._engine().begin() as conn:
            used = (
                await conn.execute(
                    select(func.count())
                    .select_from(seminar_owners)
                    .where(seminar_owners.c.provider_id == provider_id)
                )
            ).scalar_one() + (
                await conn.execute(
                    select(func.count())
                    .select_from(accounts)
                    .where(accounts.c.provider_id == provider_id)
                )
            ).scalar_one()
            if used:
                raise ProviderInUse(
                    "Dieser Bildungsträger hat noch Seminare oder Konten: erst diese löschen "
                    "oder umhängen."
                )
            await conn.execute(delete(providers).where(providers.c.id == provider_id))
        log.info("provider %s deleted", provider_id)

    # -- seminar ownership ----------------------------------------------------------------------

    async def set_owner(self, seminar_id: int, provider_id: int) -> None:
        await self.get(provider_id)
        async with self._engine().begin() as conn:
            await conn.execute(
                delete(seminar_owners).where(seminar_owners.c.seminar_id == seminar_id)
            )
            await conn.execute(
                insert(seminar_owners).values(seminar_id=seminar_id, provider_id=provider_id)
            )

    async def owners(self) -> dict[int, int]:
        """Every seminar's provider id (the default provider's for seminars without a row)."""
        default = await self.default_id()
        query = select(seminars.c.id, seminar_owners.c.provider_id).select_from(
            seminars.outerjoin(seminar_owners, seminar_owners.c.seminar_id == seminars.c.id)
        )
        async with self._engine().connect() as conn:
            return {row.id: row.provider_id or default for row in await conn.execute(query)}

    async def owner_of(self, seminar_id: int) -> int | None:
        """The seminar's provider id; None when the seminar does not exist."""
        default = await self.default_id()
        query = (
            select(seminars.c.id, seminar_owners.c.provider_id)
            .select_from(
                seminars.outerjoin(seminar_owners, seminar_owners.c.seminar_id == seminars.c.id)
            )
            .where(seminars.c.id == seminar_id)
        )
        async with self._engine().connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return row.provider_id or default

    async def seminar_ids(self, provider_id: int) -> set[int]:
        return {sid for sid, owner in (await self.owners()).items() if owner == provider_id}
