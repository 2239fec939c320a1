"""The admin token: taken from the configuration, or generated once into the data directory."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

log = logging.getLogger(__name__)

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
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        value = path.read_text(encoding="utf-8").strip()
        if value:
            return AdminToken(value, path)
    except FileNotFoundError:
        pass
    value = secrets.token_urlsafe(32)
    # O_EXCL with mode 0600: the token is never readable by others, not even for an instant,
    # and two services starting together cannot both write one.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return AdminToken(path.read_text(encoding="utf-8").strip(), path)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(value + "\n")
    log.info("generated a new admin token in %s", path)
    return AdminToken(value, path)
