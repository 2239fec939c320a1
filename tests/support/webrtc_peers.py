"""Receiving WebRTC peers for tests: real aiortc clients of the fan-out, and a polling wait."""

from __future__ import annotations

import asyncio
import contextlib

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from streaming.webrtc.ice import host_addresses_scope


class LoopbackPeer:
    """What every test peer does the same way: offer with loopback host candidates only, and
    accept the service's answer. ``self.pc`` is set by the subclass."""

    pc: RTCPeerConnection

    async def offer(self) -> str:
        with host_addresses_scope(("127.0.0.1",)):
            await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def accept(self, answer: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))


class Client(LoopbackPeer):
    """An aiortc WHEP viewer counting what it receives (video frames decoded, audio frames)."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.addTransceiver("video", direction="recvonly")
        self.pc.addTransceiver("audio", direction="recvonly")
        self.frames = {"video": 0, "audio": 0}
        self.size: tuple[int, int] | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.pc.on("track", self._on_track)

    def _on_track(self, track) -> None:  # type: ignore[no-untyped-def]
        async def pull() -> None:
            with contextlib.suppress(Exception):
                while True:
                    frame = await track.recv()
                    self.frames[track.kind] += 1
                    if track.kind == "video":
                        self.size = (frame.width, frame.height)

        self.tasks.append(asyncio.create_task(pull()))

    async def close(self) -> None:
        await self.pc.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def until(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)
