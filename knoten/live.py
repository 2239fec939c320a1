"""The media side of a seminar: the session runner that turns "occurrence X is live" into a
LiveSession, the recording and the WebRTC feed, and back.

It implements the schedules package's SessionRunner port, so the reconciler drives it; it
resolves the room's camera and the partners at start time (changes to a partner apply to the
next start).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from knoten.sources import SRT_PUSH
from schedules.domain import Phase
from schedules.ports import SessionRequest
from schedules.rooms import RoomRepository
from streaming.ffmpeg.registry import FfmpegProcesses
from streaming.live.plan import CameraSource, PartnerTarget, SessionPlan
from streaming.live.session import LiveSession
from streaming.partners import PartnerRepository

log = logging.getLogger(__name__)


class RecorderPort(Protocol):
    async def start(self, occurrence_id: int, seminar_id: int, title: str, feed: Path) -> None: ...
    async def stop(self, occurrence_id: int) -> None: ...


class ViewerPort(Protocol):
    async def open(self, occurrence_id: int, feed: Path, title: str) -> None: ...
    async def close(self, occurrence_id: int) -> None: ...


def srt_listen_url(host: str, port: int, key: str) -> str:
    """Where Knoten waits for the room's encoder; the key is the SRT passphrase (AES), so a
    caller without it is refused during the handshake."""
    return f"srt://{host}:{port}?mode=listener&passphrase={key}&pbkeylen=16"


def camera_source(source: str, data_dir: Path) -> CameraSource:
    """The stored room source (validated by knoten.sources) as the media plane's camera."""
    if source == "testsrc":
        return CameraSource("testsrc")
    if source.startswith("/dev/video"):
        return CameraSource("v4l2", path=Path(source))
    if "://" in source:
        return CameraSource(source.split("://", 1)[0].lower(), url=source)
    return CameraSource("file", path=(data_dir / source).resolve())


class MediaSessionRunner:
    """SessionRunner for real rooms: one LiveSession per running occurrence."""

    def __init__(
        self,
        *,
        rooms: RoomRepository,
        partners: PartnerRepository,
        processes: FfmpegProcesses,
        data_dir: Path,
        run_dir: Path,
        ffmpeg: str = "ffmpeg",
        ingest_host: str = "127.0.0.1",
        srt_port_base: int = 9710,
    ) -> None:
        self._ingest_host = ingest_host
        self._srt_port_base = srt_port_base
        self._rooms = rooms
        self._partners = partners
        self._processes = processes
        self._data_dir = data_dir
        self._run_dir = run_dir
        self._ffmpeg = ffmpeg
        self._sessions: dict[int, LiveSession] = {}
        self._requests: dict[int, SessionRequest] = {}
        self._recording: set[int] = set()
        self._lock = asyncio.Lock()
        self.recorder: RecorderPort | None = None
        self.viewers: ViewerPort | None = None

    def running(self) -> set[int]:
        return set(self._sessions)

    def session(self, occurrence_id: int) -> LiveSession | None:
        return self._sessions.get(occurrence_id)

    def status(self, occurrence_id: int) -> dict[str, Any] | None:
        session = self._sessions.get(occurrence_id)
        if session is None:
            return None
        return {"source": session.source_status(), "outputs": session.outputs_status()}

    def srt_port(self, room_id: int) -> int:
        return self._srt_port_base + room_id - 1

    async def _camera(self, room_id: int, source: str) -> CameraSource:
        if source == SRT_PUSH:
            key = await self._rooms.stream_key(room_id)
            url = srt_listen_url(self._ingest_host, self.srt_port(room_id), key)
            return CameraSource("srt-push", url=url, listener=True)
        return camera_source(source, self._data_dir)

    async def _plan(self, request: SessionRequest) -> SessionPlan:
        room = await self._rooms.get(request.room_id)
        partners = []
        for partner in await self._partners.list():
            if partner.id in request.partner_ids and partner.enabled:
                partners.append(
                    PartnerTarget(
                        partner.id, partner.name, partner.kind, partner.profile, partner.url
                    )
                )
        start = request.start_utc.astimezone(ZoneInfo(room.timezone))
        return SessionPlan(
            occurrence_id=request.occurrence_id,
            title=request.title,
            start_label=start.strftime("%H:%M"),
            camera=await self._camera(room.id, room.source),
            run_dir=self._run_dir / f"occ{request.occurrence_id}",
            hls_dir=self._data_dir / "live" / str(request.occurrence_id),
            partners=tuple(partners),
            record=request.record,
        )

    async def start(self, request: SessionRequest) -> None:
        async with self._lock:
            oid = request.occurrence_id
            live = request.phase is Phase.LIVE
            session = self._sessions.get(oid)
            if session is None:
                plan = await self._plan(request)
                session = LiveSession(plan, self._processes, self._ffmpeg)
                self._sessions[oid] = session
                try:
                    await session.start(live=live)
                except BaseException:
                    self._sessions.pop(oid, None)
                    await session.aclose()
                    raise
                if self.viewers is not None and "webrtc" in plan.extra_feeds:
                    await self._guard(self.viewers.open(oid, session.webrtc_feed, request.title))
            elif live:
                await session.set_live(True)
            self._requests[oid] = request
            if live and request.record and oid not in self._recording and self.recorder:
                # Recording starts with the seminar itself, not with the lead-in slate.
                self._recording.add(oid)
                await self._guard(
                    self.recorder.start(oid, request.seminar_id, request.title, session.master_feed)
                )

    async def _guard(self, action: Any) -> None:
        # Viewers and the recording are consumers: their failure must not fail the broadcast.
        try:
            await action
        except Exception:
            log.exception("a consumer of the live session failed to start")

    async def stop(self, occurrence_id: int, reason: str) -> None:
        async with self._lock:
            session = self._sessions.pop(occurrence_id, None)
            self._requests.pop(occurrence_id, None)
            if occurrence_id in self._recording and self.recorder is not None:
                self._recording.discard(occurrence_id)
                await self._guard(self.recorder.stop(occurrence_id))
            if self.viewers is not None:
                await self._guard(self.viewers.close(occurrence_id))
            if session is not None:
                log.info("occurrence %s: stopping (%s)", occurrence_id, reason)
                await session.aclose()
                shutil.rmtree(session.plan.run_dir, ignore_errors=True)

    async def aclose(self) -> None:
        for occurrence_id in sorted(self._sessions):
            await self.stop(occurrence_id, "service shutting down")
