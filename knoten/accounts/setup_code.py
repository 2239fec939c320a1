"""The one-time set-up code of a fresh install.

When Knoten starts without any account it makes a random code; ``knoten serve`` prints the
set-up link with it, so only whoever sees the server's console can create the first staff
account, not whoever reaches the network first. The code works once; it lives in memory only
(a restart without an account makes a new one).
"""

from __future__ import annotations

import hmac
import secrets


class SetupCode:
    def __init__(self) -> None:
        self._code: str | None = None

    def arm(self) -> str:
        self._code = secrets.token_urlsafe(18)
        return self._code

    @property
    def code(self) -> str | None:
        return self._code

    def matches(self, presented: str) -> bool:
        code = self._code
        return code is not None and hmac.compare_digest(presented.encode(), code.encode())

    def consume(self, presented: str) -> bool:
        """True once for the right code; the code is gone afterwards."""
        if not self.matches(presented):
            return False
        self._code = None
        return True

    def disarm(self) -> None:
        self._code = None
