"""Join tokens and the admin token: formats kept byte for byte, statuses the pages rely on."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from knoten.join import (
    JoinTokenError,
    JoinTokenForbidden,
    JoinTokenInvalid,
    JoinTokens,
    load_or_create_join_secret,
)
from knoten.security import load_or_create_admin_token

SECRET = b"join-secret-for-tests-0123456789"
END = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def _old_token(secret: bytes, occurrence_id: int, expires: int) -> str:
    """The original formula: HMAC-SHA256 over "knoten-join:v1:<id>:<exp>", 16 bytes, base64url."""
    message = f"knoten-join:v1:{occurrence_id}:{expires}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    signature = base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()
    return f"{occurrence_id}.{expires}.{signature}"


def test_join_links_issued_before_the_shared_token_helper_still_admit():
    """Regression: moving JoinTokens onto foundation.signed_tokens must not revoke sent links."""
    tokens = JoinTokens(SECRET)
    expires = int((END + timedelta(minutes=30)).timestamp())
    old = _old_token(SECRET, 7, expires)
    assert tokens.issue(7, END, timedelta(minutes=30)) == old
    tokens.verify(old, 7, END)
    # Valid up to and including its expiry second.
    tokens.verify(old, 7, datetime.fromtimestamp(expires, UTC))


@pytest.mark.parametrize(
    ("token", "occurrence", "now_offset_s", "error", "status", "message"),
    [
        (None, 7, 0, JoinTokenInvalid, 401, "missing or malformed join token"),
        ("7.123." + "A" * 22, 7, 0, JoinTokenInvalid, 401, "join token signature is not valid"),
        ("7.123.abc", 7, 0, JoinTokenInvalid, 401, "missing or malformed join token"),
        ("x.y.z", 7, 0, JoinTokenInvalid, 401, "missing or malformed join token"),
        ("good", 8, 0, JoinTokenForbidden, 403, "this join link belongs to another date"),
        ("good", 7, 1, JoinTokenForbidden, 403, "this join link has expired"),
    ],
)
def test_join_token_errors(token, occurrence, now_offset_s, error, status, message):
    tokens = JoinTokens(SECRET)
    expires = int(END.timestamp())
    if token == "good":
        token = _old_token(SECRET, 7, expires)
    now = datetime.fromtimestamp(expires + now_offset_s, UTC)
    with pytest.raises(error) as caught:
        tokens.verify(token, occurrence, now)
    assert isinstance(caught.value, JoinTokenError)
    assert (caught.value.status, caught.value.message) == (status, message)
    assert caught.value.code == ("invalid_token" if status == 401 else "forbidden")


def test_join_secret_file(tmp_path):
    secret = load_or_create_join_secret(tmp_path)
    assert (tmp_path / "join-secret").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "join-secret").read_text() == secret.decode() + "\n"
    assert load_or_create_join_secret(tmp_path) == secret
    JoinTokens(secret)  # long enough
    assert "join-secret-for-tests" not in repr(JoinTokens(SECRET))


def test_admin_token(tmp_path):
    assert load_or_create_admin_token("configured", tmp_path).path is None
    assert not (tmp_path / "admin-token").exists()
    token = load_or_create_admin_token(None, tmp_path)
    assert token.path == tmp_path / "admin-token"
    assert (tmp_path / "admin-token").stat().st_mode & 0o777 == 0o600
    assert load_or_create_admin_token(None, tmp_path).value == token.value
    assert token.value not in repr(token)
