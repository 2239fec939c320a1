"""The stage's camera slots of one occurrence: which speaker's camera each carries, the slot's
own 90 kHz clock, and the hand-off of each forwarded frame to every listener's video track of
that slot.

Like the audio slots (:mod:`streaming.dialog.slots`), a listener negotiates its video tracks
once, so the stage changes without renegotiation; each received frame becomes one
:class:`~streaming.webrtc.rtp.packets.MediaPacket` (the payloads as they arrived) shared by all
listeners, and a speaker's own listening peer is left out (mix-minus, for the picture too).

A slot starts every new speaker on a keyframe: after :meth:`VideoSlot.assign` (and after a
frame of the speaker was lost on the way in) it drops frames until one a decoder can start on,
and asks the speaker's browser for one (``request_keyframe``, a PLI) instead of waiting for its
next scheduled keyframe, which browsers send rarely.

``on_picture(index, speaker_id, frame)`` sees every frame the slot forwards (so a decoder there
starts on a keyframe too; it returns True when it needs one, e.g. it started in the middle of a
speaker's stream, and the slot asks the speaker), and ``on_picture(index, None, None)`` when the
slot goes dark or changes speaker: the picture-in-picture tiles of the broadcast
(:class:`~streaming.dialog.tiles.SpeakerTiles`) follow the slots this way.
"""

from __future__ import annotations

from collections.abc import Callable

from streaming.dialog.frames import Frame
from streaming.dialog.slots import SlotClock
from streaming.webrtc.hub import PacketQueue
from streaming.webrtc.rtp.packets import VIDEO_CLOCK, MediaPacket

#: (video slot, speaker or None, frame or None) → True if it needs a keyframe: see the module
#: docstring.
PictureCallback = Callable[[int, int | None, Frame | None], bool | None]
#: One frame at 30 fps in the 90 kHz clock: the least a slot's clock advances at a change.
MIN_VIDEO_STEP = 3000


class VideoSlot:
    """One camera slot of an occurrence's stage."""

    __slots__ = (
        "_clock",
        "_request_keyframe",
        "bytes",
        "dropped",
        "frames",
        "index",
        "on_picture",
        "outputs",
        "packets",
        "speaker_id",
        "waiting_for_keyframe",
    )

    def __init__(self, index: int, on_picture: PictureCallback | None = None) -> None:
        self.index = index
        self.on_picture = on_picture
        self.speaker_id: int | None = None
        #: ``(queue, own speaker id)`` per listener, as in the audio slots.
        self.outputs: list[tuple[PacketQueue, int | None]] = []
        self.packets = 0
        self.frames = 0
        self.bytes = 0
        #: Frames of the slot's speaker not forwarded while waiting for a keyframe.
        self.dropped = 0
        self.waiting_for_keyframe = True
        self._request_keyframe: Callable[[], None] | None = None
        self._clock = SlotClock(VIDEO_CLOCK, MIN_VIDEO_STEP)

    def assign(
        self, speaker_id: int | None, request_keyframe: Callable[[], None] | None = None
    ) -> None:
        """Carry ``speaker_id``'s camera from its next keyframe on (None: the slot goes dark);
        ``request_keyframe`` asks that speaker's browser for one and is called at once."""
        if self.on_picture is not None and self.speaker_id is not None:
            self.on_picture(self.index, None, None)
        self.speaker_id = speaker_id
        self._request_keyframe = request_keyframe if speaker_id is not None else None
        self._clock.restart()
        self.picture_lost()

    def picture_lost(self) -> None:
        """The speaker's stream cannot be decoded from here on (a frame was lost on the way
        in): wait for a keyframe and ask for one."""
        self.waiting_for_keyframe = True
        self.request_keyframe()

    def request_keyframe(self) -> None:
        """Ask the slot's speaker for a keyframe (a listener joined or lost the picture)."""
        if self._request_keyframe is not None:
            self._request_keyframe()

    def add_output(self, queue: PacketQueue, own_speaker_id: int | None) -> None:
        self.outputs.append((queue, own_speaker_id))

    def remove_output(self, queue: PacketQueue) -> None:
        self.outputs = [output for output in self.outputs if output[0] is not queue]

    def forward(self, speaker_id: int, frame: Frame) -> None:
        """One whole frame of ``speaker_id``: to every listener but the speaker's own. Ignored
        unless the speaker holds this slot; dropped until the first keyframe."""
        if speaker_id != self.speaker_id:
            return
        if self.waiting_for_keyframe:
            if not frame.keyframe:
                self.dropped += 1
                return
            self.waiting_for_keyframe = False
        packet = MediaPacket(
            frame.payloads,
            self._clock.map(frame.timestamp),
            is_keyframe=frame.keyframe,
            size=frame.size,
        )
        self.frames += 1
        self.packets += len(frame.payloads)
        self.bytes += frame.size
        for queue, own in self.outputs:
            if own != speaker_id:
                queue.put(packet)
        if self.on_picture is not None and self.on_picture(self.index, speaker_id, frame):
            self.request_keyframe()  # the picture's decoder cannot start on this frame
