"""One speaker's sending peer: the browser publishes its microphone (Opus) to Knoten.

Each received Opus packet is taken as it arrives, before aiortc's jitter buffer and decoder
(:func:`~streaming.webrtc.aiortc_boundary.tap_received_rtp`), and handed synchronously to
``sink(timestamp, payload)``: the stage forwards it as a packet to the listeners. The same
packets are decoded once, by aiortc's own receiver (its decoder thread; we read its track), into
20 ms PCM frames for ``on_pcm`` (the remote-audio bus). aiortc decodes every received audio
packet anyway, so reading its track adds no second decoder; decoding ourselves on the event loop
would have meant stopping aiortc's (a private switch) for no gain in cost.

Video: a camera m-line in the offer is answered ``inactive`` for now (no forwarding of video
yet), so the browser sends none and aiortc decodes none.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from streaming.dialog.pcm import PcmFramer
from streaming.dialog.peer import DialogPeer, codecs_named
from streaming.webrtc.aiortc_boundary import (
    MediaStreamError,
    MediaStreamTrack,
    parse_sdp,
    tap_received_rtp,
)
from streaming.webrtc.errors import InvalidOffer
from streaming.webrtc.options import WebrtcOptions
from streaming.webrtc.sdp import parse_offer

log = logging.getLogger(__name__)


def check_publish_offer(offer: str | bytes) -> tuple[str, int]:
    """The offer as text and the number of its video sections. Raises :class:`InvalidOffer`
    unless the offer parses and its first audio section sends Opus."""
    text, description = parse_offer(offer)
    audio = [m for m in description.media if m.kind == "audio"]
    if not audio:
        raise InvalidOffer("SDP offer has no audio section (the microphone)")
    first = audio[0]
    if first.port == 0 or first.direction not in (None, "sendonly", "sendrecv"):
        raise InvalidOffer("SDP offer's audio section does not send")
    if not any(codec.mimeType.lower() == "audio/opus" for codec in first.rtp.codecs):
        raise InvalidOffer("SDP offer's audio is not Opus")
    return text, sum(1 for m in description.media if m.kind == "video")


class Publisher(DialogPeer):
    """A speaker's publishing peer. ``sink`` gets each Opus packet (``timestamp, payload``)
    while set; the stage clears it when the speaker leaves the stage. ``on_pcm(speaker_id,
    pcm)`` gets the decoded 20 ms frames, ``on_pcm_end(speaker_id)`` is called once after the
    last of them when the peer closes."""

    role = "publisher"

    def __init__(
        self,
        resource_id: str,
        speaker_id: int,
        options: WebrtcOptions,
        host_addresses: tuple[str, ...] | None,
        *,
        sink: Callable[[int, bytes], None] | None,
        on_pcm: Callable[[int, bytes], None] | None = None,
        on_pcm_end: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__(resource_id, options, host_addresses)
        self.speaker_id = speaker_id
        self.sink = sink
        self._on_pcm = on_pcm
        self._on_pcm_end = on_pcm_end
        self._opus_payload_type: int | None = None
        self._pcm_task: asyncio.Task[None] | None = None
        self.packets = 0
        self.bytes = 0
        self.pcm_frames = 0

    async def answer(self, offer: str | bytes) -> str:
        """Negotiate: receive Opus (only), answer any video ``inactive``; return the answer."""
        text, video_sections = check_publish_offer(offer)
        audio = self.pc.addTransceiver("audio", direction="recvonly")
        audio.setCodecPreferences(codecs_named("audio", ["opus"]))
        for _ in range(video_sections):
            self.pc.addTransceiver("video", direction="inactive")
        await self.apply_offer(text)
        track = audio.receiver.track
        if track is None:
            raise InvalidOffer("SDP offer's audio section does not send")
        # Installed before the answer: no RTP can arrive before DTLS, which needs the answer.
        tap_received_rtp(audio.receiver, self._on_rtp)
        answer = await self.make_answer()
        section = next(m for m in parse_sdp(answer).media if m.kind == "audio")
        self._opus_payload_type = next(
            c.payloadType for c in section.rtp.codecs if c.mimeType.lower() == "audio/opus"
        )
        self._pcm_task = asyncio.create_task(
            self._decode(track), name=f"dialog-publisher-pcm-{self.id}"
        )
        return answer

    def _on_rtp(
        self, payload_type: int, sequence_number: int, timestamp: int, payload: bytes
    ) -> None:
        # Runs inside aiortc's packet handling, once per packet: keep it short.
        if payload_type != self._opus_payload_type or not payload:
            return
        self.packets += 1
        self.bytes += len(payload)
        sink = self.sink
        if sink is not None:
            sink(timestamp, payload)

    async def _decode(self, track: MediaStreamTrack) -> None:
        """Read aiortc's decoded frames (always: its queue is unbounded) and pass them on."""
        framer = PcmFramer()
        on_pcm = self._on_pcm
        try:
            while True:
                frame = await track.recv()
                if on_pcm is None:
                    continue
                for pcm in framer.push(frame):
                    self.pcm_frames += 1
                    try:
                        on_pcm(self.speaker_id, pcm)
                    except Exception:  # the bus's problem must not end the speaker's peer
                        log.exception("on_pcm failed for speaker %s", self.speaker_id)
        except MediaStreamError:
            pass

    async def _before_close(self) -> None:
        self.sink = None

    async def _after_close(self) -> None:
        task = self._pcm_task
        if task is not None:
            # The receiver stopped with the peer, so the track ends; cancel in case it had not.
            await asyncio.wait({task}, timeout=1.0)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            # After the last on_pcm; only a publisher that was answered ever produced PCM.
            if self._on_pcm_end is not None:
                try:
                    self._on_pcm_end(self.speaker_id)
                except Exception:
                    log.exception("on_pcm_end failed for speaker %s", self.speaker_id)
