"""One speaker's sending peer: the browser publishes its microphone (Opus) to Knoten.

Each received Opus packet is taken as it arrives, before aiortc's jitter buffer and decoder
(:func:`~streaming.webrtc.aiortc_boundary.tap_received_rtp`), and handed synchronously to
``sink(timestamp, payload)``: the stage forwards it as a packet to the listeners. The same
packets are decoded once, by aiortc's own receiver (its decoder thread; we read its track), into
20 ms PCM frames for ``on_pcm`` (the remote-audio bus). aiortc decodes every received audio
packet anyway, so reading its track adds no second decoder; decoding ourselves on the event loop
would have meant stopping aiortc's (a private switch) for no gain in cost.

Video (the camera): the first video section that sends H.264 the listeners can take
(packetization-mode 1, baseline/constrained baseline: what aiortc's listener transceivers
negotiate) is received with H.264 as its only codec, so a browser that offers VP8 and H.264
sends H.264 and its payloads can be forwarded unchanged. A camera offering only VP8 (or any
further video section) is answered ``inactive``: a listener's video track is negotiated once,
with one codec, and may carry any speaker; see docs/dialog.md. The received packets are taken
as they arrive (:func:`~streaming.webrtc.aiortc_boundary.tap_received_video_rtp`), regrouped into
whole frames (:class:`~streaming.dialog.frames.FrameAssembler`) and handed to ``video_sink``;
aiortc's decoder for them is stopped (:func:`~streaming.webrtc.aiortc_boundary.skip_decoding`),
so no picture is ever decoded here. :meth:`Publisher.request_keyframe` sends the browser a PLI,
at most one a second.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from streaming.dialog.frames import Frame, FrameAssembler
from streaming.dialog.pcm import PcmFramer
from streaming.dialog.peer import DialogPeer, codecs_named
from streaming.webrtc.aiortc_boundary import (
    MediaStreamError,
    MediaStreamTrack,
    RTCRtpReceiver,
    codecs_compatible,
    parse_sdp,
    send_picture_loss,
    skip_decoding,
    tap_received_rtp,
    tap_received_video_rtp,
)
from streaming.webrtc.errors import InvalidOffer
from streaming.webrtc.options import WebrtcOptions
from streaming.webrtc.sdp import parse_offer

log = logging.getLogger(__name__)

#: Least seconds between two PLIs to a speaker's browser: each makes it encode a keyframe (many
#: times a delta frame's size), and one keyframe serves every listener waiting for it.
KEYFRAME_REQUEST_INTERVAL_S = 1.0


def check_publish_offer(offer: str | bytes) -> tuple[str, list[bool]]:
    """The offer as text and, per video section, whether it is a camera this peer receives
    (it sends H.264 listeners can take; only the first such section). Raises
    :class:`InvalidOffer` unless the offer parses and its first audio section sends Opus."""
    text, description = parse_offer(offer)
    audio = [m for m in description.media if m.kind == "audio"]
    if not audio:
        raise InvalidOffer("SDP offer has no audio section (the microphone)")
    first = audio[0]
    if first.port == 0 or first.direction not in (None, "sendonly", "sendrecv"):
        raise InvalidOffer("SDP offer's audio section does not send")
    if not any(codec.mimeType.lower() == "audio/opus" for codec in first.rtp.codecs):
        raise InvalidOffer("SDP offer's audio is not Opus")
    h264 = codecs_named("video", ["H264"])
    cameras = []
    for section in (m for m in description.media if m.kind == "video"):
        sends = section.port != 0 and section.direction in (None, "sendonly", "sendrecv")
        fits = any(
            codecs_compatible(ours, theirs) for ours in h264 for theirs in section.rtp.codecs
        )
        cameras.append(sends and fits and not any(cameras))
    return text, cameras


class Publisher(DialogPeer):
    """A speaker's publishing peer. ``sink`` gets each Opus packet (``timestamp, payload``)
    while set; the stage clears it when the speaker leaves the stage. ``on_pcm(speaker_id,
    pcm)`` gets the decoded 20 ms frames, ``on_pcm_end(speaker_id)`` is called once after the
    last of them when the peer closes. With a camera (``has_camera`` after :meth:`answer`),
    ``video_sink`` gets each whole frame and ``on_picture_lost`` is called when one had to be
    dropped (both set by the stage while the speaker holds a video slot)."""

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
        self.video_sink: Callable[[Frame], None] | None = None
        self.on_picture_lost: Callable[[], None] | None = None
        self.has_camera = False
        self._video_receiver: RTCRtpReceiver | None = None
        self._video_payload_types: frozenset[int] = frozenset()
        self._video_ssrc: int | None = None
        self._frames = FrameAssembler(self._on_frame, self._on_loss)
        self._last_keyframe_request = -KEYFRAME_REQUEST_INTERVAL_S
        self._keyframe_timer: asyncio.TimerHandle | None = None
        self._keyframe_tasks: set[asyncio.Task[None]] = set()
        self.video_packets = 0
        self.video_bytes = 0
        self.keyframe_requests = 0

    async def answer(self, offer: str | bytes) -> str:
        """Negotiate: receive Opus (only) and the camera (H.264 only), answer any other video
        ``inactive``; return the answer."""
        text, cameras = check_publish_offer(offer)
        audio = self.pc.addTransceiver("audio", direction="recvonly")
        audio.setCodecPreferences(codecs_named("audio", ["opus"]))
        camera = None
        # In the offer's order: aiortc gives each video section the next unused transceiver.
        for is_camera in cameras:
            if is_camera:
                camera = self.pc.addTransceiver("video", direction="recvonly")
                # H.264 alone: what the listeners' tracks carry. No RTX: a repair arriving after
                # its frame was forwarded (or dropped) would be of no use to the listeners.
                camera.setCodecPreferences(codecs_named("video", ["H264"]))
            else:
                # No preferences: any codec aiortc knows makes the section answerable.
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
        if camera is not None and camera.mid is not None:
            video = next(m for m in parse_sdp(answer).media if m.rtp.muxId == camera.mid)
            self._video_payload_types = frozenset(
                c.payloadType for c in video.rtp.codecs if c.mimeType.lower() == "video/h264"
            )
            if video.direction == "recvonly" and self._video_payload_types:
                self.has_camera = True
                self._video_receiver = camera.receiver
                tap_received_video_rtp(camera.receiver, self._on_video_rtp)
                skip_decoding(camera.receiver)
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

    def _on_video_rtp(
        self,
        payload_type: int,
        sequence_number: int,
        timestamp: int,
        marker: bool,
        ssrc: int,
        payload: bytes,
    ) -> None:
        # Runs inside aiortc's packet handling, once per packet: keep it short.
        if payload_type not in self._video_payload_types or not payload:
            return
        self._video_ssrc = ssrc
        self.video_packets += 1
        self.video_bytes += len(payload)
        self._frames.push(sequence_number, timestamp, marker, payload)

    def _on_frame(self, frame: Frame) -> None:
        sink = self.video_sink
        if sink is not None:
            sink(frame)

    def _on_loss(self) -> None:
        on_picture_lost = self.on_picture_lost
        if on_picture_lost is not None:
            on_picture_lost()

    def request_keyframe(self) -> None:
        """Ask the browser for a keyframe (RTCP PLI): now, or when a second has passed since
        the last request (then one PLI answers all requests made meanwhile)."""
        if self._closed or not self.has_camera or self._keyframe_timer is not None:
            return
        loop = asyncio.get_running_loop()
        wait = self._last_keyframe_request + KEYFRAME_REQUEST_INTERVAL_S - loop.time()
        if wait > 0:
            self._keyframe_timer = loop.call_later(wait, self._send_keyframe_request)
        else:
            self._send_keyframe_request()

    def _send_keyframe_request(self) -> None:
        self._keyframe_timer = None
        receiver = self._video_receiver
        ssrc = self._video_ssrc
        if self._closed or receiver is None or ssrc is None:
            return  # nothing received yet: a browser's first frame is a keyframe anyway
        self._last_keyframe_request = asyncio.get_running_loop().time()
        self.keyframe_requests += 1
        task = asyncio.create_task(
            self._picture_loss(receiver, ssrc), name=f"dialog-publisher-pli-{self.id}"
        )
        self._keyframe_tasks.add(task)
        task.add_done_callback(self._keyframe_tasks.discard)

    async def _picture_loss(self, receiver: RTCRtpReceiver, ssrc: int) -> None:
        try:
            await send_picture_loss(receiver, ssrc)
        except Exception:  # a closing transport: the speaker is going anyway
            log.debug("PLI to speaker %s not sent", self.speaker_id, exc_info=True)

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
        self.video_sink = None
        self.on_picture_lost = None
        if self._keyframe_timer is not None:
            self._keyframe_timer.cancel()
            self._keyframe_timer = None
        tasks = list(self._keyframe_tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

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
