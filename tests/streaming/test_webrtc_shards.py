"""Viewers sharded over worker processes: real workers, a real feed hub, real aiortc viewers.

The feed comes the way the live pipeline serves it: FFmpeg pushes MPEG-TS into a
:class:`streaming.live.feed.FeedHub`, which every worker reads on its own.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from streaming.live.feed import FeedHub
from streaming.webrtc import WebrtcOptions
from streaming.webrtc.shards import ShardedRegistry
from tests.support.webrtc_feeds import feed_argv
from tests.support.webrtc_peers import Client, until

pytestmark = pytest.mark.timeout(90)

PUSH = feed_argv(listen=False)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers signal 0; it has exited all the same.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


async def join(registry: ShardedRegistry, peer: Client) -> str:
    viewer_id, answer = await registry.add_viewer(1, await peer.offer())
    await peer.accept(answer)
    return viewer_id


async def test_viewers_spread_over_workers_and_a_dead_worker_comes_back(tmp_path: Path) -> None:
    hub = FeedHub("webrtc", tmp_path / "webrtc.sock", tmp_path / "webrtc-in.sock")
    await hub.start()
    push = subprocess.Popen(  # noqa: ASYNC220
        [*PUSH, f"unix:{tmp_path / 'webrtc-in.sock'}"], stdin=subprocess.DEVNULL
    )
    registry = ShardedRegistry(
        WebrtcOptions(host_addresses=("127.0.0.1",)), workers=2, viewers_per_worker=2
    )
    peers: list[Client] = []
    pids: list[int] = []
    try:
        await registry.start()
        pids = [s.process.pid for s in registry._shards if s.process is not None]
        assert len(pids) == 2
        await registry.open(1, hub.output_path, "Geteilt")
        assert registry.is_live(1)
        peers = [Client() for _ in range(4)]
        ids = [await join(registry, peer) for peer in peers]
        await until(lambda: all(peer.frames["video"] >= 15 for peer in peers), timeout=15)
        stats = [await registry.viewer_stats(1, viewer_id) for viewer_id in ids]
        # The first worker is filled to its mark (2 here), then the next.
        assert [s["worker"] for s in stats] == [0, 0, 1, 1]  # type: ignore[index]
        assert {s["send_path"]["video"] for s in stats} == {"direct/aes-gcm"}  # type: ignore[index]
        assert registry.viewer_count(1) == 4
        await until(lambda: registry.stats(1).packets > 0, timeout=15)
        assert registry.stats(1).workers == 2

        # A viewer leaves: gone from the count at once.
        await registry.remove_viewer(1, ids[0])
        assert registry.viewer_count(1) == 3

        # A worker dies: its viewers are gone, it is restarted and serves the feed again.
        victim = registry._shards[1]
        assert victim.process is not None
        os.kill(victim.process.pid, signal.SIGKILL)
        await until(lambda: victim.restarts == 1 and victim.ready.is_set(), timeout=15)
        lost = sum(1 for s in stats[1:] if s["worker"] == 1)  # type: ignore[index]
        assert registry.viewer_count(1) == 3 - lost
        newcomers = [Client(), Client()]
        peers += newcomers
        for peer in newcomers:
            await join(registry, peer)
        await until(lambda: all(peer.frames["video"] >= 15 for peer in newcomers), timeout=15)
        assert registry.viewer_count(1) == 5 - lost and len(victim.viewers) >= 1
        pids += [s.process.pid for s in registry._shards if s.process is not None]
    finally:
        for peer in peers:
            await peer.close()
        await registry.aclose()
        push.kill()
        push.wait()
        await hub.aclose()
    assert not [pid for pid in pids if alive(pid)], "a viewer worker outlived the registry"
