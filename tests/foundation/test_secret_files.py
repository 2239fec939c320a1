"""Secret files: created once with mode 0600, reused after, and safe when two services race."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from foundation import secret_files
from foundation.secret_files import load_or_create_secret, load_or_create_secret_bytes


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that would let a carelessly created file be world-readable."""
    old = os.umask(0)
    yield
    os.umask(old)


def test_text_secret_created_0600_and_reused(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "nested" / "admin-token"
    value = load_or_create_secret(path)
    assert len(value) >= 43  # token_urlsafe(32)
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.read_text() == value + "\n"
    assert load_or_create_secret(path) == value


def test_text_secret_written_by_hand_is_used_stripped(tmp_path: Path) -> None:
    path = tmp_path / "admin-token"
    path.write_text("  chosen-by-hand \n")
    assert load_or_create_secret(path) == "chosen-by-hand"


def test_bytes_secret_created_0600_and_reused(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "share-secret"
    value = load_or_create_secret_bytes(path)
    assert len(value) == 32
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.read_bytes() == value
    assert load_or_create_secret_bytes(path) == value


def test_bytes_secret_too_short_is_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(secret_files, "WRITE_WAIT_S", 0.05)
    path = tmp_path / "share-secret"
    path.write_bytes(b"x" * 31)
    with pytest.raises(ValueError, match="too short"):
        load_or_create_secret_bytes(path)
    with pytest.raises(ValueError, match="at least 32 bytes"):
        load_or_create_secret_bytes(tmp_path / "other", make=lambda: b"short")
    assert not (tmp_path / "other").exists()


def test_the_value_written_by_whoever_created_the_file_first_wins(tmp_path: Path) -> None:
    path = tmp_path / "join-secret"

    def make_while_another_service_creates_it() -> str:
        # Runs after our read found nothing and before our O_EXCL open: the other one wins.
        path.write_text("theirs\n")
        return "ours"

    assert load_or_create_secret(path, make=make_while_another_service_creates_it) == "theirs"
    assert path.read_text() == "theirs\n"


def test_a_file_created_but_not_yet_written_is_waited_for(tmp_path: Path) -> None:
    path = tmp_path / "join-secret"
    path.touch(mode=0o600)  # what O_EXCL leaves between the other one's open and its write
    writer = threading.Timer(0.1, path.write_text, args=("late\n",))
    writer.start()
    try:
        assert load_or_create_secret(path) == "late"
    finally:
        writer.join()


def test_an_empty_file_that_stays_empty_is_an_error_not_an_empty_secret(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(secret_files, "WRITE_WAIT_S", 0.05)
    path = tmp_path / "admin-token"
    path.write_text("\n")
    with pytest.raises(ValueError, match="delete it"):
        load_or_create_secret(path)


def test_racing_creators_all_get_the_one_value(tmp_path: Path) -> None:
    path = tmp_path / "join-secret"
    start = threading.Barrier(8)
    results: list[str] = []

    def create() -> None:
        start.wait()
        results.append(load_or_create_secret(path))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(results) == 8
    assert set(results) == {path.read_text().strip()}
    assert path.stat().st_mode & 0o777 == 0o600


def test_the_value_is_never_logged(tmp_path: Path, caplog) -> None:
    caplog.set_level("DEBUG")
    value = load_or_create_secret(tmp_path / "admin-token", what="admin token")
    assert "generated a new admin token" in caplog.text
    assert value not in caplog.text
