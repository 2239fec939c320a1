"""Decoded speech as the remote-audio bus takes it: 20 ms frames of 48 kHz stereo s16le.

aiortc's Opus decoder already yields 48 kHz stereo s16 (packed); browsers send 20 ms frames,
but any Opus frame length (10–120 ms) is allowed, so the samples are cut into 20 ms pieces
here, and anything in another format is resampled first.
"""

from __future__ import annotations

import math
from array import array

import av

SAMPLE_RATE = 48_000
CHANNELS = 2
#: 20 ms × 48 kHz × 2 channels × 2 bytes.
PCM_FRAME_BYTES = SAMPLE_RATE // 50 * CHANNELS * 2


class PcmFramer:
    """Turns decoded ``av.AudioFrame``\\ s into 20 ms s16le stereo 48 kHz byte strings."""

    def __init__(self) -> None:
        self._pending = bytearray()
        self._resampler: av.AudioResampler | None = None

    def push(self, frame: av.AudioFrame) -> list[bytes]:
        """The complete 20 ms frames now available (the rest waits for the next frame)."""
        if (
            frame.format.name == "s16"
            and frame.layout.name == "stereo"
            and frame.sample_rate == SAMPLE_RATE
        ):
            frames = [frame]
        else:
            if self._resampler is None:
                self._resampler = av.AudioResampler(format="s16", layout="stereo", rate=SAMPLE_RATE)
            frames = self._resampler.resample(frame)
        pending = self._pending
        for piece in frames:
            # The plane may be padded beyond the samples (alignment).
            pending += memoryview(piece.planes[0])[: piece.samples * CHANNELS * 2]
        out = []
        while len(pending) >= PCM_FRAME_BYTES:
            out.append(bytes(pending[:PCM_FRAME_BYTES]))
            del pending[:PCM_FRAME_BYTES]
        return out


def tone_frames(hz: float, seconds: float, amplitude: int = 8000) -> list[bytes]:
    """A continuous sine as 20 ms frames in the bus's format: a stand-in speaker for checks and
    benchmarks (a tone's band is easy to find again in what partners and the recording got)."""
    per_frame = PCM_FRAME_BYTES // (CHANNELS * 2)
    frames = []
    for index in range(round(seconds * 50)):
        samples = array("h")
        for n in range(index * per_frame, (index + 1) * per_frame):
            value = round(amplitude * math.sin(2 * math.pi * hz * n / SAMPLE_RATE))
            samples.extend((value,) * CHANNELS)
        frames.append(samples.tobytes())
    return frames
