"""Secret files: a value generated once, kept in a file only its owner can read, reused after.

Owns the one way Knoten keeps a generated secret (admin token, join-link secret, share-link
secret): read the file if it exists, otherwise create it with ``O_CREAT | O_EXCL`` and mode 0600,
so the value is never readable by others, not even for an instant, and of two services starting
together only one writes it while the other reads what that one wrote. Values are never logged,
only the path.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

#: How long a reader waits for a file another process has just created but not yet written.
WRITE_WAIT_S = 1.0
_POLL_S = 0.02


def load_or_create_secret(
    path: Path,
    *,
    make: Callable[[], str] = lambda: secrets.token_urlsafe(32),
    what: str = "secret",
) -> str:
    """The text secret in ``path`` (stripped), or a new one from ``make()`` written as one line."""
    raw = _load_or_create(
        path,
        make=lambda: f"{_non_empty(make().strip())}\n".encode(),
        complete=lambda data: bool(data.strip()),
        what=what,
    )
    return raw.decode("utf-8").strip()


def load_or_create_secret_bytes(
    path: Path,
    *,
    make: Callable[[], bytes] = lambda: secrets.token_bytes(32),
    min_length: int = 32,
    what: str = "secret",
) -> bytes:
    """The raw secret in ``path`` (at least ``min_length`` bytes), or a new one from ``make()``."""

    def made() -> bytes:
        value = make()
        if len(value) < min_length:
            raise ValueError(f"a new {what} must have at least {min_length} bytes")
        return value

    return _load_or_create(
        path, make=made, complete=lambda data: len(data) >= min_length, what=what
    )


def _non_empty(value: str) -> str:
    if not value:
        raise ValueError("a new secret must not be empty")
    return value


def _load_or_create(
    path: Path, *, make: Callable[[], bytes], complete: Callable[[bytes], bool], what: str
) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        pass
    else:
        return _complete(path, data, complete)
    value = make()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Another process created it between our read and our open: use its value, not ours.
        return _complete(path, path.read_bytes(), complete)
    with os.fdopen(fd, "wb") as fh:
        fh.write(value)
    log.info("generated a new %s in %s", what, path)
    return value


def _complete(path: Path, data: bytes, complete: Callable[[bytes], bool]) -> bytes:
    """``data``, or the file's content once the process that created it has written it."""
    # O_EXCL makes the file appear empty before its creator writes; wait briefly for the value.
    deadline = time.monotonic() + WRITE_WAIT_S
    while not complete(data):
        if time.monotonic() >= deadline:
            raise ValueError(f"{path} is empty or too short; delete it to have a new one made")
        time.sleep(_POLL_S)
        data = path.read_bytes()
    return data
