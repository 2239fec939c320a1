"""Graceful lifecycle: signals stop the service in time with every child reaped, a second start
on the same data directory works, and closing the app leaves no FFmpeg process behind."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import generate_latest

from knoten.app import build_app
from knoten.keys import FFMPEG_PROCESSES, METRICS_REGISTRY
from streaming.ffmpeg.spec import PROFILES, FfmpegSpec, Output, TestPattern, build_argv
from streaming.ffmpeg.supervisor import FfmpegSupervisor, ProcessState
from tests.support.app_fixtures import make_config, wait_healthy
from tests.support.ports import free_tcp_port
from tests.support.processes import children_of

pytestmark = pytest.mark.slow


async def _wait_exit(process, timeout: float) -> float:
    started = time.monotonic()
    while process.poll() is None:
        if time.monotonic() - started > timeout:
            raise AssertionError(f"service still running {timeout} s after the signal")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_signal_stops_service_and_restart_resumes(
    service_factory, tmp_path: Path, sig: signal.Signals
) -> None:
    data_dir = tmp_path / "data"
    first = service_factory(data_dir=data_dir)
    await wait_healthy(first)
    token = (data_dir / "admin-token").read_text().strip()
    assert (data_dir / "admin-token").stat().st_mode & 0o777 == 0o600
    assert token not in first.log(), "the admin token must never be logged"
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.post(first.base_url + "/api/v1/rooms", json={"name": "Werkstatt"}) as response,
    ):
        assert response.status == 201

    first.process.send_signal(sig)
    took = await _wait_exit(first.process, timeout=10)
    assert first.process.returncode == 0, first.log()
    assert took < 10
    assert "Knoten läuft / is running on http://127.0.0.1:" in first.log()

    second = service_factory(data_dir=data_dir)
    await wait_healthy(second)
    assert (data_dir / "admin-token").read_text().strip() == token
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.get(second.base_url + "/api/v1/rooms") as response,
    ):
        names = [room["name"] for room in await response.json()]
    assert names == ["Seminarraum", "Werkstatt"]
    second.process.send_signal(signal.SIGTERM)
    await _wait_exit(second.process, timeout=10)
    assert children_of(second.process.pid) == []


def test_bad_configuration_stops_with_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "knoten.cli", "serve", "--data-dir", str(tmp_path)],
        env={"KNOTEN_PORT": "eighty", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "knoten: configuration error: server.port (KNOTEN_PORT): "
        "Input should be a valid integer, unable to parse string as an integer"
    ]


async def test_closing_the_app_reaps_every_ffmpeg(tmp_path: Path) -> None:
    config = make_config(tmp_path / "data", free_tcp_port())
    runner = web.AppRunner(build_app(config))
    await runner.setup()
    processes = runner.app[FFMPEG_PROCESSES]
    pids = []
    try:
        for index in range(2):
            spec = FfmpegSpec(
                name=f"pattern-{index}",
                input=TestPattern(width=320, height=240, fps=15),
                profile=PROFILES["480p"],
                outputs=(Output(tmp_path / f"out-{index}.ts", "mpegts"),),
            )
            supervisor = FfmpegSupervisor(spec.name, build_argv(spec))
            await processes.start(supervisor)
            await supervisor.wait_state(ProcessState.RUNNING, timeout=15)
            assert supervisor.pid is not None
            pids.append(supervisor.pid)
        assert all(Path(f"/proc/{pid}").exists() for pid in pids)
        exposition = generate_latest(runner.app[METRICS_REGISTRY]).decode()
        assert 'knoten_ffmpeg_state{name="pattern-0",state="running"} 1.0' in exposition
    finally:
        await runner.cleanup()
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)
    left = [pid for pid in children_of(os.getpid()) if _comm(pid) == "ffmpeg"]
    assert left == [], "no FFmpeg process may outlive the app"


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""
