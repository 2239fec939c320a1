"""The admin token: taken from the configuration, or generated once into the data directory."""

from __future__ import annotations

from pathlib import Path

from foundation.secret_files import load_or_create_secret

TOKEN_FILE = "admin-token"


class AdminToken:
    """Holds the admin token; the value itself is never logged."""

    def __init__(self, value: str, path: Path | None) -> None:
        self._value = value
        self.path = path  # where it is stored, or None when it came from the configuration

    @property
    def value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"AdminToken(path={self.path!s})"


def load_or_create_admin_token(configured: str | None, data_dir: Path) -> AdminToken:
    if configured:
        return AdminToken(configured, None)
    path = data_dir / TOKEN_FILE
    return AdminToken(load_or_create_secret(path, what="admin token"), path)
