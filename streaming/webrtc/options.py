"""Settings of the WebRTC fan-out as frozen dataclasses (``knoten/`` maps its config here)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class IceServer:
    """A STUN/TURN server; the same list goes to aiortc and to the browser."""

    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None

    def as_browser_dict(self) -> dict[str, object]:
        entry: dict[str, object] = {"urls": list(self.urls)}
        if self.username is not None:
            entry["username"] = self.username
        if self.credential is not None:
            entry["credential"] = self.credential
        return entry


@dataclass(frozen=True, slots=True)
class WebrtcOptions:
    ice_servers: tuple[IceServer, ...] = ()
    #: Host candidate addresses; empty = aioice's default (every non-loopback address).
    host_addresses: tuple[str, ...] = ()
    #: Interface names whose addresses become host candidates (used when host_addresses is empty).
    interfaces: tuple[str, ...] = ()
    max_viewers: int = 200
    connect_timeout_s: float = 15.0
    #: Per-viewer queue bounds. Video counts frames (≈3 s at 30 fps, more than one GOP so the
    #: start burst fits); audio counts packets (40 ms each from the live pipeline).
    video_queue_frames: int = 90
    audio_queue_packets: int = 100
    retry_after_s: int = 30
    #: Viewers connecting (offer answered, ICE + DTLS not yet done) at the same time. Hundreds
    #: of handshakes at once on the loop that also sends made each other time out; a few at a
    #: time each take ~50 ms.
    max_connecting: int = 8
    #: Offers that may wait for a handshake slot, and for how long, before a 503 "busy".
    connect_queue: int = 200
    connect_queue_wait_s: float = 5.0
    busy_retry_after_s: int = 2
