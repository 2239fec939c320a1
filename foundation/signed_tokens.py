"""Signed, expiring bearer tokens ``<subject id>.<expires unix>.<signature>`` (join, share links).

Owns the token grammar, the HMAC-SHA256 signature over the subject id and the expiry, its
base64url encoding (no padding) and the constant-time check. A token carries its own expiry, so
checking it needs no database; it is deterministic for a subject and an expiry. Each use has its
own secret and its own *purpose*, which is part of the signed text, so a token of one use is never
accepted by another. The signed text and the signature length are parameters because tokens
already handed out must stay valid byte for byte (see :mod:`knoten.join`, :mod:`recordings.share`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

_TOKEN = re.compile(r"([0-9]+)\.([0-9]+)\.([A-Za-z0-9_-]+)")


class SignedTokenError(Exception):
    """The token does not grant anything."""


class MalformedToken(SignedTokenError):
    """Not of the form ``<digits>.<digits>.<base64url signature of the issued length>``."""


class BadSignature(SignedTokenError):
    """Well-formed, but not signed with this secret for this purpose."""


class TokenExpired(SignedTokenError):
    """Genuine, but its expiry has passed."""


class SignedTokens:
    """Issues and checks the tokens of one purpose with one secret.

    ``signed_text`` is the text the HMAC is computed over, with the fields ``{purpose}``,
    ``{subject}`` and ``{expires}``; ``signature_bytes`` how much of the SHA-256 digest the token
    carries (16 bytes, 128 bits, are plenty against forgery and keep a link short).
    ``max_digits`` bounds each number, ``max_length`` the whole token, before any HMAC is computed.
    """

    def __init__(
        self,
        secret: bytes,
        purpose: str,
        *,
        signed_text: str = "{purpose}:{subject}:{expires}",
        signature_bytes: int = 32,
        min_secret_bytes: int = 32,
        max_digits: int | None = None,
        max_length: int = 200,
    ) -> None:
        if len(secret) < min_secret_bytes:
            raise ValueError(f"the {purpose} secret must have at least {min_secret_bytes} bytes")
        if not 16 <= signature_bytes <= hashlib.sha256().digest_size:
            raise ValueError("signature_bytes must be between 16 and 32")
        self._secret = secret
        self.purpose = purpose
        self._signed_text = signed_text
        self._signature_bytes = signature_bytes
        self._signature_chars = -(-signature_bytes * 4 // 3)  # base64 without padding
        self._max_digits = max_digits
        self._max_length = max_length

    def issue(self, subject_id: int, expires_unix: int) -> str:
        """The token granting ``subject_id`` until ``expires_unix`` (seconds since the epoch)."""
        for value in (subject_id, expires_unix):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"token fields are non-negative integers, got {value!r}")
        return f"{subject_id}.{expires_unix}.{self._signature(subject_id, expires_unix)}"

    def read(self, token: str) -> tuple[int, int]:
        """``(subject_id, expires_unix)`` of a genuine token, expired or not.

        Raises :class:`MalformedToken` or :class:`BadSignature`; for callers that decide about
        expiry themselves.
        """
        match = _TOKEN.fullmatch(token) if len(token) <= self._max_length else None
        if match is None or not self._well_formed(match[1], match[2], match[3]):
            raise MalformedToken("not a signed token")
        subject_id, expires = int(match[1]), int(match[2])
        expected = self._signature(subject_id, expires)
        if not hmac.compare_digest(expected.encode(), match[3].encode()):
            raise BadSignature("the token's signature is not valid")
        return subject_id, expires

    def verify(self, token: str, now_unix: float) -> tuple[int, int]:
        """``(subject_id, expires_unix)`` of a genuine token that is valid before its expiry.

        Raises :class:`MalformedToken`, :class:`BadSignature` or :class:`TokenExpired` (checked
        after the signature: nobody learns anything from the expiry of a forged token).
        """
        subject_id, expires = self.read(token)
        if now_unix >= expires:
            raise TokenExpired("the token has expired")
        return subject_id, expires

    def _well_formed(self, subject: str, expires: str, signature: str) -> bool:
        if len(signature) != self._signature_chars:
            return False
        return self._max_digits is None or max(len(subject), len(expires)) <= self._max_digits

    def _signature(self, subject_id: int, expires: int) -> str:
        text = self._signed_text.format(purpose=self.purpose, subject=subject_id, expires=expires)
        digest = hmac.new(self._secret, text.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[: self._signature_bytes]).rstrip(b"=").decode()

    def __repr__(self) -> str:  # never the secret
        return f"SignedTokens({self.purpose!r}, <secret>)"
