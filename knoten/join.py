"""Signed join tokens: who holds the link of an occurrence may watch it, until it has ended.

A token is ``<occurrence id>.<expiry unix seconds>.<signature>``, the signature an HMAC-SHA256
over both numbers with a secret kept in ``<data>/join-secret`` (mode 0600, created once). The
token carries its own expiry, so checking it needs no database; it is deterministic for a given
occurrence end, so the join URL stays the same each time the API or the calendar feed shows it.
Replacing the secret file revokes every link.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from foundation.secret_files import load_or_create_secret
from foundation.signed_tokens import MalformedToken, SignedTokenError, SignedTokens

SECRET_FILE = "join-secret"


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
        # The signed text and the 16-byte signature are those of the first links handed out:
        # changing either would revoke every join link in circulation.
        self._tokens = SignedTokens(
            secret,
            "knoten-join:v1",
            signed_text="{purpose}:{subject}:{expires}",
            signature_bytes=16,
            min_secret_bytes=16,
            max_digits=12,
        )

    def issue(self, occurrence_id: int, end_utc: datetime, grace: timedelta) -> str:
        """A token for ``occurrence_id`` valid until ``end_utc + grace``."""
        return self._tokens.issue(occurrence_id, int((end_utc + grace).timestamp()))

    def verify(self, token: str | None, occurrence_id: int, now: datetime) -> None:
        """Raise :class:`JoinTokenError` unless ``token`` admits to ``occurrence_id`` at ``now``."""
        try:
            token_occurrence, expires = self._tokens.read(token or "")
        except MalformedToken:
            raise JoinTokenInvalid("missing or malformed join token") from None
        except SignedTokenError:
            raise JoinTokenInvalid("join token signature is not valid") from None
        if token_occurrence != occurrence_id:
            raise JoinTokenForbidden("this join link belongs to another date")
        # Valid up to and including its expiry second.
        if now.timestamp() > expires:
            raise JoinTokenForbidden("this join link has expired")

    def __repr__(self) -> str:  # never the secret
        return "JoinTokens(<secret>)"


def load_or_create_join_secret(data_dir: Path) -> bytes:
    """The secret from ``<data_dir>/join-secret``, created with mode 0600 on first use."""
    return load_or_create_secret(data_dir / SECRET_FILE, what="join-link secret").encode()
