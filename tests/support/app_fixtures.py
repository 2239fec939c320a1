"""Fixtures that run the real Knoten app: in-process on a loopback port, or as a `knoten serve`
process for lifecycle tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from knoten.app import build_app
from knoten.config import Config, load_config
from tests.support.database_fixtures import database_env
from tests.support.ports import free_tcp_port

TEST_TOKEN = "test-admin-token-0123456789"
#: Tests book dates weeks or months ahead and start them at once; the guard against starting
#: a date hours early (default 60 min) is lifted here and tested where it is set explicitly.
NO_EARLY_START_LIMIT = {"KNOTEN_EARLY_START_MINUTES": str(10 * 366 * 24 * 60)}
#: Saving a room probes its camera address; rooms in tests (and the fuzzer's) name hosts that
#: are not on loopback, so the probe is off unless a test turns it on.
NO_CAMERA_CHECK = {"KNOTEN_CHECK_CAMERA_ON_SAVE": "false"}


@dataclass
class RunningApp:
    app: web.Application
    base_url: str
    token: str
    config: Config

    def url(self, path: str) -> str:
        return self.base_url + path


def make_config(data_dir: Path, port: int, **env: str) -> Config:
    return load_config(
        env={
            "KNOTEN_DATA_DIR": str(data_dir),
            "KNOTEN_HOST": "127.0.0.1",
            "KNOTEN_PORT": str(port),
            "KNOTEN_ADMIN_TOKEN": TEST_TOKEN,
            "KNOTEN_LOG_LEVEL": "DEBUG",
            **NO_EARLY_START_LIMIT,
            **NO_CAMERA_CHECK,
            **env,
        }
    )


@pytest.fixture
def app_config(tmp_path: Path, database_backend: str, database_url: str) -> Config:
    """SQLite in ``tmp_path``, or a PostgreSQL database of its own (see database_fixtures)."""
    env = database_env(database_backend, database_url)
    return make_config(tmp_path / "data", free_tcp_port(), **env)


@contextlib.asynccontextmanager
async def serve(config: Config, **components: Any) -> AsyncIterator[RunningApp]:
    """Serve ``build_app(config, **components)`` on its loopback port until the block ends."""
    runner = web.AppRunner(build_app(config, **components), shutdown_timeout=2)
    await runner.setup()
    site = web.TCPSite(runner, config.server.host, config.server.port)
    await site.start()
    try:
        yield RunningApp(
            app=runner.app,
            base_url=config.public_url,
            token=config.security.admin_token or TEST_TOKEN,
            config=config,
        )
    finally:
        await runner.cleanup()


@pytest.fixture
async def knoten_app(app_config: Config) -> AsyncIterator[RunningApp]:
    """The real app from ``build_app`` served on a free loopback port."""
    async with serve(app_config) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain client session without credentials."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


def admin_session(app: RunningApp, timeout: float = 30) -> aiohttp.ClientSession:
    """A client session that talks to ``app``'s API with the admin token."""
    return aiohttp.ClientSession(
        base_url=app.base_url,
        headers={"Authorization": f"Bearer {app.token}"},
        timeout=aiohttp.ClientTimeout(total=timeout),
    )


@pytest.fixture
async def api(knoten_app: RunningApp) -> AsyncIterator[aiohttp.ClientSession]:
    """A client session that talks to the API with the admin token."""
    async with admin_session(knoten_app) as session:
        yield session


@dataclass
class ServiceProcess:
    process: subprocess.Popen[str]
    base_url: str
    data_dir: Path
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_service(data_dir: Path, port: int, log_path: Path, **env: str) -> ServiceProcess:
    environment = {
        **os.environ,
        "KNOTEN_DATA_DIR": str(data_dir),
        "KNOTEN_HOST": "127.0.0.1",
        "KNOTEN_PORT": str(port),
        "KNOTEN_LOG_LEVEL": "DEBUG",
        "PYTHONUNBUFFERED": "1",
        **NO_EARLY_START_LIMIT,
        **NO_CAMERA_CHECK,
        **env,
    }
    log_file = log_path.open("a")
    process = subprocess.Popen(
        [sys.executable, "-m", "knoten.cli", "serve"],
        env=environment,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    log_file.close()
    return ServiceProcess(process, f"http://127.0.0.1:{port}", data_dir, log_path)


async def wait_healthy(service: ServiceProcess, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            if service.process.poll() is not None:
                raise AssertionError(f"service exited early:\n{service.log()}")
            try:
                async with session.get(service.base_url + "/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"service not healthy in {timeout} s:\n{service.log()}")
            await asyncio.sleep(0.2)


@pytest.fixture
def service_factory(tmp_path: Path) -> Iterator:
    """Starts `knoten serve` processes; any still running at teardown are killed."""
    started: list[ServiceProcess] = []

    def factory(data_dir: Path | None = None, port: int | None = None, **env: str):
        service = start_service(
            data_dir or tmp_path / "data",
            port or free_tcp_port(),
            tmp_path / f"service-{len(started)}.log",
            **env,
        )
        started.append(service)
        return service

    yield factory
    for service in started:
        if service.process.poll() is None:
            service.process.send_signal(signal.SIGKILL)
            service.process.wait(timeout=10)
