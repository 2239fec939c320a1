"""One listening peer of the dialog: the room display (the room's loudspeaker), the host's live
panel, or a speaker hearing the others.

Its audio and video tracks are fixed when it connects (:data:`MAX_STAGE` audio, :data:`VIDEO_SLOTS`
video, all sendonly from Knoten), so the stage can change without renegotiation: the stage
hands each slot's packets to the matching track, and a slot nobody holds sends nothing. The
tracks are the viewers' pass-through :class:`~streaming.webrtc.tracks.PacketTrack` (their own
bounded queue, the direct RTP send path, no encoder). Video tracks (H.264) carry the speakers'
cameras, frame by frame as received; a PLI/FIR from the page is passed on
(``on_keyframe_request(video slot)``) to the speaker's browser, the only one that can encode a
keyframe.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from streaming.dialog.peer import DialogPeer, codecs_named
from streaming.webrtc.errors import InvalidOffer
from streaming.webrtc.hub import PacketQueue
from streaming.webrtc.options import WebrtcOptions
from streaming.webrtc.sdp import parse_offer
from streaming.webrtc.tracks import PacketTrack

#: Speakers on stage at once, and so audio tracks per listener.
MAX_STAGE = 4
#: Video tracks per listener (speakers' cameras, when forwarded).
VIDEO_SLOTS = 2
#: A slot's queue before the listener is connected (then every packet is sent at once): a few
#: 20 ms packets, so a new listener starts near the live edge.
AUDIO_QUEUE_PACKETS = 5
VIDEO_QUEUE_FRAMES = 30

ListenerRole = Literal["display", "host", "speaker"]


@dataclass(frozen=True, slots=True)
class ListenerKey:
    """Who listens: the room display, the host, or a speaker (who must not hear themselves)."""

    role: ListenerRole
    speaker_id: int | None = None

    def __post_init__(self) -> None:
        if (self.role == "speaker") != (self.speaker_id is not None):
            raise ValueError("a speaker listener needs a speaker_id, and only it")

    @classmethod
    def display(cls) -> ListenerKey:
        return cls("display")

    @classmethod
    def host(cls) -> ListenerKey:
        return cls("host")

    @classmethod
    def speaker(cls, speaker_id: int) -> ListenerKey:
        return cls("speaker", speaker_id)

    def __str__(self) -> str:
        return self.role if self.speaker_id is None else f"speaker {self.speaker_id}"


class VideoSlotTrack(PacketTrack):
    """A listener's video track: a PLI/FIR from the page also goes to ``on_keyframe_request``
    (the slot's speaker), since the track's own answer, skipping to a keyframe already queued,
    rarely has one: a connected listener's queue is empty."""

    def __init__(
        self, queue: PacketQueue, on_keyframe_request: Callable[[VideoSlotTrack], None]
    ) -> None:
        super().__init__("video", queue)
        self._on_keyframe_request = on_keyframe_request

    def request_keyframe(self) -> None:
        super().request_keyframe()
        self._on_keyframe_request(self)


class Listener(DialogPeer):
    """A listener's peer. After :meth:`answer`, ``audio[i]`` is slot ``i``'s track for each
    slot the offer negotiated (an offer with fewer audio sections gets fewer slots), and
    ``video[i]`` video slot ``i``'s. ``on_keyframe_request(i)`` gets the page's PLI/FIR of
    ``video[i]``."""

    role = "listener"

    def __init__(
        self,
        resource_id: str,
        key: ListenerKey,
        options: WebrtcOptions,
        host_addresses: tuple[str, ...] | None,
        *,
        slots: int = MAX_STAGE,
        video_slots: int = VIDEO_SLOTS,
        on_keyframe_request: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__(resource_id, options, host_addresses)
        self.key = key
        self._slots = slots
        self._video_slots = video_slots
        self._on_keyframe_request = on_keyframe_request
        self.audio: list[PacketTrack] = []
        self.video: list[PacketTrack] = []
        self._tracks: list[PacketTrack] = []

    async def answer(self, offer: str | bytes) -> str:
        """Negotiate the fixed tracks (Opus, H.264) against the page's offer; the answer."""
        text, _ = parse_offer(offer)  # an offer that could never connect holds no listener slot
        # Transceivers made before the offer is applied: aiortc matches the offer's sections to
        # them in order (audio section i ↔ slot i) and picks codecs from their preferences.
        audio = []
        for _ in range(self._slots):
            track = PacketTrack("audio", PacketQueue(AUDIO_QUEUE_PACKETS, keyframe_aware=False))
            transceiver = self.pc.addTransceiver(track, direction="sendonly")
            transceiver.setCodecPreferences(codecs_named("audio", ["opus"]))
            track.attach(transceiver.sender)
            audio.append((transceiver, track))
        video = []
        for _ in range(self._video_slots):
            track = VideoSlotTrack(
                PacketQueue(VIDEO_QUEUE_FRAMES, keyframe_aware=True), self._keyframe_request
            )
            transceiver = self.pc.addTransceiver(track, direction="sendonly")
            transceiver.setCodecPreferences(codecs_named("video", ["H264", "rtx"]))
            track.attach(transceiver.sender)
            video.append((transceiver, track))
        self._tracks = [track for _, track in audio + video]
        await self.apply_offer(text)
        # Only the tracks the offer took part in are slots; the others never send.
        self.audio = [track for transceiver, track in audio if transceiver.mid is not None]
        self.video = [track for transceiver, track in video if transceiver.mid is not None]
        if not self.audio:
            raise InvalidOffer("SDP offer has no audio section to receive the speakers")
        return await self.make_answer()

    def _keyframe_request(self, track: VideoSlotTrack) -> None:
        if self._on_keyframe_request is not None and track in self.video:
            self._on_keyframe_request(self.video.index(track))

    def video_counters(self) -> tuple[tuple[int, int], ...]:
        """``(frames sent, frames dropped)`` of each video slot."""
        return tuple((t.queue.stats.packets, t.queue.stats.dropped) for t in self.video)

    def slot_counters(self) -> tuple[tuple[int, int], ...]:
        """``(packets sent, packets dropped)`` of each audio slot."""
        return tuple((t.queue.stats.packets, t.queue.stats.dropped) for t in self.audio)

    @property
    def send_path(self) -> str:
        paths = {track.send_path for track in self.audio}
        return paths.pop() if len(paths) == 1 else "/".join(sorted(paths))

    async def _before_close(self) -> None:
        for track in self._tracks:
            track.stop()
