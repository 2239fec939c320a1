"""Fixtures choosing the database a test runs on: SQLite, or the session's private PostgreSQL.

Tests and modules marked ``both_databases`` run twice, with the ids ``[sqlite]`` and
``[postgresql]``; every other test runs on SQLite, or on PostgreSQL with
``KNOTEN_TEST_DATABASE=postgresql`` in the environment (a whole-suite run on PostgreSQL). The
cluster is started the first time a test asks for it and stopped at the end of the session.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.postgres import PostgresCluster

BACKENDS = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "both_databases: run the test on SQLite and on a real PostgreSQL"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marked = metafunc.definition.get_closest_marker("both_databases") is not None
    if marked and "database_backend" in metafunc.fixturenames:
        metafunc.parametrize("database_backend", BACKENDS, indirect=True)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def database_backend(request: pytest.FixtureRequest) -> str:
    backend = getattr(request, "param", os.environ.get("KNOTEN_TEST_DATABASE", "sqlite"))
    if backend not in BACKENDS:
        raise ValueError(f"KNOTEN_TEST_DATABASE must be one of {BACKENDS}, not {backend!r}")
    return str(backend)


@pytest.fixture
def database_url(request: pytest.FixtureRequest, database_backend: str, tmp_path: Path) -> str:
    """The URL of an empty Knoten database (newest schema on PostgreSQL; SQLite migrates on
    start) that belongs to this test alone."""
    if database_backend == "postgresql":
        return request.getfixturevalue("postgres_cluster").create_database()
    return f"sqlite+aiosqlite:///{tmp_path / 'data' / 'knoten.db'}"


def database_env(backend: str, url: str) -> dict[str, str]:
    """Environment for ``make_config``/``knoten serve``: SQLite stays the default (no variable)."""
    return {"KNOTEN_DATABASE_URL": url} if backend == "postgresql" else {}
