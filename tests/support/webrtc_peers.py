"""Receiving WebRTC peers for tests: real aiortc clients of the fan-out, and a polling wait."""

from __future__ import annotations

import asyncio
import contextlib

from aiortc import RTCCertificate, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.rtcdtlstransport import generate_certificate
from cryptography.hazmat.primitives.asymmetric import rsa
from OpenSSL import SSL

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


#: What an OpenSSL-based stack with an RSA certificate offers (GStreamer's DTLS, many embedded
#: players): RSA suites first, ECDSA ones too.
RSA_PEER_CIPHERS = (
    b"ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-SHA:"
    b"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-SHA"
)


class RsaCertificate(RTCCertificate):
    """A DTLS certificate with a 2048-bit RSA key, and the cipher suites such a peer offers."""

    @classmethod
    def generateCertificate(cls) -> RsaCertificate:  # aiortc's name
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(key=key, cert=generate_certificate(key))  # type: ignore[arg-type]

    def _create_ssl_context(self, srtp_profiles) -> SSL.Context:  # type: ignore[no-untyped-def]
        context = super()._create_ssl_context(srtp_profiles)
        context.set_cipher_list(RSA_PEER_CIPHERS)
        return context


class Client(LoopbackPeer):
    """An aiortc WHEP viewer counting what it receives (video frames decoded, audio frames).
    ``kinds`` are the recvonly sections it offers; ``rsa`` gives it an RSA certificate."""

    def __init__(self, kinds: tuple[str, ...] = ("video", "audio"), *, rsa: bool = False) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        if rsa:
            # Before any transceiver: each DTLS transport takes the certificate when it is made.
            self.pc._RTCPeerConnection__certificates = [RsaCertificate.generateCertificate()]  # type: ignore[attr-defined]
        for kind in kinds:
            self.pc.addTransceiver(kind, direction="recvonly")
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
