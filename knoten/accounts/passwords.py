"""Password hashing with argon2id (argon2-cffi) and the rules a new password must meet."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 10
MAX_LENGTH = 200

_hasher = PasswordHasher()  # argon2id with the library's RFC 9106 "low memory" defaults
#: Verified when the account does not exist, so the answer takes as long as for a real one.
_DUMMY_HASH = _hasher.hash("knoten-no-such-account")


def password_problem(password: str) -> str | None:
    """A German sentence saying what is wrong with ``password``, or None."""
    if len(password) < MIN_LENGTH:
        return f"Das Passwort braucht mindestens {MIN_LENGTH} Zeichen."
    if len(password) > MAX_LENGTH:
        return f"Das Passwort darf höchstens {MAX_LENGTH} Zeichen haben."
    return None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(encoded: str | None, password: str) -> bool:
    try:
        return _hasher.verify(encoded or _DUMMY_HASH, password) and encoded is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(encoded: str) -> bool:
    return _hasher.check_needs_rehash(encoded)
