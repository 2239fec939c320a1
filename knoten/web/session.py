"""Browser sessions for the dashboard: stored in the database, cookie plus CSRF protection.

Design (see docs/dashboard.md and docs/accounts.md):

- Signing in with a user name and password creates a session: a random 256-bit id in an
  ``HttpOnly; SameSite=Strict; Path=/`` cookie (``Secure`` when the service is reached over
  HTTPS). The database keeps only the SHA-256 of the id, so a copy of it holds no usable
  cookie. Sessions survive a restart of the service; sign-out, a password reset and expiry
  really end them.
- Every session has its own random CSRF token (synchronizer token). Pages carry it in a
  ``<meta name="csrf-token">`` and in hidden form fields; ``fetch`` sends it as ``X-CSRF-Token``.
- Every state-changing request made with the cookie needs that token *and* must not come from
  another origin (``Origin`` / ``Sec-Fetch-Site``). ``SameSite=Strict`` already keeps the cookie
  off cross-site requests; the token and the origin check also cover same-site, cross-origin
  pages (another port on the same host) and old browsers.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from knoten.accounts.principal import Principal, Role
from knoten.accounts.tables import accounts, web_sessions
from knoten.http.errors import ApiError

log = logging.getLogger(__name__)

COOKIE = "knoten_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: A session ends after this long without a request, and in any case after MAX_AGE.
IDLE_TIMEOUT = timedelta(hours=12)
MAX_AGE = timedelta(days=7)
#: ``last_seen`` is written at most this often (not on every request of a busy page).
TOUCH_EVERY = timedelta(minutes=1)
#: Oldest sessions of an account are dropped beyond this many (a safety cap).
MAX_SESSIONS_PER_ACCOUNT = 20


@dataclass(frozen=True)
class Session:
    csrf_token: str
    principal: Principal
    display_name: str
    created: datetime
    last_seen: datetime


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    """Sessions keyed by the SHA-256 of their id, in the database. No tasks: expired sessions
    are removed when they are met and whenever a new one starts."""

    def __init__(
        self,
        engine: Callable[[], AsyncEngine],
        public_url: str,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._engine = engine
        self._public_origin = _origin(public_url)
        self._now = now

    # -- sessions ------------------------------------------------------------------------------

    async def create(self, account_id: int) -> str:
        """A new session for the account; returns the cookie value."""
        session_id = secrets.token_urlsafe(32)
        now = self._now()
        async with self._engine().begin() as conn:
            await conn.execute(
                delete(web_sessions).where(
                    (web_sessions.c.last_seen < now - IDLE_TIMEOUT)
                    | (web_sessions.c.created_at < now - MAX_AGE)
                )
            )
            keep = (
                select(web_sessions.c.digest)
                .where(web_sessions.c.account_id == account_id)
                .order_by(web_sessions.c.last_seen.desc())
                .limit(MAX_SESSIONS_PER_ACCOUNT - 1)
            )
            await conn.execute(
                delete(web_sessions).where(
                    (web_sessions.c.account_id == account_id)
                    & web_sessions.c.digest.not_in(keep.scalar_subquery())
                )
            )
            await conn.execute(
                insert(web_sessions).values(
                    digest=_digest(session_id),
                    account_id=account_id,
                    csrf_token=secrets.token_urlsafe(32),
                    created_at=now,
                    last_seen=now,
                )
            )
        log.info("dashboard session started for account %s", account_id)
        return session_id

    async def get(self, request: web.Request) -> Session | None:
        """The live session of the request's cookie (refreshing its idle timer), or None."""
        session_id = request.cookies.get(COOKIE)
        if not session_id or len(session_id) > 100:
            return None
        key = _digest(session_id)
        query = (
            select(web_sessions, accounts)
            .join(accounts, accounts.c.id == web_sessions.c.account_id)
            .where(web_sessions.c.digest == key)
        )
        async with self._engine().connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        now = self._now()
        if now - row.last_seen > IDLE_TIMEOUT or now - row.created_at > MAX_AGE:
            async with self._engine().begin() as conn:
                await conn.execute(delete(web_sessions).where(web_sessions.c.digest == key))
            return None
        if now - row.last_seen > TOUCH_EVERY:
            async with self._engine().begin() as conn:
                await conn.execute(
                    update(web_sessions).where(web_sessions.c.digest == key).values(last_seen=now)
                )
        principal = Principal(
            Role(row.role), row.account_id, row.username, row.provider_id, row.partner_id
        )
        return Session(row.csrf_token, principal, row.display_name, row.created_at, now)

    async def end(self, request: web.Request) -> None:
        session_id = request.cookies.get(COOKIE)
        if not session_id:
            return
        async with self._engine().begin() as conn:
            result = await conn.execute(
                delete(web_sessions).where(web_sessions.c.digest == _digest(session_id))
            )
        if result.rowcount:
            log.info("dashboard session ended")

    async def count(self) -> int:
        async with self._engine().connect() as conn:
            query = select(func.count()).select_from(web_sessions)
            return int((await conn.execute(query)).scalar_one())

    # -- cookies -------------------------------------------------------------------------------

    def is_https(self, request: web.Request) -> bool:
        return request.secure or self._public_origin.startswith("https://")

    def set_cookie(
        self, request: web.Request, response: web.StreamResponse, session_id: str
    ) -> None:
        # No Max-Age: a session cookie, gone when the browser closes (shared library PCs).
        response.set_cookie(
            COOKIE,
            session_id,
            path="/",
            httponly=True,
            samesite="Strict",
            secure=self.is_https(request),
        )

    def clear_cookie(self, request: web.Request, response: web.StreamResponse) -> None:
        response.del_cookie(
            COOKIE, path="/", httponly=True, samesite="Strict", secure=self.is_https(request)
        )

    # -- CSRF ----------------------------------------------------------------------------------

    def same_origin(self, request: web.Request) -> bool:
        """False when the browser says the request comes from another origin.

        Requests without ``Origin`` and ``Sec-Fetch-Site`` (curl, scripts) pass this check; for
        them the CSRF token alone decides.
        """
        fetch_site = request.headers.get("Sec-Fetch-Site")
        if fetch_site is not None and fetch_site not in ("same-origin", "none"):
            return False
        origin = request.headers.get("Origin")
        if origin is None:
            return True
        return origin in {self._public_origin, f"{request.scheme}://{request.host}"}

    def check_csrf(self, request: web.Request, session: Session, presented: str | None) -> bool:
        if not self.same_origin(request):
            return False
        if not presented:
            return False
        return hmac.compare_digest(presented.encode(), session.csrf_token.encode())

    async def api_auth(self, request: web.Request) -> Principal | None:
        """Cookie authentication for ``/api/v1`` (called by the auth middleware without a
        bearer token): the session's principal; raises 403 for a state-changing request that
        lacks the CSRF header or comes from another origin; None otherwise (→ 401)."""
        unsafe = request.method not in SAFE_METHODS
        if unsafe and not self.same_origin(request):
            raise ApiError(403, "csrf_failed", "cross-site request refused")
        session = await self.get(request)
        if session is None:
            return None
        if unsafe and not self.check_csrf(request, session, request.headers.get(CSRF_HEADER)):
            raise ApiError(403, "csrf_failed", f"missing or wrong {CSRF_HEADER} header")
        return session.principal


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


__all__ = ["COOKIE", "CSRF_FIELD", "CSRF_HEADER", "Session", "SessionStore"]
