"""Signed join tokens: who holds the link of an occurrence may watch it, until it has ended.

A token is ``<occurrence id>.<expiry unix seconds>.<signature>``, the signature an HMAC-SHA256
over both numbers with a secret kept in ``<data>/join-secret`` (mode 0600, created once). The
token carries its own expiry, so checking it needs no database; it is deterministic for a given
occurrence end, so the join URL stays the same each time the API or the calendar feed shows it.
Replacing the secret file revokes every link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
import secrets
from datetime import datetime, timedelta
from pathlib import Path

log = logging.getLogger(__name__)

SECRET_FILE = "join-secret"
_TOKEN = re.compile(r"^(\d{1,12})\.(\d{1,12})\.([A-Za-z0-9_-]{22,64})$")


class JoinTokenError(Exception):
    """The token does not admit its bearer. ``status`` is 401 (not a token of ours) or 403."""

    status = 401
    code = "invalid_token"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class JoinTokenInvalid(JoinTokenError):
    """Missing, malformed or wrongly signed: not a token this service issued."""


class JoinTokenForbidden(JoinTokenError):
    """A genuine token that does not admit now: expired, or for another occurrence."""

    status = 403
    code = "forbidden"


class JoinTokens:
    """Issues and checks join tokens with one secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("join secret too short")
        self._secret = secret

    def _signature(self, occurrence_id: int, expires: int) -> str:
        digest = hmac.new(
            self._secret, f"knoten-join:v1:{occurrence_id}:{expires}".encode(), hashlib.sha256
        ).digest()
        # 128 bits are plenty against forgery and keep the link short.
        return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()

    def issue(self, occurrence_id: int, end_utc: datetime, grace: timedelta) -> str:
        """A token for ``occurrence_id`` valid until ``end_utc + grace``."""
        expires = int((end_utc + grace).timestamp())
        return f"{occurrence_id}.{expires}.{self._signature(occurrence_id, expires)}"

    def verify(self, token: str | None, occurrence_id: int, now: datetime) -> None:
        """Raise :class:`JoinTokenError` unless ``token`` admits to ``occurrence_id`` at ``now``."""
        match = _TOKEN.match(token or "")
        if match is None:
            raise JoinTokenInvalid("missing or malformed join token")
        token_occurrence, expires = int(match[1]), int(match[2])
        expected = self._signature(token_occurrence, expires)
        if not hmac.compare_digest(expected.encode(), match[3].encode()):
            raise JoinTokenInvalid("join token signature is not valid")
        if token_occurrence != occurrence_id:
            raise JoinTokenForbidden("this join link belongs to another date")
        if now.timestamp() > expires:
            raise JoinTokenForbidden("this join link has expired")

    def __repr__(self) -> str:  # never the secret
        return "JoinTokens(<secret>)"


def load_or_create_join_secret(data_dir: Path) -> bytes:
    """The secret from ``<data_dir>/join-secret``, created with mode 0600 on first use."""
    path = data_dir / SECRET_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        value = path.read_text(encoding="utf-8").strip()
        if value:
            return value.encode()
    except FileNotFoundError:
        pass
    value = secrets.token_urlsafe(32)
    # O_EXCL with 0600: never readable by others, and two starting services cannot both write.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip().encode()
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(value + "\n")
    log.info("generated a new join-link secret in %s", path)
    return value.encode()
