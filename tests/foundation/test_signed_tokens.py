"""Signed tokens: round trip, tampering, expiry, purpose and the grammar checked before the MAC."""

from __future__ import annotations

import pytest

from foundation.signed_tokens import (
    BadSignature,
    MalformedToken,
    SignedTokenError,
    SignedTokens,
    TokenExpired,
)

SECRET = b"s" * 32


def test_round_trip() -> None:
    tokens = SignedTokens(SECRET, "test")
    token = tokens.issue(42, 1_700_000_000)
    assert token.startswith("42.1700000000.")
    assert len(token.rsplit(".", 1)[1]) == 43  # 32 bytes, base64url without padding
    assert tokens.verify(token, 1_699_999_999.5) == (42, 1_700_000_000)
    assert tokens.read(token) == (42, 1_700_000_000)
    assert tokens.issue(42, 1_700_000_000) == token  # deterministic


def test_expiry_is_exclusive_and_checked_after_the_signature() -> None:
    tokens = SignedTokens(SECRET, "test")
    token = tokens.issue(1, 1000)
    with pytest.raises(TokenExpired):
        tokens.verify(token, 1000)
    assert tokens.read(token) == (1, 1000)  # read() leaves expiry to the caller
    forged = f"1.1000.{'A' * 43}"
    with pytest.raises(BadSignature):
        tokens.verify(forged, 5000)


def test_tampering_is_a_bad_signature() -> None:
    tokens = SignedTokens(SECRET, "test")
    subject, expires, signature = tokens.issue(5, 1000).split(".")
    flipped = ("B" if signature[0] == "A" else "A") + signature[1:]
    for bad in (f"6.{expires}.{signature}", f"{subject}.2000.{signature}",
                f"{subject}.{expires}.{flipped}"):  # fmt: skip
        with pytest.raises(BadSignature):
            tokens.verify(bad, 0)
    # A signature of another length than the issued one is not even looked at.
    for bad in (f"{subject}.{expires}.{signature}x", f"{subject}.{expires}.{signature[:-1]}"):
        with pytest.raises(MalformedToken):
            tokens.verify(bad, 0)


def test_another_purpose_or_secret_does_not_verify() -> None:
    token = SignedTokens(SECRET, "join").issue(5, 1000)
    with pytest.raises(BadSignature):
        SignedTokens(SECRET, "share").verify(token, 0)
    with pytest.raises(BadSignature):
        SignedTokens(b"t" * 32, "join").verify(token, 0)


@pytest.mark.parametrize(
    "token",
    ["", "1.2", "1.2.3.4", "a.b.c", "-1.2.abc", "1.2.a=b", "1.2.abc\n", "\u0661.2.abc",
     "1.2." + "a" * 200, " 1.2.abc"],
)  # fmt: skip
def test_malformed(token: str) -> None:
    with pytest.raises(MalformedToken):
        SignedTokens(SECRET, "test").verify(token, 0)


def test_digit_and_length_bounds() -> None:
    tokens = SignedTokens(SECRET, "test", max_digits=3, max_length=60)
    with pytest.raises(MalformedToken):
        tokens.verify(tokens.issue(1000, 1), 0)
    with pytest.raises(MalformedToken):
        tokens.verify(f"{tokens.issue(1, 1)}{'a' * 20}", 0)


def test_errors_share_one_base() -> None:
    assert issubclass(MalformedToken, SignedTokenError)
    assert issubclass(BadSignature, SignedTokenError)
    assert issubclass(TokenExpired, SignedTokenError)


def test_short_signature_and_custom_signed_text() -> None:
    tokens = SignedTokens(SECRET, "p", signed_text="{subject}/{expires}", signature_bytes=16)
    token = tokens.issue(3, 4)
    assert len(token.rsplit(".", 1)[1]) == 22
    assert tokens.verify(token, 0) == (3, 4)


def test_construction_and_issue_are_checked() -> None:
    with pytest.raises(ValueError):
        SignedTokens(b"short", "test")
    with pytest.raises(ValueError):
        SignedTokens(SECRET, "test", signature_bytes=8)
    tokens = SignedTokens(SECRET, "test")
    for subject, expires in ((-1, 10), (1, -10), (True, 10), (1, 10.5)):
        with pytest.raises(ValueError):
            tokens.issue(subject, expires)  # type: ignore[arg-type]


def test_repr_hides_the_secret() -> None:
    assert "s" * 32 not in repr(SignedTokens(SECRET, "test"))
