"""What a speaker's and a listener's peer have in common: the aiortc peer connection made with
the configured ICE servers, its state as events for the stage's watchdog, the answer to an
offer with the configured host candidates, and an idempotent close."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from streaming.webrtc.aiortc_boundary import (
    RTCRtpSender,
    RTCSessionDescription,
    bundled_peer_connection,
    create_answer,
)
from streaming.webrtc.errors import InvalidOffer
from streaming.webrtc.ice import host_addresses_scope
from streaming.webrtc.options import WebrtcOptions

log = logging.getLogger(__name__)


def codecs_named(kind: str, names: Iterable[str]) -> list:
    """aiortc's codec capabilities of ``kind`` whose MIME subtype is one of ``names`` (in
    aiortc's order), for ``setCodecPreferences``."""
    wanted = {f"{kind}/{name}".lower() for name in names}
    capabilities = RTCRtpSender.getCapabilities(kind)
    return [codec for codec in capabilities.codecs if codec.mimeType.lower() in wanted]


class DialogPeer:
    """One peer connection of the dialog. ``connected`` is set once ICE and DTLS are up,
    ``ended`` once the peer failed or closed."""

    role = "peer"

    def __init__(
        self, resource_id: str, options: WebrtcOptions, host_addresses: tuple[str, ...] | None
    ) -> None:
        self.id = resource_id
        self.connected = asyncio.Event()
        self.ended = asyncio.Event()
        self.end_reason = ""
        self._host_addresses = host_addresses
        # Max-bundle: a listener's second video track would otherwise never send (see there).
        self.pc = bundled_peer_connection(options.ice_servers)
        self.pc.on("connectionstatechange", self._state_changed)
        self._closed = False

    @property
    def state(self) -> str:
        return self.pc.connectionState

    def _state_changed(self) -> None:
        state = self.pc.connectionState
        log.info("dialog %s %s: %s", self.role, self.id, state)
        if state == "connected":
            self.connected.set()
        elif state in ("failed", "closed"):
            self.end_reason = self.end_reason or f"peer {state}"
            self.ended.set()

    async def apply_offer(self, offer_sdp: str) -> None:
        """Apply the remote offer (transceivers and codec preferences must exist already)."""
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        except Exception as exc:  # aiortc raises ValueError/OperationError on odd offers
            raise InvalidOffer(f"SDP offer refused: {exc}") from None

    async def make_answer(self) -> str:
        """Create and apply the answer; candidates are gathered from the configured addresses."""
        try:
            answer = await create_answer(self.pc)  # as DTLS server: see there
        except Exception as exc:
            raise InvalidOffer(f"SDP offer refused: {exc}") from None
        with host_addresses_scope(self._host_addresses):
            await self.pc.setLocalDescription(answer)
        return self.pc.localDescription.sdp

    async def aclose(self, reason: str) -> None:
        """Close the peer (idempotent; returns once aiortc has stopped it)."""
        if self._closed:
            return
        self._closed = True
        self.end_reason = self.end_reason or reason
        await self._before_close()
        await self.pc.close()
        await self._after_close()
        self.ended.set()
        log.info("dialog %s %s closed (%s)", self.role, self.id, reason)

    async def _before_close(self) -> None:
        """Subclasses stop what feeds or reads the peer."""

    async def _after_close(self) -> None:
        """Subclasses await what ends with the peer."""
