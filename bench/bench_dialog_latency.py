"""Dialog mouth-to-ear latency on loopback: a speaker's click to the room display (p95 ≤ 250 ms).

Rerun: ``.venv/bin/python -m bench dialog_latency`` (about 30 s, at most 60 s).

A real :class:`streaming.dialog.StageMedia` on 127.0.0.1 (``host_addresses=("127.0.0.1",)``, no
ICE servers) with one speaker on stage and two aiortc peers in this process, the ones of
tests/streaming/test_dialog_stage.py: a publisher (``Speaker`` with an ``OpusTrack``) sending a
click track — a 20 ms 1 kHz burst every 0.5 s, silence otherwise, encoded beforehand as one Opus
stream and paced at 20 ms — and a listener with the room display's key (``Ear``:
``ListenerKey.display()``, one recvonly audio section per slot) that decodes what it receives and
taps its RTP packets (``streaming.webrtc.aiortc_boundary.tap_received_rtp``).

Every latency starts when the packet carrying a click's first sample is handed to aiortc's sender
(``OpusTrack.recv`` returns it; a browser would hand it over about 20 ms after capturing the
sample, plus encoding, which is not in here) and ends, on the same ``time.monotonic`` clock:

- forwarded packet: that payload arrives at the listener's receiver (RTP, before aiortc's jitter
  buffer and decoder);
- mouth-to-ear: the listener's decoded 20 ms frame first has an RMS above 2,000 (the click's is
  ≈ 8,500, silence 0); aiortc's receiver holds a few packets before decoding, as a browser's
  jitter buffer would;
- PCM path: the first 20 ms frame StageMedia hands to ``on_pcm`` (what the remote-audio bus gets)
  with an RMS above 2,000.

A click not seen within 0.45 s counts as lost for that figure. The first and the last click are
not counted. Both peers, the stage and the measuring share this process's event loop and the
machine's cores with whatever else runs: the load averages are in the table.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time

from bench.common import Figure, percentile
from streaming.dialog import ListenerKey, StageMedia
from tests.streaming.test_dialog_stage import (
    CLICK_EVERY,
    OCCURRENCE,
    OPTIONS,
    Click,
    Ear,
    OpusTrack,
    Speaker,
    click_track,
    clicks,
    rms,
)
from tests.support.webrtc_peers import until

SPEAKER_ID = 1
#: Clicks counted; two more are sent (the first and the last are not counted).
CLICKS = 40
FRAMES = (CLICKS + 2) * CLICK_EVERY + 1
TIMEOUT_S = 60.0


def _progress(text: str) -> None:
    print(f"[dialog_latency] {text}", file=sys.stderr, flush=True)


async def _measure(stage: StageMedia, pcm: list[tuple[float, float]]) -> list[Click]:
    peers: list[Speaker | Ear] = []
    try:
        stage.set_stage(OCCURRENCE, {SPEAKER_ID})
        display = Ear()
        peers.append(display)
        _, answer = await stage.listen(OCCURRENCE, ListenerKey.display(), await display.offer())
        await display.accept(answer)
        track = OpusTrack(click_track(FRAMES))
        speaker = Speaker(track)
        peers.append(speaker)
        _, answer = await stage.publish(OCCURRENCE, SPEAKER_ID, await speaker.offer())
        await speaker.accept(answer)
        slot = stage.snapshot(OCCURRENCE).slots.index(SPEAKER_ID)
        await until(lambda: display.packets[slot] > 0)
        _progress(f"connected; {CLICKS + 2} clicks, {FRAMES * 0.02:.0f} s")
        while len(track.sent) < FRAMES:
            await asyncio.sleep(min(5.0, (FRAMES - len(track.sent)) * 0.02 + 0.05))
            _progress(f"{len(track.sent) * 0.02:.0f} s of {FRAMES * 0.02:.0f} s sent")
        await asyncio.sleep(0.5)  # the last counted click is heard by now
        return clicks(track.sent[:FRAMES], display.payloads[slot], display.loud_at[slot], pcm)
    finally:
        await stage.aclose()
        for peer in peers:
            await peer.close()


def _figures(label: str, values: list[float | None], target: str = "") -> list[Figure]:
    seen = [value * 1000 for value in values if value is not None]
    if not seen:
        return [Figure(f"{label}: no click seen", len(values), "clicks lost")]
    return [
        Figure(f"{label}, p50", statistics.median(seen), "ms"),
        Figure(f"{label}, p95", percentile(seen, 95), "ms", target),
        Figure(f"{label}, max", max(seen), "ms"),
        Figure("  clicks lost (not seen within 0.45 s)", len(values) - len(seen), "clicks"),
    ]


async def run() -> list[Figure]:
    load_before = os.getloadavg()[0]
    pcm: list[tuple[float, float]] = []  # (time, RMS) of every frame handed to on_pcm
    stage = StageMedia(
        OPTIONS, on_pcm=lambda o, s, frame: pcm.append((time.monotonic(), rms(frame)))
    )
    async with asyncio.timeout(TIMEOUT_S):
        found = await _measure(stage, pcm)
    if stage.peer_count():
        raise RuntimeError("a peer outlived StageMedia.aclose")
    load_after = os.getloadavg()[0]
    _progress(f"{len(found)} clicks measured")
    return [
        Figure("machine cores (os.cpu_count)", os.cpu_count() or 0, "cores"),
        Figure("  load average (1 min) before", load_before, "runnable"),
        Figure("  load average (1 min) after", load_after, "runnable"),
        Figure("clicks counted (one every 0.5 s)", len(found), "clicks", "≥ 30"),
        *_figures(
            "mouth-to-ear: handed to sender → decoded at display",
            [c.decoded for c in found],
            "≤ 250",
        ),
        *_figures(
            "forwarded packet: handed to sender → display's RTP", [c.forwarded for c in found]
        ),
        *_figures("PCM path: handed to sender → on_pcm frame", [c.pcm for c in found]),
    ]
