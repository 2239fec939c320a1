"""RemoteAudioBus: the voices of a live date's remote speakers as one continuous PCM stream.

One bus per live date. It owns a small jitter buffer per speaker and, every 20 ms, mixes the
speakers' next frames (silence when nobody speaks) for FFmpeg to read from a Unix socket as raw
audio (``-f s16le -ar 48000 -ac 2 -i unix:…``), the way it reads the other feeds. The stream
never stops while the date is live, so putting someone on or off stage only changes what
``write`` receives — the FFmpeg command that mixes the bus into the broadcast never changes.

The clock, the socket and each reader's pacing (bounded backlog, a stalled reader cut loose,
extra silence for a reader that waits for the bus because ``amix`` takes both inputs sample for
sample) are :class:`~streaming.dialog.paced.PacedStream`'s.

Format: 48 kHz stereo s16le, 20 ms = 3840 bytes per frame, the framing of
``streaming.dialog.pcm``. ``write`` and ``remove`` are called on the event loop's thread.
"""

from __future__ import annotations

import warnings
from array import array
from collections import deque
from pathlib import Path

from streaming.dialog.paced import PacedStream

with warnings.catch_warnings():
    # audioop is deprecated (gone in 3.13) but is the only C saturating s16 adder in the
    # standard library; numpy is not a dependency. The array fallback keeps 3.13 working.
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import audioop
    except ImportError:  # pragma: no cover - Python ≥ 3.13
        audioop = None  # type: ignore[assignment]

SAMPLE_RATE = 48_000
CHANNELS = 2
SAMPLE_BYTES = 2
FRAME_MS = 20
FRAME_S = FRAME_MS / 1000
FRAME_BYTES = SAMPLE_RATE * FRAME_MS // 1000 * CHANNELS * SAMPLE_BYTES  # 3840
SILENCE = bytes(FRAME_BYTES)


def mix_frames(frames: list[bytes]) -> bytes:
    """Sum s16le frames of equal length, saturating at the int16 limits instead of wrapping."""
    if not frames:
        return SILENCE
    if len(frames) == 1:
        return frames[0]
    if audioop is not None:
        mixed = frames[0]
        for frame in frames[1:]:
            mixed = audioop.add(mixed, frame, SAMPLE_BYTES)  # clips on overflow
        return mixed
    arrays = [array("h", frame) for frame in frames]  # pragma: no cover - Python ≥ 3.13
    total = [max(-32768, min(32767, sum(s))) for s in zip(*arrays, strict=True)]
    return array("h", total).tobytes()


class _Speaker:
    """A speaker's jitter buffer: plays once ``prefill`` frames are queued, drops the oldest
    beyond ``capacity``, and re-primes after running dry (network jitter absorbed, bounded
    delay)."""

    __slots__ = ("frames", "playing")

    def __init__(self, capacity: int) -> None:
        self.frames: deque[bytes] = deque(maxlen=capacity)
        self.playing = False


class RemoteAudioBus(PacedStream):
    def __init__(
        self,
        name: str,
        path: Path,
        *,
        jitter_frames: int = 6,
        prefill_frames: int = 2,
        max_backlog_ms: int = 200,
        stall_timeout_s: float = 2.0,
        max_burst: int = 50,
        starve_ticks: int = 5,
        catchup_ms: int = 2000,
        max_drift_ppm: int = 1000,
    ) -> None:
        if not 1 <= prefill_frames <= jitter_frames:
            raise ValueError("need 1 ≤ prefill_frames ≤ jitter_frames")
        super().__init__(
            name,
            path,
            frame_bytes=FRAME_BYTES,
            period_s=FRAME_S,
            max_backlog_frames=max_backlog_ms // FRAME_MS,
            stall_timeout_s=stall_timeout_s,
            max_burst=max_burst,
            starve_ticks=starve_ticks,
            catchup_frames=catchup_ms // FRAME_MS,
            max_drift=max_drift_ppm / 1_000_000,
        )
        self.jitter_frames = jitter_frames
        self.prefill_frames = prefill_frames
        self._speakers: dict[int, _Speaker] = {}
        self.frames_mixed = 0  # frames carrying at least one speaker
        self.speaker_frames_dropped = 0  # written frames that overflowed a jitter buffer

    # -- speakers -------------------------------------------------------------------------------

    def write(self, speaker_id: int, pcm: bytes) -> None:
        """Queue ``pcm`` (one or more whole 20 ms frames) from ``speaker_id``."""
        if not pcm or len(pcm) % FRAME_BYTES:
            raise ValueError(f"pcm must be whole {FRAME_BYTES}-byte frames (20 ms, s16le 48k/2)")
        speaker = self._speakers.get(speaker_id)
        if speaker is None:
            speaker = self._speakers[speaker_id] = _Speaker(self.jitter_frames)
        frames = speaker.frames
        for offset in range(0, len(pcm), FRAME_BYTES):
            if len(frames) == frames.maxlen:
                self.speaker_frames_dropped += 1  # the deque drops the oldest
            frames.append(bytes(pcm[offset : offset + FRAME_BYTES]))

    def remove(self, speaker_id: int) -> None:
        """Forget ``speaker_id`` and whatever of theirs is still queued (off stage, gone)."""
        self._speakers.pop(speaker_id, None)

    @property
    def speakers(self) -> frozenset[int]:
        return frozenset(self._speakers)

    async def aclose(self) -> None:
        await super().aclose()
        self._speakers.clear()

    # -- the mix --------------------------------------------------------------------------------

    def _next_frame(self) -> bytes:
        frames = []
        for speaker in self._speakers.values():
            queue = speaker.frames
            if not speaker.playing:
                if len(queue) < self.prefill_frames:
                    continue
                speaker.playing = True
            if queue:
                frames.append(queue.popleft())
            else:
                speaker.playing = False  # ran dry: wait for prefill again
        if not frames:
            return SILENCE
        self.frames_mixed += 1
        return mix_frames(frames)

    def _filler(self) -> bytes:
        return SILENCE
