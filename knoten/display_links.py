"""Room display links: the signed address the seminar room's PC opens once and keeps open.

``/display/{room_id}?t=<token>``: the token is a :class:`~foundation.signed_tokens.SignedTokens`
token of purpose ``knoten-display:v1`` over the room id, with a secret of its own in
``<data>/display-secret``. It does not expire on its own (the room PC is set up once); deleting
the secret file revokes every display link.
"""

from __future__ import annotations

from pathlib import Path

from foundation.secret_files import load_or_create_secret_bytes
from foundation.signed_tokens import SignedTokenError, SignedTokens

SECRET_FILE = "display-secret"
#: 2100-01-01: the link stays the same however often staff look it up.
NEVER = 4102444800


class DisplayLinks:
    def __init__(self, secret: bytes, public_url: str) -> None:
        self._tokens = SignedTokens(secret, "knoten-display:v1", signature_bytes=16, max_digits=12)
        self._public_url = public_url

    @classmethod
    def from_data_dir(cls, data_dir: Path, public_url: str) -> DisplayLinks:
        secret = load_or_create_secret_bytes(data_dir / SECRET_FILE, what="display secret")
        return cls(secret, public_url)

    def token(self, room_id: int) -> str:
        return self._tokens.issue(room_id, NEVER)

    def url(self, room_id: int) -> str:
        return f"{self._public_url}/display/{room_id}?t={self.token(room_id)}"

    def admits(self, token: str | None, room_id: int, now_unix: float) -> bool:
        try:
            subject, _ = self._tokens.verify(token or "", now_unix)
        except SignedTokenError:
            return False
        return subject == room_id
