"""Load shedding with the real app: a CPU hog inside the service's own process keeps its event
loop busy (late by up to 0.3 s at every wake-up); new viewers then get 503 + Retry-After, the
viewer limit is lowered, /healthz and /metrics say so, the broadcast goes on; when the hog stops
the service recovers by itself and viewers are admitted again.

The escalation and recovery periods are shortened here (2 s and 3 s instead of 5 s and 15 s);
the policy's timing itself is tested in tests/streaming/test_shedding_policy.py."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import generate_latest

from knoten.keys import LOAD_MONITOR, METRICS_REGISTRY, WEBRTC
from schedules.ports import LoggingSessionRunner
from streaming.shedding import ShedLevel, ShedPolicy
from tests.faults.helpers import wait_for
from tests.knoten.test_whep import create_live_occurrence, feed_producer, post_offer, token_of
from tests.support.app_fixtures import admin_session, make_config, serve
from tests.support.ports import free_tcp_port
from tests.support.webrtc_peers import Client

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]


@contextlib.asynccontextmanager
async def cpu_hog(busy_s: float = 0.3, pause_s: float = 0.05) -> AsyncIterator[None]:
    """Keep this process's event loop busy ``busy_s`` out of every ``busy_s + pause_s``."""

    async def spin() -> None:
        while True:
            until = time.perf_counter() + busy_s
            while time.perf_counter() < until:
                pass
            await asyncio.sleep(pause_s)

    task = asyncio.create_task(spin())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_overload_sheds_viewers_and_recovers_by_itself(tmp_path: Path) -> None:
    config = make_config(
        tmp_path / "data", free_tcp_port(), KNOTEN_WEBRTC_HOST_ADDRESSES="127.0.0.1"
    )
    async with (
        serve(config, session_runner=LoggingSessionRunner()) as running,
        admin_session(running) as admin,
        aiohttp.ClientSession() as http,
        feed_producer(tmp_path / "webrtc.sock") as feed,
    ):
        monitor = running.app[LOAD_MONITOR]
        monitor.policy = ShedPolicy(escalate_after_s=2.0, recover_after_s=3.0)
        live = await create_live_occurrence(admin)
        oid, token = live["id"], token_of(live)
        await running.app[WEBRTC].open(oid, feed, "Ausgelastet")
        url = running.url(f"/whep/{oid}")
        peer = Client()
        try:
            offer = await peer.offer()
            async with cpu_hog():
                refused_after = await wait_for(
                    lambda: monitor.policy.level >= ShedLevel.REFUSE_VIEWERS, 20, "refusing"
                )
                status, headers, body = await post_offer(http, url, token, offer)
                await wait_for(
                    lambda: monitor.policy.level is ShedLevel.LOWER_VIEWER_LIMIT, 20, "lowered"
                )
                async with http.get(running.url("/healthz")) as response:
                    health = await response.json()
                async with admin.get(f"/api/v1/occurrences/{oid}/viewers") as response:
                    panel = (await response.json())["load"]  # what the live panel shows
                exposition = generate_latest(running.app[METRICS_REGISTRY]).decode()
            hog_stopped = time.monotonic()
            recovered_after = await wait_for(
                lambda: (
                    monitor.policy.level is ShedLevel.NORMAL and monitor.policy.viewer_limit is None
                ),
                30,
                "recovered",
            )
            recovered_after = time.monotonic() - hog_stopped
            status_after, _, answer = await post_offer(http, url, token, offer)
            if status_after == 201:
                await peer.accept(answer.decode())
        finally:
            await peer.close()
    print(
        f"CPU hog: viewers refused after {refused_after:.1f} s, limit lowered, recovered "
        f"{recovered_after:.1f} s after the hog stopped "
        f"(event loop {health['load']['loop_lag_ms']} ms late)"
    )
    assert status == 503 and headers["Retry-After"] == "10", (status, body)
    assert b'"overloaded"' in body and b"event loop" in body
    # With the hog still on, level 3 (partner profiles reduced) may follow 2 s later.
    shed = ("lower_viewer_limit", "reduce_partner_profiles")
    assert health["status"] == "ok" and health["load"]["level"] in shed
    assert panel["level"] in shed and panel["viewer_limit"] == 1  # nobody watched: 1
    assert panel["partner_profiles_reduced"] == (panel["level"] == shed[1])
    assert re.search(r"^knoten_load_shed_level [23]\.0$", exposition, re.M)
    assert "knoten_viewers_refused_overload_total 1.0" in exposition
    assert status_after == 201
