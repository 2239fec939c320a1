"""Signed, expiring share links for one recording (partners and participants, no account).

Owns the secret (``<data>/share-secret``, 32 random bytes, created once with mode 0600) and the
token format ``<recording_id>.<expires_unix>.<mac>``, where mac = HMAC-SHA256 over the first two
fields, base64url. A token names exactly one recording; checking is constant-time. The mechanics
are :mod:`foundation.signed_tokens` and :mod:`foundation.secret_files`.
"""

from __future__ import annotations

from pathlib import Path

from foundation.secret_files import load_or_create_secret_bytes
from foundation.signed_tokens import SignedTokenError, SignedTokens, TokenExpired
from recordings.errors import InvalidShareToken, ShareTokenExpired

SECRET_FILE = "share-secret"
MAX_TOKEN_LENGTH = 200


def load_or_create_secret(data_dir: Path) -> bytes:
    return load_or_create_secret_bytes(data_dir / SECRET_FILE, what="share-link secret")


class ShareLinks:
    def __init__(self, secret: bytes) -> None:
        # The signed text "<id>.<expires>" and the full 32-byte MAC are those of the links already
        # mailed out; share links predate the purpose field, their own secret keeps them apart.
        self._tokens = SignedTokens(
            secret, "share", signed_text="{subject}.{expires}", max_length=MAX_TOKEN_LENGTH
        )

    def sign(self, recording_id: int, expires_at: int) -> str:
        return self._tokens.issue(recording_id, expires_at)

    def verify(self, token: str, now: float) -> int:
        """The recording id the token grants; InvalidShareToken / ShareTokenExpired otherwise."""
        try:
            recording_id, _expires = self._tokens.verify(token, now)
        except TokenExpired:
            raise ShareTokenExpired() from None
        except SignedTokenError:
            raise InvalidShareToken() from None
        if recording_id < 1:
            raise InvalidShareToken()
        return recording_id

    def __repr__(self) -> str:  # never the secret
        return "ShareLinks(<secret>)"
