"""The seminar controller: turns "occurrence X is live" into the media work of one seminar — the
live session (camera, encode once, partners), the recording and the WebRTC feed — and back.

It implements the schedules package's SessionRunner port, so the reconciler drives it; it
resolves the room's camera and the partners at start time (changes to a partner apply to the
next start). Hosts and pages read its typed :class:`~streaming.live.status.LiveStatus`.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Awaitable
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from schedules.domain import Phase
from schedules.ports import SessionRequest
from schedules.rooms import Room, RoomRepository
from streaming.dialog.frames import Frame
from streaming.ffmpeg.registry import FfmpegProcesses
from streaming.live import hls
from streaming.live.plan import PartnerTarget, SessionPlan
from streaming.live.session import LiveSession
from streaming.live.status import LiveStatus
from streaming.partners import PartnerRepository
from streaming.sources import ALWAYS_AUDIO, SRT_PUSH, WHIP, PushIngest, WhipPorts, camera_source

log = logging.getLogger(__name__)


class RecorderPort(Protocol):
    async def start(self, occurrence_id: int, seminar_id: int, title: str, feed: Path) -> None: ...
    async def stop(self, occurrence_id: int) -> None: ...
    async def suspend(self, occurrence_id: int) -> None: ...


class ViewerPort(Protocol):
    async def open(self, occurrence_id: int, feed: Path, title: str) -> None: ...
    async def close(self, occurrence_id: int) -> None: ...


class StagePort(Protocol):
    async def close(self, occurrence_id: int) -> None: ...


class SeminarController:
    """SessionRunner for real rooms: one LiveSession per running occurrence, plus its
    recording and its WebRTC viewers."""

    def __init__(
        self,
        *,
        rooms: RoomRepository,
        partners: PartnerRepository,
        processes: FfmpegProcesses,
        data_dir: Path,
        run_dir: Path,
        ffmpeg: str = "ffmpeg",
        ingest: PushIngest | None = None,
        whip: WhipPorts | None = None,
        recorder: RecorderPort | None = None,
        viewers: ViewerPort | None = None,
        stage: StagePort | None = None,
        public_hls: bool = False,
    ) -> None:
        self._rooms = rooms
        self._partners = partners
        self._processes = processes
        self._data_dir = data_dir
        self._run_dir = run_dir
        self._ffmpeg = ffmpeg
        self._ingest = ingest or PushIngest()
        self._whip = whip or WhipPorts()
        self._recorder = recorder
        self._viewers = viewers
        self._stage = stage
        self._public_hls = public_hls
        self._sessions: dict[int, LiveSession] = {}
        self._recording: set[int] = set()
        self._lock = asyncio.Lock()
        # Load shedding: partner-only encoders on a reduced profile (new sessions too).
        self._partners_reduced = False

    def running(self) -> set[int]:
        return set(self._sessions)

    def session(self, occurrence_id: int) -> LiveSession | None:
        return self._sessions.get(occurrence_id)

    def status(self, occurrence_id: int) -> LiveStatus | None:
        session = self._sessions.get(occurrence_id)
        return None if session is None else session.status()

    def hls_directory(self, occurrence_id: int, partner_id: int) -> Path | None:
        """Where the running session of ``occurrence_id`` writes the HLS of ``partner_id``;
        None when nothing of that is on air."""
        session = self._sessions.get(occurrence_id)
        return None if session is None else session.hls_directory(partner_id)

    def public_hls_directory(self, occurrence_id: int) -> Path | None:
        """Where the running session of ``occurrence_id`` writes its public HLS rendition;
        None when the date is not on air or the rendition is switched off."""
        session = self._sessions.get(occurrence_id)
        return None if session is None else session.public_hls_directory()

    def remote_audio(self, occurrence_id: int, speaker_id: int, pcm: bytes) -> None:
        """A speaker's next 20 ms of sound, for the date's remote-audio bus (mixed once into
        what partners, the recording and viewers get); dropped while the date is not on air."""
        session = self._sessions.get(occurrence_id)
        if session is not None and session.bus is not None:
            session.bus.write(speaker_id, pcm)

    def remote_audio_end(self, occurrence_id: int, speaker_id: int) -> None:
        session = self._sessions.get(occurrence_id)
        if session is not None and session.bus is not None:
            session.bus.remove(speaker_id)

    def speaker_picture(
        self, occurrence_id: int, slot: int, speaker_id: int | None, frame: Frame | None
    ) -> bool:
        """A frame of the speaker's camera in video ``slot`` (None: the slot went dark), for
        the date's picture-in-picture tiles; dropped while the date is not on air. True when
        the tiles need a keyframe of that camera."""
        session = self._sessions.get(occurrence_id)
        if session is None or session.tiles is None:
            return False
        if speaker_id is None or frame is None:
            session.tiles.hide(slot)
            return False
        return session.tiles.show(slot, speaker_id, frame)

    async def _plan(self, request: SessionRequest) -> SessionPlan:
        room = await self._rooms.get(request.room_id)
        partners = tuple(
            PartnerTarget(partner.id, partner.name, partner.kind, partner.profile, partner.url)
            for partner in await self._partners.list()
            if partner.id in request.partner_ids and partner.enabled
        )
        start = request.start_utc.astimezone(ZoneInfo(room.timezone))
        run_dir = self._run_dir / f"occ{request.occurrence_id}"
        # A WHIP room's camera FFmpeg reads the publisher's packets as RTP, by this description.
        whip = (run_dir / "whip.sdp", self._whip.sdp(room.id)) if room.source == WHIP else None
        camera = camera_source(room.source, self._data_dir, await self._push_url(room), whip)
        return SessionPlan(
            occurrence_id=request.occurrence_id,
            title=request.title,
            start_label=start.strftime("%H:%M"),
            camera=camera,
            run_dir=run_dir,
            hls_dir=hls.occurrence_dir(self._data_dir, request.occurrence_id),
            partners=partners,
            record=request.record,
            remote_audio=camera.kind in ALWAYS_AUDIO,
            public_hls=self._public_hls,
        )

    async def _push_url(self, room: Room) -> str | None:
        if room.source != SRT_PUSH:
            return None
        return self._ingest.listen_url(room.id, await self._rooms.stream_key(room.id))

    async def start(self, request: SessionRequest) -> None:
        async with self._lock:
            oid = request.occurrence_id
            live = request.phase is Phase.LIVE
            session = self._sessions.get(oid)
            if session is None:
                plan = await self._plan(request)
                session = LiveSession(plan, self._processes, self._ffmpeg,
                                      partners_reduced=self._partners_reduced)  # fmt: skip
                self._sessions[oid] = session
                try:
                    await session.start(live=live)
                except BaseException:
                    self._sessions.pop(oid, None)
                    await session.aclose()
                    raise
                if self._viewers is not None and "webrtc" in plan.extra_feeds:
                    await _guard(self._viewers.open(oid, session.webrtc_feed, request.title))
            elif live:
                await session.set_live(True)
            if live and request.record and oid not in self._recording and self._recorder:
                # Recording starts with the seminar itself, not with the lead-in slate.
                self._recording.add(oid)
                await _guard(
                    self._recorder.start(
                        oid, request.seminar_id, request.title, session.master_feed
                    )
                )

    async def reduce_partner_profiles(self, reduced: bool) -> None:
        """Load shedding: every running session's partner-only encoders on a reduced profile,
        or back on the full one; sessions started meanwhile follow the setting."""
        async with self._lock:
            self._partners_reduced = reduced
            for occurrence_id, session in sorted(self._sessions.items()):
                try:
                    await session.reduce_partner_profiles(reduced)
                except Exception:
                    log.exception("occurrence %s: partner profiles not changed", occurrence_id)

    async def hand_over(self, occurrence_id: int, reason: str) -> None:
        """Another node runs this date now (it lost its lease here): stop its media work on this
        node, but leave its recording open for that node to continue in the same entry."""
        async with self._lock:
            if occurrence_id in self._recording and self._recorder is not None:
                self._recording.discard(occurrence_id)
                await _guard(self._recorder.suspend(occurrence_id))
            await self._stop(occurrence_id, reason)

    async def stop(self, occurrence_id: int, reason: str) -> None:
        async with self._lock:
            await self._stop(occurrence_id, reason)

    async def _stop(self, occurrence_id: int, reason: str) -> None:
        session = self._sessions.pop(occurrence_id, None)
        if occurrence_id in self._recording and self._recorder is not None:
            self._recording.discard(occurrence_id)
            await _guard(self._recorder.stop(occurrence_id))
        if self._viewers is not None:
            await _guard(self._viewers.close(occurrence_id))
        if self._stage is not None:
            await _guard(self._stage.close(occurrence_id))
        if session is not None:
            log.info("occurrence %s: stopping (%s)", occurrence_id, reason)
            await session.aclose()
            shutil.rmtree(session.plan.run_dir, ignore_errors=True)

    async def aclose(self) -> None:
        for occurrence_id in sorted(self._sessions):
            await self.stop(occurrence_id, "service shutting down")


async def _guard(action: Awaitable[None]) -> None:
    # Viewers and the recording are consumers: their failure must not fail the broadcast.
    try:
        await action
    except Exception:
        log.exception("a consumer of the live session failed to start")
