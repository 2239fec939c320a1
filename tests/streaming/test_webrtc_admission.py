"""Handshake admission: the gate on its own, then the registry with real aiortc viewers."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from streaming.webrtc import HandshakesBusy, WebrtcOptions, WebrtcRegistry
from streaming.webrtc.admission import AdmissionGate, GateBusy
from tests.support.webrtc_feeds import feed_argv
from tests.support.webrtc_peers import Client, until

pytestmark = pytest.mark.timeout(60)


async def test_gate_lets_limit_through_then_queues_in_order() -> None:
    gate = AdmissionGate(limit=2, queue=2, wait_s=5)
    await gate.acquire()
    await gate.acquire()
    order: list[int] = []

    async def wait(index: int) -> None:
        await gate.acquire()
        order.append(index)

    waiters = [asyncio.create_task(wait(i)) for i in range(2)]
    await asyncio.sleep(0)
    assert gate.held == 2 and gate.waiting == 2
    with pytest.raises(GateBusy):  # the line is full
        await gate.acquire()
    gate.release()
    await asyncio.sleep(0)
    assert order == [0] and gate.held == 2  # the slot changed hands
    gate.release()
    await asyncio.gather(*waiters)
    assert order == [0, 1] and gate.waiting == 0
    gate.release()
    gate.release()
    assert gate.held == 0


async def test_gate_wait_runs_out_and_a_cancelled_waiter_loses_no_slot() -> None:
    gate = AdmissionGate(limit=1, queue=5, wait_s=0.05)
    await gate.acquire()
    with pytest.raises(GateBusy):
        await gate.acquire()
    gate.wait_s = 5
    waiter = asyncio.create_task(gate.acquire())
    await asyncio.sleep(0)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    gate.release()
    assert gate.held == 0 and gate.waiting == 0
    await gate.acquire()  # free again
    assert gate.held == 1


# A small live feed: what matters here is handshakes, not the picture.
FEED = feed_argv()


async def test_one_handshake_at_a_time_the_next_waits_the_one_after_is_busy(
    tmp_path: Path,
) -> None:
    """With one handshake slot and a line of one: the first offer is answered at once, the
    second only once the first viewer is connected, the third is refused (busy, short
    Retry-After). Both admitted viewers then decode video."""
    sock = tmp_path / "feed.sock"
    feed = subprocess.Popen([*FEED, f"unix:{sock}"], stdin=subprocess.DEVNULL)  # noqa: ASYNC220
    registry = WebrtcRegistry(
        WebrtcOptions(
            host_addresses=("127.0.0.1",),
            max_connecting=1,
            connect_queue=1,
            connect_queue_wait_s=10,
            busy_retry_after_s=2,
        )
    )
    peers = [Client() for _ in range(3)]
    try:
        for _ in range(250):
            if sock.exists():
                break
            await asyncio.sleep(0.02)
        await registry.open(1, sock, "Admission")
        offers = [await peer.offer() for peer in peers]
        first_id, first_answer = await registry.add_viewer(1, offers[0])
        assert registry.connecting == 1
        second = asyncio.create_task(registry.add_viewer(1, offers[1]))
        await asyncio.sleep(0.2)
        assert not second.done(), "the second offer waits for the slot"
        with pytest.raises(HandshakesBusy) as busy:
            await registry.add_viewer(1, offers[2])
        assert busy.value.code == "busy" and busy.value.retry_after_s == 2
        # The first viewer connects; that frees the slot for the second.
        await peers[0].accept(first_answer)
        _, second_answer = await asyncio.wait_for(second, 10)
        first = registry.viewer(1, first_id)
        assert first is not None and first.state == "connected"
        await peers[1].accept(second_answer)
        await until(lambda: all(p.frames["video"] >= 15 for p in peers[:2]))
        assert registry.connecting == 0 and registry.viewer_count(1) == 2
    finally:
        for peer in peers:
            await peer.close()
        await registry.aclose()
        feed.kill()
        feed.wait()
