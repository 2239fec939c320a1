"""The one owner, per service, of every occurrence's speakers (publishers) and listeners.

The conversation owner (in the composition root) sets the stage, the set of speakers who may
publish, with :meth:`StageMedia.set_stage` whenever the host changes it; pages publish and
listen through the endpoints the composition root exposes. Each publisher holds one slot
(:class:`~streaming.dialog.slots.StageSlot`) from :meth:`~StageMedia.publish` until it ends:
the lowest free one, kept while the speaker publishes, so a listener's track i carries the same
voice for as long as that speaker is on stage. Speakers with a camera also hold one of the
:data:`~streaming.dialog.listener.VIDEO_SLOTS` video slots
(:class:`~streaming.dialog.video_slots.VideoSlot`), the first ones to publish with a camera; when
one ends, the next camera waiting gets its slot. Each peer has a watchdog task, owned here, that
closes it after the connect timeout, on failure or when it closes; :meth:`StageMedia.aclose`
closes everything and returns only once every peer and task has stopped.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from streaming.dialog.errors import (
    NotOnStage,
    ResourceNotFound,
    StageClosed,
    StageFull,
    TooManyListeners,
)
from streaming.dialog.frames import Frame
from streaming.dialog.listener import MAX_STAGE, VIDEO_SLOTS, Listener, ListenerKey
from streaming.dialog.peer import DialogPeer
from streaming.dialog.publisher import Publisher
from streaming.dialog.slots import StageSlot
from streaming.dialog.video_slots import VideoSlot
from streaming.webrtc.aiortc_boundary import check_aiortc
from streaming.webrtc.ice import install, resolve_host_addresses
from streaming.webrtc.options import WebrtcOptions

log = logging.getLogger(__name__)

#: Listening peers per occurrence: the room display, host panels and the speakers, with room
#: for reloads whose old peer has not timed out yet.
MAX_LISTENERS = 16

PcmCallback = Callable[[int, int, bytes], None]
PcmEndCallback = Callable[[int, int], None]
#: (occurrence, video slot, speaker or None, frame or None) → True if it needs a keyframe:
#: see ``VideoSlot.on_picture``.
StagePictureCallback = Callable[[int, int, int | None, Frame | None], bool | None]
#: (occurrence, the speaker whose camera each video slot carries): when that changes.
CamerasCallback = Callable[[int, tuple[int | None, ...]], None]


@dataclass(frozen=True, slots=True)
class PublisherInfo:
    speaker_id: int
    resource_id: str
    slot: int
    state: str
    packets: int
    bytes: int
    pcm_frames: int
    #: The camera's video slot (None: no camera, or both video slots taken), RTP packets
    #: received from the camera, PLIs sent to the browser.
    video_slot: int | None = None
    video_packets: int = 0
    keyframe_requests: int = 0


@dataclass(frozen=True, slots=True)
class ListenerInfo:
    resource_id: str
    key: ListenerKey
    state: str
    send_path: str
    #: Packets sent in each of the listener's audio slots (the index is the slot's).
    slot_packets: tuple[int, ...]
    slot_dropped: tuple[int, ...]
    #: Frames sent and dropped (before the first keyframe, or lagging) per video slot.
    video_frames: tuple[int, ...] = ()
    video_dropped: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class StageSnapshot:
    """One occurrence's stage media: who may publish (None: no stage), who holds which slot,
    packets forwarded per slot, and every peer; the same for the video (camera) slots."""

    occurrence_id: int
    allowed: frozenset[int] | None
    slots: tuple[int | None, ...]
    slot_packets: tuple[int, ...]
    publishers: tuple[PublisherInfo, ...] = ()
    listeners: tuple[ListenerInfo, ...] = ()
    #: The speaker whose camera each video slot carries, and the RTP packets and frames it
    #: forwarded (once for all listeners).
    video_slots: tuple[int | None, ...] = ()
    video_slot_packets: tuple[int, ...] = ()
    video_slot_frames: tuple[int, ...] = ()


@dataclass(eq=False)
class _Stage:
    occurrence_id: int
    slots: list[StageSlot]
    allowed: frozenset[int] | None = None
    #: Speakers the host muted: still on stage and connected, but nobody hears them.
    muted: frozenset[int] = frozenset()
    publishers: dict[int, Publisher] = field(default_factory=dict)
    slot_of: dict[int, StageSlot] = field(default_factory=dict)
    listeners: dict[str, Listener] = field(default_factory=dict)
    video_slots: list[VideoSlot] = field(default_factory=list)
    video_slot_of: dict[int, VideoSlot] = field(default_factory=dict)
    #: The cameras as last told to ``on_cameras``.
    cameras: tuple[int | None, ...] = ()


class StageMedia:
    """Speakers' media of every occurrence: publish, listen, the stage, PCM for the bus."""

    def __init__(
        self,
        options: WebrtcOptions,
        on_pcm: PcmCallback | None = None,
        on_pcm_end: PcmEndCallback | None = None,
        *,
        on_picture: StagePictureCallback | None = None,
        on_cameras: CamerasCallback | None = None,
        max_stage: int = MAX_STAGE,
        max_listeners: int = MAX_LISTENERS,
    ) -> None:
        check_aiortc()
        install()
        self.options = options
        self._on_pcm = on_pcm
        self._on_pcm_end = on_pcm_end
        self._on_picture = on_picture
        self._on_cameras = on_cameras
        self._max_stage = max_stage
        self._max_listeners = max_listeners
        self._host_addresses = resolve_host_addresses(options.host_addresses, options.interfaces)
        self._stages: dict[int, _Stage] = {}
        self._watchers: dict[DialogPeer, asyncio.Task[None]] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._closed = False

    def _stage(self, occurrence_id: int) -> _Stage:
        stage = self._stages.get(occurrence_id)
        if stage is None:
            stage = _Stage(
                occurrence_id,
                [StageSlot(i) for i in range(self._max_stage)],
                video_slots=[
                    VideoSlot(
                        i,
                        None
                        if self._on_picture is None
                        else partial(self._on_picture, occurrence_id),
                    )
                    for i in range(VIDEO_SLOTS)
                ],
            )
            self._stages[occurrence_id] = stage
        return stage

    # -- the stage ------------------------------------------------------------------------

    def set_stage(self, occurrence_id: int, speaker_ids: set[int] | frozenset[int]) -> None:
        """The speakers who may publish now. Publishers not among them are cut off at once
        (their slots go quiet) and closed in the background (owned; awaited by :meth:`close`
        and :meth:`aclose`)."""
        if self._closed:
            return
        stage = self._stage(occurrence_id)
        stage.allowed = frozenset(speaker_ids)
        for speaker_id, publisher in list(stage.publishers.items()):
            if speaker_id not in stage.allowed:
                self._detach_publisher(stage, publisher)
                self._close_later(publisher, "left the stage")
        log.info("stage of occurrence %s: speakers %s", occurrence_id, sorted(stage.allowed))

    def set_muted(self, occurrence_id: int, speaker_ids: set[int] | frozenset[int]) -> None:
        """The speakers nobody hears for now (the host muted them): their packets are neither
        forwarded nor decoded into the bus, and the bus forgets what it holds of them at once;
        their peers stay, so unmuting needs no new offer."""
        stage = self._stage(occurrence_id)
        newly = frozenset(speaker_ids) - stage.muted
        stage.muted = frozenset(speaker_ids)
        if self._on_pcm_end is not None:
            for speaker_id in newly:
                self._on_pcm_end(occurrence_id, speaker_id)

    def _close_later(self, peer: DialogPeer, reason: str) -> None:
        task = asyncio.create_task(self._drop(peer, reason), name=f"dialog-close-{peer.id}")
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    # -- speakers -------------------------------------------------------------------------

    async def publish(
        self, occurrence_id: int, speaker_id: int, offer_sdp: str | bytes
    ) -> tuple[str, str]:
        """Answer a speaker's offer (microphone, Opus): ``(resource_id, answer_sdp)``.

        Raises StageClosed (no stage set), NotOnStage, StageFull (every slot held), or
        InvalidOffer. A speaker who publishes again (a reload) replaces their old peer.
        """
        stage = self._admissible_publisher(occurrence_id, speaker_id)
        old = stage.publishers.get(speaker_id)
        if old is not None:
            await self._drop(old, "published again")
            stage = self._admissible_publisher(occurrence_id, speaker_id)
        slot = next((s for s in stage.slots if s.speaker_id is None), None)
        if slot is None:
            raise StageFull(f"all {len(stage.slots)} speaker slots are taken")
        on_pcm = None if self._on_pcm is None else partial(self._pcm, stage, self._on_pcm)
        on_pcm_end = None if self._on_pcm_end is None else partial(self._on_pcm_end, occurrence_id)
        publisher = Publisher(
            secrets.token_urlsafe(12),
            speaker_id,
            self.options,
            self._host_addresses,
            sink=partial(self._forward, stage, slot, speaker_id),
            on_pcm=on_pcm,
            on_pcm_end=on_pcm_end,
        )
        # Held at once, so concurrent offers respect the slots.
        slot.assign(speaker_id)
        stage.publishers[speaker_id] = publisher
        stage.slot_of[speaker_id] = slot
        try:
            answer = await publisher.answer(offer_sdp)
        except BaseException:
            await self._drop(publisher, "offer refused")
            raise
        if (
            stage.publishers.get(speaker_id) is not publisher
            or self._stages.get(occurrence_id) is not stage
        ):  # the stage changed while we negotiated
            await self._drop(publisher, "left the stage")
            raise NotOnStage(f"speaker {speaker_id} is no longer on stage")
        self._watch(publisher)
        self._give_video_slot(stage, publisher)
        self._cameras_changed(stage)
        log.info(
            "speaker %s publishes in occurrence %s (slot %d, camera: %s)",
            speaker_id,
            occurrence_id,
            slot.index,
            publisher.has_camera,
        )
        return publisher.id, answer

    @staticmethod
    def _give_video_slot(stage: _Stage, publisher: Publisher) -> None:
        """Give ``publisher``'s camera the lowest free video slot, if it has one and one is
        free (otherwise it waits for one: :meth:`_detach_publisher`)."""
        speaker_id = publisher.speaker_id
        if not publisher.has_camera or speaker_id in stage.video_slot_of:
            return
        slot = next((s for s in stage.video_slots if s.speaker_id is None), None)
        if slot is None:
            return
        stage.video_slot_of[speaker_id] = slot
        publisher.video_sink = partial(slot.forward, speaker_id)
        publisher.on_picture_lost = slot.picture_lost
        slot.assign(speaker_id, publisher.request_keyframe)

    @staticmethod
    def _forward(
        stage: _Stage, slot: StageSlot, speaker_id: int, timestamp: int, payload: bytes
    ) -> None:
        if speaker_id not in stage.muted:
            slot.forward(speaker_id, timestamp, payload)

    @staticmethod
    def _pcm(stage: _Stage, on_pcm: PcmCallback, speaker_id: int, pcm: bytes) -> None:
        if speaker_id not in stage.muted:
            on_pcm(stage.occurrence_id, speaker_id, pcm)

    def _admissible_publisher(self, occurrence_id: int, speaker_id: int) -> _Stage:
        stage = self._stages.get(occurrence_id)
        if self._closed or stage is None or stage.allowed is None:
            raise StageClosed(f"occurrence {occurrence_id} has no stage")
        if speaker_id not in stage.allowed:
            raise NotOnStage(f"speaker {speaker_id} is not on stage")
        return stage

    async def unpublish(self, occurrence_id: int, speaker_id: int) -> None:
        """Close the speaker's publishing peer (ResourceNotFound if there is none)."""
        stage = self._stages.get(occurrence_id)
        publisher = None if stage is None else stage.publishers.get(speaker_id)
        if publisher is None:
            raise ResourceNotFound(f"speaker {speaker_id} does not publish")
        await self._drop(publisher, "speaker left")

    def _detach_publisher(self, stage: _Stage, publisher: Publisher) -> bool:
        """Cut ``publisher`` off its slot now (True if it was the stage's)."""
        publisher.sink = None
        speaker_id = publisher.speaker_id
        if stage.publishers.get(speaker_id) is not publisher:
            return False
        del stage.publishers[speaker_id]
        slot = stage.slot_of.pop(speaker_id, None)
        if slot is not None and slot.speaker_id == speaker_id:
            slot.assign(None)
        publisher.video_sink = None
        publisher.on_picture_lost = None
        video_slot = stage.video_slot_of.pop(speaker_id, None)
        if video_slot is not None and video_slot.speaker_id == speaker_id:
            video_slot.assign(None)
            # The first camera still waiting (in the order they published) takes the slot.
            for waiting in stage.publishers.values():
                self._give_video_slot(stage, waiting)
            self._cameras_changed(stage)
        return True

    def _cameras_changed(self, stage: _Stage) -> None:
        """Tell ``on_cameras`` whose camera each video slot carries, if that changed (the pages
        name the tiles by it)."""
        cameras = tuple(slot.speaker_id for slot in stage.video_slots)
        if cameras != stage.cameras:
            stage.cameras = cameras
            if self._on_cameras is not None:
                self._on_cameras(stage.occurrence_id, cameras)

    # -- listeners ------------------------------------------------------------------------

    async def listen(
        self, occurrence_id: int, listener: ListenerKey, offer_sdp: str | bytes
    ) -> tuple[str, str]:
        """Answer a listener's offer (one audio section per slot, recvonly; up to two video
        sections): ``(resource_id, answer_sdp)``. A speaker's own voice never reaches their
        own listening peer. Raises TooManyListeners, StageClosed (service stopping) or
        InvalidOffer."""
        if self._closed:
            raise StageClosed("the service is shutting down")
        stage = self._stage(occurrence_id)
        if len(stage.listeners) >= self._max_listeners:
            raise TooManyListeners(
                f"occurrence {occurrence_id} has {self._max_listeners} listeners"
            )
        peer = Listener(
            secrets.token_urlsafe(12),
            listener,
            self.options,
            self._host_addresses,
            slots=len(stage.slots),
            video_slots=len(stage.video_slots),
            on_keyframe_request=partial(self._keyframe_request, stage),
        )
        stage.listeners[peer.id] = peer
        try:
            answer = await peer.answer(offer_sdp)
        except BaseException:
            await self._drop(peer, "offer refused")
            raise
        if self._stages.get(occurrence_id) is not stage or stage.listeners.get(peer.id) is not peer:
            await self._drop(peer, "occurrence closed")
            raise StageClosed(f"occurrence {occurrence_id} closed")
        for slot, track in zip(stage.slots, peer.audio, strict=False):
            slot.add_output(track.queue, listener.speaker_id)
        # The video queues drop everything until a keyframe; the speakers are asked for one
        # once the listener is connected (see _watchdog), so it arrives when it can be sent.
        for video_slot, track in zip(stage.video_slots, peer.video, strict=False):
            video_slot.add_output(track.queue, listener.speaker_id)
        self._watch(peer)
        log.info("%s listens to occurrence %s (%s)", listener, occurrence_id, peer.id)
        return peer.id, answer

    async def stop_listening(self, occurrence_id: int, resource_id: str) -> None:
        """Close one listener (ResourceNotFound if there is none)."""
        stage = self._stages.get(occurrence_id)
        peer = None if stage is None else stage.listeners.get(resource_id)
        if peer is None:
            raise ResourceNotFound(f"listener {resource_id!r} does not exist")
        await self._drop(peer, "listener left")

    def _detach_listener(self, stage: _Stage, listener: Listener) -> None:
        if stage.listeners.get(listener.id) is listener:
            del stage.listeners[listener.id]
        for slot, track in zip(stage.slots, listener.audio, strict=False):
            slot.remove_output(track.queue)
        for video_slot, track in zip(stage.video_slots, listener.video, strict=False):
            video_slot.remove_output(track.queue)

    @staticmethod
    def _keyframe_request(stage: _Stage, index: int) -> None:
        """A listener lost the picture of video slot ``index`` (PLI/FIR): ask its speaker."""
        if index < len(stage.video_slots):
            stage.video_slots[index].request_keyframe()

    # -- peers' life ----------------------------------------------------------------------

    def _watch(self, peer: DialogPeer) -> None:
        self._watchers[peer] = asyncio.create_task(
            self._watchdog(peer), name=f"dialog-{peer.role}-{peer.id}"
        )

    async def _watchdog(self, peer: DialogPeer) -> None:
        """Close the peer when it does not connect in time, fails or closes."""
        reason = "peer ended"
        try:
            connected = asyncio.ensure_future(peer.connected.wait())
            ended = asyncio.ensure_future(peer.ended.wait())
            try:
                done, _ = await asyncio.wait(
                    {connected, ended},
                    timeout=self.options.connect_timeout_s,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if not done:
                    reason = "connect timeout"
                elif connected in done and not ended.done():
                    if isinstance(peer, Listener):
                        self._listener_connected(peer)
                    await ended
                    reason = peer.end_reason or reason
            finally:
                connected.cancel()
                ended.cancel()
        except asyncio.CancelledError:
            return  # _drop cancelled us: it closes the peer itself
        self._watchers.pop(peer, None)  # we are ending: _drop must not cancel us
        await self._drop(peer, reason)

    def _listener_connected(self, listener: Listener) -> None:
        """The listener can take pictures now: ask each camera it gets for a keyframe."""
        for stage in self._stages.values():
            if stage.listeners.get(listener.id) is listener:
                for index in range(len(listener.video)):
                    self._keyframe_request(stage, index)

    async def _drop(self, peer: DialogPeer, reason: str) -> None:
        """Detach ``peer`` from its stage, close it (a publisher then tells the bus its PCM
        ended) and stop its watchdog (idempotent)."""
        for stage in self._stages.values():
            if isinstance(peer, Publisher):
                if stage.publishers.get(peer.speaker_id) is peer:
                    self._detach_publisher(stage, peer)
                    break
            elif isinstance(peer, Listener) and peer.id in stage.listeners:
                self._detach_listener(stage, peer)
                break
        if isinstance(peer, Publisher):
            peer.sink = None
        watcher = self._watchers.pop(peer, None)
        current = asyncio.current_task()
        if watcher is not None and watcher is not current:
            watcher.cancel()
        await peer.aclose(reason)
        if watcher is not None and watcher is not current:
            await asyncio.gather(watcher, return_exceptions=True)

    # -- whole occurrences and the service ------------------------------------------------

    async def close(self, occurrence_id: int) -> None:
        """The date ended: close its publishers and listeners and forget its stage."""
        stage = self._stages.pop(occurrence_id, None)
        if stage is None:
            return
        peers: list[DialogPeer] = [*stage.publishers.values(), *stage.listeners.values()]
        for publisher in list(stage.publishers.values()):
            self._detach_publisher(stage, publisher)
        for listener in list(stage.listeners.values()):
            self._detach_listener(stage, listener)
        await asyncio.gather(*(self._drop(peer, "occurrence closed") for peer in peers))
        log.info("stage media of occurrence %s closed", occurrence_id)

    async def aclose(self) -> None:
        """Close every peer of every occurrence; idempotent, returns when all have stopped."""
        self._closed = True
        for occurrence_id in list(self._stages):
            await self.close(occurrence_id)
        while self._closing:
            await asyncio.gather(*list(self._closing), return_exceptions=True)
        watchers = list(self._watchers.values())
        for task in watchers:
            task.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
        self._watchers.clear()

    # -- status ---------------------------------------------------------------------------

    def snapshot(self, occurrence_id: int) -> StageSnapshot:
        """The occurrence's stage, slots, counters and peers (empty if it has none)."""
        stage = self._stages.get(occurrence_id)
        if stage is None:
            return StageSnapshot(occurrence_id, None, (), ())
        return StageSnapshot(
            occurrence_id=occurrence_id,
            allowed=stage.allowed,
            slots=tuple(slot.speaker_id for slot in stage.slots),
            slot_packets=tuple(slot.packets for slot in stage.slots),
            publishers=tuple(
                PublisherInfo(
                    speaker_id=p.speaker_id,
                    resource_id=p.id,
                    slot=stage.slot_of[p.speaker_id].index,
                    state=p.state,
                    packets=p.packets,
                    bytes=p.bytes,
                    pcm_frames=p.pcm_frames,
                    video_slot=(
                        stage.video_slot_of[p.speaker_id].index
                        if p.speaker_id in stage.video_slot_of
                        else None
                    ),
                    video_packets=p.video_packets,
                    keyframe_requests=p.keyframe_requests,
                )
                for p in stage.publishers.values()
            ),
            listeners=tuple(
                ListenerInfo(
                    resource_id=listener.id,
                    key=listener.key,
                    state=listener.state,
                    send_path=listener.send_path,
                    slot_packets=tuple(c[0] for c in listener.slot_counters()),
                    slot_dropped=tuple(c[1] for c in listener.slot_counters()),
                    video_frames=tuple(c[0] for c in listener.video_counters()),
                    video_dropped=tuple(c[1] for c in listener.video_counters()),
                )
                for listener in stage.listeners.values()
            ),
            video_slots=tuple(slot.speaker_id for slot in stage.video_slots),
            video_slot_packets=tuple(slot.packets for slot in stage.video_slots),
            video_slot_frames=tuple(slot.frames for slot in stage.video_slots),
        )

    def peer_count(self) -> int:
        """Open peers of every occurrence (publishers and listeners)."""
        return sum(len(s.publishers) + len(s.listeners) for s in self._stages.values())
