"""Signed, expiring share links for one recording (partners and participants, no account).

Owns the secret (``<data>/share-secret``, 32 random bytes, created once with mode 0600) and the
token format ``<recording_id>.<expires_unix>.<mac>``, where mac = HMAC-SHA256 over the first two
fields, base64url. A token names exactly one recording; checking is constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

from recordings.errors import InvalidShareToken, ShareTokenExpired

log = logging.getLogger(__name__)

SECRET_FILE = "share-secret"
MAX_TOKEN_LENGTH = 200


def load_or_create_secret(data_dir: Path) -> bytes:
    path = data_dir / SECRET_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_bytes()
        if len(secret) < 32:
            raise ValueError(f"{path} is shorter than 32 bytes; delete it for a new one") from None
        return secret
    secret = secrets.token_bytes(32)
    with os.fdopen(fd, "wb") as fh:
        fh.write(secret)
    log.info("generated a new share-link secret in %s", path)
    return secret


def _mac(secret: bytes, message: str) -> str:
    digest = hmac.new(secret, message.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class ShareLinks:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("the share secret must have at least 32 bytes")
        self._secret = secret

    def sign(self, recording_id: int, expires_at: int) -> str:
        message = f"{recording_id}.{expires_at}"
        return f"{message}.{_mac(self._secret, message)}"

    def verify(self, token: str, now: float) -> int:
        """The recording id the token grants; InvalidShareToken / ShareTokenExpired otherwise."""
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidShareToken()
        parts = token.split(".")
        if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
            raise InvalidShareToken()
        recording_id, expires_at = int(parts[0]), int(parts[1])
        expected = _mac(self._secret, f"{recording_id}.{expires_at}")
        if not hmac.compare_digest(expected.encode(), parts[2].encode()):
            raise InvalidShareToken()
        # Checked after the MAC: an attacker learns nothing from the expiry of a forged token.
        if now >= expires_at:
            raise ShareTokenExpired()
        if recording_id < 1:
            raise InvalidShareToken()
        return recording_id
