"""Browser sessions for the dashboard: sign-in with the admin token, sign-out, CSRF protection.

Design (see docs/dashboard.md):

- Signing in with the admin token creates a server-side session: a random 256-bit id in an
  ``HttpOnly; SameSite=Strict; Path=/`` cookie (``Secure`` when the service is reached over
  HTTPS). The store keeps only the SHA-256 of the id, so a memory dump holds no usable cookie.
  Sessions live in memory: a restart signs everybody out, and sign-out really ends the session.
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
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web

from knoten.http.errors import ApiError

log = logging.getLogger(__name__)

COOKIE = "knoten_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: A session ends after this long without a request, and in any case after MAX_AGE.
IDLE_TIMEOUT_S = 12 * 3600
MAX_AGE_S = 7 * 24 * 3600
#: Oldest sessions are dropped beyond this many (only the staff sign in; this is a safety cap).
MAX_SESSIONS = 500


@dataclass
class Session:
    csrf_token: str
    created: float
    last_seen: float


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    """In-memory sessions keyed by the SHA-256 of their id. No tasks: expiry is checked lazily."""

    def __init__(
        self,
        token_provider: Callable[[], str],
        public_url: str,
        *,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._token = token_provider
        self._public_origin = _origin(public_url)
        self._now = now
        self._sessions: dict[str, Session] = {}

    # -- sessions ------------------------------------------------------------------------------

    def token_matches(self, presented: str) -> bool:
        return hmac.compare_digest(presented.strip().encode(), self._token().encode())

    def create(self) -> tuple[str, Session]:
        self._prune()
        session_id = secrets.token_urlsafe(32)
        now = self._now()
        session = Session(csrf_token=secrets.token_urlsafe(32), created=now, last_seen=now)
        self._sessions[_digest(session_id)] = session
        log.info("dashboard session started (%d active)", len(self._sessions))
        return session_id, session

    def get(self, request: web.Request) -> Session | None:
        """The live session of the request's cookie (refreshing its idle timer), or None."""
        session_id = request.cookies.get(COOKIE)
        if not session_id:
            return None
        key = _digest(session_id)
        session = self._sessions.get(key)
        if session is None:
            return None
        now = self._now()
        if now - session.last_seen > IDLE_TIMEOUT_S or now - session.created > MAX_AGE_S:
            del self._sessions[key]
            return None
        session.last_seen = now
        return session

    def end(self, request: web.Request) -> None:
        session_id = request.cookies.get(COOKIE)
        if session_id and self._sessions.pop(_digest(session_id), None) is not None:
            log.info("dashboard session ended (%d active)", len(self._sessions))

    def __len__(self) -> int:
        return len(self._sessions)

    def _prune(self) -> None:
        now = self._now()
        for key, session in list(self._sessions.items()):
            if now - session.last_seen > IDLE_TIMEOUT_S or now - session.created > MAX_AGE_S:
                del self._sessions[key]
        while len(self._sessions) >= MAX_SESSIONS:
            oldest = min(self._sessions, key=lambda k: self._sessions[k].last_seen)
            del self._sessions[oldest]

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

    def api_auth(self, request: web.Request) -> bool:
        """Cookie authentication for ``/api/v1`` (called by the auth middleware without a
        bearer token): True for a valid session; raises 403 for a state-changing request that
        lacks the CSRF header or comes from another origin; False otherwise (→ 401)."""
        unsafe = request.method not in SAFE_METHODS
        if unsafe and not self.same_origin(request):
            raise ApiError(403, "csrf_failed", "cross-site request refused")
        session = self.get(request)
        if session is None:
            return False
        if unsafe and not self.check_csrf(request, session, request.headers.get(CSRF_HEADER)):
            raise ApiError(403, "csrf_failed", f"missing or wrong {CSRF_HEADER} header")
        return True


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


__all__ = ["COOKIE", "CSRF_FIELD", "CSRF_HEADER", "Session", "SessionStore"]
