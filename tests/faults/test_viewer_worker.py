"""A viewer worker process killed on air: the registry respawns it within 1 s, and a viewer
that connects again (as the join page does by itself) gets pictures about 3 s after the kill."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from streaming.live.feed import FeedHub
from streaming.webrtc import WebrtcOptions
from streaming.webrtc.shards import ShardedRegistry, WorkerUnavailable
from tests.faults.helpers import wait_for
from tests.support.processes import is_alive
from tests.support.webrtc_feeds import feed_argv
from tests.support.webrtc_peers import Client

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]


async def _watch(registry: ShardedRegistry) -> Client:
    viewer = Client()
    _viewer_id, answer = await registry.add_viewer(1, await viewer.offer())
    await viewer.accept(answer)
    return viewer


async def test_killed_viewer_worker_is_back_within_a_second(tmp_path: Path) -> None:
    hub = FeedHub("webrtc", tmp_path / "webrtc.sock", tmp_path / "webrtc-in.sock")
    await hub.start()
    push = subprocess.Popen(  # noqa: ASYNC220
        [*feed_argv(listen=False), f"unix:{tmp_path / 'webrtc-in.sock'}"], stdin=subprocess.DEVNULL
    )
    registry = ShardedRegistry(WebrtcOptions(host_addresses=("127.0.0.1",)), workers=1)
    viewers: list[Client] = []
    pids: list[int] = []
    try:
        await registry.start()
        await registry.open(1, hub.output_path, "Arbeiter")
        viewers.append(await _watch(registry))
        await wait_for(lambda: viewers[0].frames["video"] >= 15, 15, "first pictures")
        shard = registry._shards[0]
        assert shard.process is not None
        pids.append(shard.process.pid)
        os.kill(shard.process.pid, signal.SIGKILL)
        killed = time.monotonic()
        await wait_for(lambda: shard.restarts == 1, 5, "the loss noticed", 0.01)
        await wait_for(
            lambda: shard.ready.is_set() and shard.process is not None, 5, "respawned", 0.01
        )
        respawned = time.monotonic() - killed
        assert shard.process is not None
        pids.append(shard.process.pid)

        async def reconnected() -> bool:  # the join page retries like this on its own
            try:
                viewers.append(await _watch(registry))
            except WorkerUnavailable:
                return False
            return True

        await wait_for(reconnected, 10, "a viewer accepted again", 0.1)
        accepted_after = time.monotonic() - killed
        await wait_for(lambda: viewers[-1].frames["video"] >= 1, 10, "pictures again", 0.02)
        pictures_after = time.monotonic() - killed
    finally:
        for viewer in viewers:
            await viewer.close()
        await registry.aclose()
        push.kill()
        push.wait()
        await hub.aclose()
    print(
        f"viewer worker killed: respawned {respawned:.2f} s, a viewer accepted again "
        f"{accepted_after:.2f} s and has pictures {pictures_after:.2f} s after the kill"
    )
    assert not [pid for pid in pids if is_alive(pid)], "a viewer worker outlived the registry"
    assert respawned <= 1.0
    # Measured ≈3.0 s: worker start ≈0.8 s, feed analysis 0.5 s, the next keyframe (≤ 1 s),
    # ICE and DTLS. The bound leaves room for a loaded machine.
    assert pictures_after <= 4.0
