"""Partners: the broadcast destinations a seminar is sent to, persisted with SQLAlchemy Core.

A partner is either pushed to (``rtmp`` kind: rtmp:// or rtmps://, ``srt`` kind: srt://) or pulls
HLS from us (``hls`` kind, authenticated by a per-partner random token). The push URL carries the
stream key, so it is a write-only secret: :class:`Partner` keeps it out of its ``repr`` and callers
show :attr:`Partner.masked_url`. The HLS token is shown exactly once (on creation or rotation) and
stored only as a SHA-256 digest.

The repository owns the rules that make a partner valid (kind ↔ URL scheme, no URL for ``hls``),
so every caller — API, CLI, tests — gets the same checks.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from streaming.errors import InvalidMediaUrl, InvalidPartner, PartnerNameTaken, PartnerNotFound
from streaming.ffmpeg.spec import AUDIO_ONLY, PROFILES, VideoProfile
from streaming.ffmpeg.urls import MASK, mask_url, validate_push_url
from streaming.tables import partners

log = logging.getLogger(__name__)

PartnerKind = Literal["rtmp", "srt", "hls"]
PartnerProfile = Literal["1080p", "720p", "480p", "audio"]
PARTNER_KINDS: tuple[str, ...] = get_args(PartnerKind)
PARTNER_PROFILES: tuple[str, ...] = get_args(PartnerProfile)

#: Which URL schemes each push kind accepts; ``hls`` has no URL at all.
KIND_SCHEMES: dict[str, frozenset[str]] = {
    "rtmp": frozenset({"rtmp", "rtmps"}),
    "srt": frozenset({"srt"}),
}
HLS_TOKEN_BYTES = 24


@dataclass(frozen=True)
class Partner:
    id: int
    name: str
    kind: PartnerKind
    # The stream key lives in here: repr=False keeps it out of reprs, tracebacks and log lines.
    url: str | None = field(repr=False)
    profile: PartnerProfile
    enabled: bool
    has_hls_token: bool

    @property
    def masked_url(self) -> str | None:
        """The URL as it may be shown or logged: stream key and query secrets as ``****``."""
        return None if self.url is None else mask_url(self.url)

    def video_profile(self) -> VideoProfile:
        """The encoding quality this partner receives."""
        return AUDIO_ONLY if self.profile == AUDIO_ONLY.name else PROFILES[self.profile]


@dataclass(frozen=True)
class NewPartner:
    """A just-created partner and, for ``hls``, its pull token — the only time it is readable."""

    partner: Partner
    hls_token: str | None = field(default=None, repr=False)


def validate_partner_url(kind: str, url: str | None) -> str | None:
    """Return ``url`` if it fits ``kind``; raise :class:`InvalidMediaUrl`/:class:`InvalidPartner`.

    Errors name the field ``url`` and never repeat the URL (it may hold a stream key).
    """
    if kind not in PARTNER_KINDS:
        raise InvalidPartner("kind", f"kind must be one of {', '.join(PARTNER_KINDS)}")
    if kind == "hls":
        if url is not None:
            raise InvalidPartner("url", "hls partners pull from us and have no url")
        return None
    if url is None:
        raise InvalidPartner("url", f"{kind} partners need a url")
    validate_push_url(url, field="url")
    allowed = KIND_SCHEMES[kind]
    scheme = urlsplit(url).scheme.lower()
    if scheme not in allowed:
        schemes = " or ".join(f"{s}://" for s in sorted(allowed))
        raise InvalidMediaUrl("url", f"a {kind} partner needs a {schemes} URL")
    if kind == "rtmp" and len([part for part in urlsplit(url).path.split("/") if part]) < 2:
        # rtmp://host/app alone publishes to an empty stream name: the server refuses it, or
        # worse, accepts it and nobody can watch it.
        raise InvalidMediaUrl(
            "url",
            "an rtmp partner URL needs the application and the stream key: rtmp://host/app/key",
        )
    if MASK in url:
        # Most likely a masked URL copied from a listing: storing it would lose the real key.
        raise InvalidMediaUrl("url", f"url contains the mask {MASK!r}; send the real stream key")
    return url


def new_hls_token() -> str:
    return secrets.token_urlsafe(HLS_TOKEN_BYTES)


def _digest(token: str) -> str:
    # An unsalted hash is enough: the token is 192 random bits, not a guessable password.
    return hashlib.sha256(token.encode()).hexdigest()


def _partner(row: Any) -> Partner:
    return Partner(
        id=row.id,
        name=row.name,
        kind=row.kind,
        url=row.url,
        profile=row.profile,
        enabled=row.enabled,
        has_hls_token=row.hls_token_sha256 is not None,
    )


class PartnerRepository:
    def __init__(self, engine: Callable[[], AsyncEngine]) -> None:
        # A provider, because the engine exists only once the database component has started.
        self._engine_provider = engine

    @property
    def _engine(self) -> AsyncEngine:
        return self._engine_provider()

    async def list(self) -> list[Partner]:
        async with self._engine.connect() as conn:
            result = await conn.execute(select(partners).order_by(partners.c.id))
            return [_partner(row) for row in result]

    async def get(self, partner_id: int) -> Partner:
        async with self._engine.connect() as conn:
            return await self._get(conn, partner_id)

    async def _get(self, conn: AsyncConnection, partner_id: int) -> Partner:
        row = (await conn.execute(select(partners).where(partners.c.id == partner_id))).first()
        if row is None:
            raise PartnerNotFound(partner_id)
        return _partner(row)

    async def unknown_ids(self, partner_ids: Iterable[int]) -> list[int]:
        """Those of ``partner_ids`` that name no partner, sorted (for seminar validation)."""
        wanted = set(partner_ids)
        if not wanted:
            return []
        async with self._engine.connect() as conn:
            result = await conn.execute(select(partners.c.id).where(partners.c.id.in_(wanted)))
            return sorted(wanted - set(result.scalars()))

    async def create(
        self,
        name: str,
        kind: PartnerKind,
        url: str | None,
        profile: PartnerProfile,
        enabled: bool = True,
    ) -> NewPartner:
        url = validate_partner_url(kind, url)
        self._check_profile(profile)
        token = new_hls_token() if kind == "hls" else None
        now = datetime.now(UTC)
        try:
            async with self._engine.begin() as conn:
                result = await conn.execute(
                    insert(partners).values(
                        name=name,
                        kind=kind,
                        url=url,
                        profile=profile,
                        enabled=enabled,
                        hls_token_sha256=None if token is None else _digest(token),
                        created_at=now,
                        updated_at=now,
                    )
                )
                partner_id = result.inserted_primary_key[0]
        except IntegrityError:
            raise PartnerNameTaken(name) from None
        partner = Partner(
            id=partner_id,
            name=name,
            kind=kind,
            url=url,
            profile=profile,
            enabled=enabled,
            has_hls_token=token is not None,
        )
        log.info(
            "partner %s created: %r, %s to %s, profile %s%s",
            partner.id,
            name,
            kind,
            partner.masked_url or "HLS pull",
            profile,
            "" if enabled else " (disabled)",
        )
        return NewPartner(partner, token)

    async def update(
        self,
        partner_id: int,
        *,
        name: str | None = None,
        kind: str | None = None,
        url: str | None = None,
        profile: str | None = None,
        enabled: bool | None = None,
    ) -> Partner:
        """Change the given fields; ``None`` keeps a field as it is.

        ``url`` replaces the stored URL; sending back the masked form of the current URL (a
        listing round-tripped by a client) keeps it. The kind cannot change: an HLS partner and
        a push partner differ in credentials, so that is a new partner.
        """
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = name
        if profile is not None:
            self._check_profile(profile)
            changes["profile"] = profile
        if enabled is not None:
            changes["enabled"] = enabled
        try:
            async with self._engine.begin() as conn:
                current = await self._get(conn, partner_id)
                if kind is not None and kind != current.kind:
                    raise InvalidPartner(
                        "kind", "the kind of a partner cannot change; create a new partner"
                    )
                if url is not None and url != current.masked_url:
                    changes["url"] = validate_partner_url(current.kind, url)
                if changes:
                    await conn.execute(
                        update(partners)
                        .where(partners.c.id == partner_id)
                        .values(**changes, updated_at=datetime.now(UTC))
                    )
                    updated = await self._get(conn, partner_id)
                else:
                    updated = current
        except IntegrityError:
            raise PartnerNameTaken(changes.get("name", "")) from None
        if changes:
            # Field names only: the values may include the new stream key.
            log.info("partner %s updated: %s", partner_id, ", ".join(sorted(changes)))
        return updated

    async def rotate_hls_token(self, partner_id: int) -> str:
        """Give an ``hls`` partner a new pull token; the old one stops working at once."""
        token = new_hls_token()
        async with self._engine.begin() as conn:
            current = await self._get(conn, partner_id)
            if current.kind != "hls":
                raise InvalidPartner("kind", f"{current.kind} partners have no HLS token")
            await conn.execute(
                update(partners)
                .where(partners.c.id == partner_id)
                .values(hls_token_sha256=_digest(token), updated_at=datetime.now(UTC))
            )
        log.info("partner %s: HLS token rotated", partner_id)
        return token

    async def check_hls_token(self, partner_id: int, token: str) -> bool:
        """Whether ``token`` lets partner ``partner_id`` pull HLS right now.

        False, never an error, for an unknown, non-HLS or disabled partner, so the HLS endpoint
        can answer every refusal alike. Constant-time comparison of the digests.
        """
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(partners.c.kind, partners.c.enabled, partners.c.hls_token_sha256).where(
                        partners.c.id == partner_id
                    )
                )
            ).first()
        if row is None or row.kind != "hls" or not row.enabled or row.hls_token_sha256 is None:
            return False
        return hmac.compare_digest(_digest(token), row.hls_token_sha256)

    async def delete(self, partner_id: int) -> None:
        async with self._engine.begin() as conn:
            await self.delete_on(conn, partner_id)
        log.info("partner %s deleted", partner_id)

    async def delete_on(self, conn: AsyncConnection, partner_id: int) -> None:
        """Delete on the caller's transaction, so references elsewhere go in the same commit.

        Logs nothing: only the caller knows when (and whether) the transaction commits.
        """
        result = await conn.execute(delete(partners).where(partners.c.id == partner_id))
        if result.rowcount == 0:
            raise PartnerNotFound(partner_id)

    @staticmethod
    def _check_profile(profile: str) -> None:
        if profile not in PARTNER_PROFILES:
            raise InvalidPartner("profile", f"profile must be one of {', '.join(PARTNER_PROFILES)}")
