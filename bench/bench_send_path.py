"""What one video frame costs to send to one viewer, by how the master is sliced.

Rerun: ``.venv/bin/python -m bench send_path`` (about 30 s).

The full fan-out benchmark (``bench_webrtc``) measures a whole server with hundreds of receiving
peers on the same two cores; its CPU figures move by 10-15 % between runs of the same code. This
one isolates the send path: the same 10 s clip encoded twice, once as x264's zerolatency tuning
slices it (one slice per encoder thread) and once one slice per frame (the master's
``one_slice``), packetized by the feed's own code (``streaming.webrtc.rtp.packets``), then every
frame sent through real :class:`~streaming.webrtc.rtp.stream.RtpStream` objects (AES-GCM, UDP
segmentation offload) to 50 loopback sockets. CPU is this thread's time around the sends only
(the receivers are drained outside it; the kernel's loopback delivery runs inside the send and
counts, as it does in the server). The two clips alternate over several rounds; the medians are
printed with the system calls per frame.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import struct
import subprocess
import tempfile
import time
from pathlib import Path

import av

from bench.common import Figure
from streaming.ffmpeg.spec import ONE_SLICE_OPTIONS
from streaming.webrtc.rtp.packets import MediaPacket, video_packet
from streaming.webrtc.rtp.srtp import AeadRtpCipher
from streaming.webrtc.rtp.stream import RtpStream

VIEWERS = 50
ROUNDS = 5
SSRC = 0x0BADCAFE
# One-byte extensions as aiortc serializes them: mid "0" (id 1), abs-send-time (id 3).
HEADER = struct.pack("!BBHII", 0x90, 102, 0, 0, SSRC) + b"\xbe\xde\x00\x02\x10\x30\x32\0\0\0\0\0"
ENCODE = [
    "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
    "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30", "-t", "10",
    "-c:v", "libx264", "-profile:v", "baseline", "-preset", "veryfast", "-tune", "zerolatency",
    "-g", "30", "-keyint_min", "30", "-b:v", "2000k", "-maxrate", "2000k", "-bufsize", "1000k",
]  # fmt: skip
VARIANTS = {
    "sliced (zerolatency, 2 threads)": ["-threads", "2"],
    # The master's own options, so that this measures what the live pipeline encodes.
    "one slice (master's one_slice)": [
        arg for key, value in ONE_SLICE_OPTIONS.items() for arg in (f"-{key}", str(value))
    ],
}


def frames_of(options: list[str], directory: Path) -> list[MediaPacket]:
    clip = directory / f"clip{len(os.listdir(directory))}.ts"
    subprocess.run([*ENCODE, *options, "-f", "mpegts", str(clip)], check=True)
    with av.open(str(clip)) as container:
        return [video_packet(p) for p in container.demux(video=0) if p.size]


async def _no_rtx(data: bytes) -> None:  # pragma: no cover - never called here
    raise AssertionError


def streams(receivers: list[socket.socket]) -> tuple[list[RtpStream], socket.socket]:
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.bind(("127.0.0.1", 0))
    sender.setblocking(False)
    sender.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    made = [
        RtpStream(
            payload_type=102,
            ssrc=SSRC,
            header=HEADER,
            abs_send_time_at=17,
            cipher=AeadRtpCipher.for_profile(b"SRTP_AEAD_AES_128_GCM", os.urandom(28)),
            protect=bytes,
            protect_rtcp=bytes,
            send_rtp=_no_rtx,
            sock=sender,
            address=receiver.getsockname(),
            sequence_number=1,
            timestamp_origin=0,
            rtx=None,
        )
        for receiver in receivers
    ]
    return made, sender


def drain(receivers: list[socket.socket]) -> int:
    count = 0
    for receiver in receivers:
        while True:
            try:
                receiver.recv(65536)
            except BlockingIOError:
                break
            count += 1
    return count


def send_all(frames: list[MediaPacket], receivers: list[socket.socket]) -> tuple[float, int]:
    """µs of this thread per frame and viewer, and datagrams that did not arrive."""
    sent, sender = streams(receivers)
    busy = 0.0
    expected = received = 0
    try:
        for packet in frames:
            start = time.thread_time()
            for stream in sent:
                stream.send(packet)
            busy += time.thread_time() - start
            expected += len(packet.payloads) * len(sent)
            received += drain(receivers)
    finally:
        for stream in sent:
            stream.close()
        sender.close()
    return 1e6 * busy / (len(frames) * len(sent)), expected - received


def calls_per_frame(frames: list[MediaPacket]) -> float:
    return statistics.mean(1 if len(f.payloads) == 1 else len(f.groups) for f in frames)


def measure() -> dict[str, dict[str, object]]:
    """Per clip: frames, packets and send calls per frame, µs per frame and viewer."""
    receivers = []
    for _ in range(VIEWERS):
        receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        receiver.bind(("127.0.0.1", 0))
        receiver.setblocking(False)
        receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        receivers.append(receiver)
    try:
        with tempfile.TemporaryDirectory(prefix="knoten-bench-") as tmp:
            clips = {name: frames_of(options, Path(tmp)) for name, options in VARIANTS.items()}
        costs: dict[str, list[float]] = {name: [] for name in clips}
        lost = dict.fromkeys(clips, 0)
        for _ in range(ROUNDS):
            for name, frames in clips.items():
                cost, missing = send_all(frames, receivers)
                costs[name].append(cost)
                lost[name] += missing
    finally:
        for receiver in receivers:
            receiver.close()
    return {
        name: {
            "clip": name,
            "frames": len(frames),
            "packets_per_frame": round(statistics.mean(len(f.payloads) for f in frames), 2),
            "send_calls_per_frame": round(calls_per_frame(frames), 2),
            "us_per_frame_and_viewer_median": round(statistics.median(costs[name]), 1),
            "rounds": [round(c, 1) for c in costs[name]],
            "datagrams_lost": lost[name],
            "load_avg": round(os.getloadavg()[0], 1),
        }
        for name, frames in clips.items()
    }


async def run() -> list[Figure]:
    results = measure()
    for result in results.values():
        print(json.dumps(result), flush=True)
    sliced, one = (results[name] for name in VARIANTS)
    return [
        Figure("send calls per frame, sliced", float(sliced["send_calls_per_frame"]), ""),  # type: ignore[arg-type]
        Figure("send calls per frame, one slice", float(one["send_calls_per_frame"]), ""),  # type: ignore[arg-type]
        Figure(
            "µs per frame and viewer, sliced",
            float(sliced["us_per_frame_and_viewer_median"]),  # type: ignore[arg-type]
            "µs",
        ),
        Figure(
            "µs per frame and viewer, one slice",
            float(one["us_per_frame_and_viewer_median"]),  # type: ignore[arg-type]
            "µs",
        ),
    ]


if __name__ == "__main__":
    asyncio.run(run())
