"""WebRTC fan-out benchmark: server CPU per viewer, frames per viewer, time to first frame.

Usage: ``python -m bench.bench_webrtc [N ...]`` (default 1 10 50 100 200).

This process is the server (WebrtcRegistry + a small WHEP endpoint); FFmpeg produces the 720p30
2 Mbps feed in its own process, and the viewers run in a separate Python process (their CPU is not
counted). Viewers count frames after depacketizing without decoding them (200 software H.264
decoders would measure the client, not the server); the mid-stream joiners that measure time to
first frame decode for real.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import web

from streaming.webrtc import WebrtcOptions, WebrtcRegistry

FEED = [
    "ffmpeg",
    "-hide_banner",
    "-loglevel",
    "error",
    "-nostdin",
    "-re",
    "-f",
    "lavfi",
    "-i",
    "testsrc2=size=1280x720:rate=30",
    "-f",
    "lavfi",
    "-i",
    "sine=frequency=440:sample_rate=48000",
    "-c:v",
    "libx264",
    "-profile:v",
    "baseline",
    "-preset",
    "veryfast",
    "-tune",
    "zerolatency",
    "-g",
    "30",
    "-keyint_min",
    "30",
    "-x264-params",
    "repeat-headers=1",
    "-b:v",
    "2000k",
    "-c:a",
    "libopus",
    "-ar",
    "48000",
    "-ac",
    "2",
    "-f",
    "mpegts",
    "-listen",
    "1",
]
WINDOW_S = 8.0

CLIENT = r"""
import asyncio, json, sys, time, aiohttp
from aiortc import RTCPeerConnection, RTCConfiguration, RTCSessionDescription
import aiortc.rtcrtpreceiver as rx
from streaming.webrtc.ice import host_addresses_scope
URL, N, JOINERS = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
real_get_decoder = rx.get_decoder
class Counting:
    def decode(self, frame):
        return []
counts = []
async def viewer(session, decode):
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("video", direction="recvonly"); pc.addTransceiver("audio", direction="recvonly")
    state = {"frames": 0, "first": None}
    rx.get_decoder = real_get_decoder if decode else (lambda codec: Counting())
    def on_track(track):
        if track.kind != "video" or decode:
            async def pull():
                try:
                    while True:
                        await track.recv()
                        if state["first"] is None: state["first"] = time.monotonic()
                except Exception:
                    pass
            asyncio.ensure_future(pull())
    pc.on("track", on_track)
    with host_addresses_scope(("127.0.0.1",)):
        await pc.setLocalDescription(await pc.createOffer())
    t0 = time.monotonic()
    async with session.post(URL, data=pc.localDescription.sdp) as r:
        answer = await r.text()
    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    return pc, state, t0
async def main():
    async with aiohttp.ClientSession() as s:
        viewers = []
        for i in range(N):
            viewers.append(await viewer(s, False))
        # Frames = complete H.264 frames out of the jitter buffer: count decoder calls.
        orig = Counting.decode
        frames = {}
        def decode(self, frame):
            frames[id(self)] = frames.get(id(self), 0) + 1
            return []
        Counting.decode = decode
        await asyncio.sleep(3)
        print(json.dumps({"ready": len(frames)}), flush=True)
        sys.stdin.readline()
        a = dict(frames); t = time.monotonic()
        await asyncio.sleep(float(sys.argv[4]))
        b = dict(frames); dt = time.monotonic() - t
        rates = sorted((b.get(k, 0) - a.get(k, 0)) / dt for k in b)
        ttff = []
        for _ in range(JOINERS):
            pc, st, t0 = await viewer(s, True)
            for _ in range(100):
                if st["first"]: break
                await asyncio.sleep(0.02)
            if st["first"]: ttff.append(st["first"] - t0)
            await pc.close()
            await asyncio.sleep(0.37)  # join at different points of the GOP
        print(json.dumps({"rates": rates, "ttff": ttff}), flush=True)
        for pc, _, _ in viewers: await pc.close()
asyncio.run(main())
"""


async def run(n: int, joiners: int = 10) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        sock = Path(tmp) / "feed.sock"
        feed = subprocess.Popen([*FEED, f"unix:{sock}"], stdin=subprocess.DEVNULL)
        registry = WebrtcRegistry(
            WebrtcOptions(host_addresses=("127.0.0.1",), max_viewers=n + joiners + 5)
        )

        async def offer(request: web.Request) -> web.Response:
            _, answer = await registry.add_viewer(1, await request.read())
            return web.Response(status=201, text=answer, content_type="application/sdp")

        app = web.Application()
        app.router.add_post("/whep", offer)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            while not sock.exists():
                await asyncio.sleep(0.02)
            await registry.open(1, sock, "bench")
            client = await asyncio.create_subprocess_exec(
                sys.executable, "-c", CLIENT, f"http://127.0.0.1:{port}/whep", str(n),
                str(joiners), str(WINDOW_S),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            assert client.stdout is not None and client.stdin is not None
            json.loads(await client.stdout.readline())
            cpu0, wall0 = time.process_time(), time.monotonic()
            client.stdin.write(b"go\n")
            await client.stdin.drain()
            result = json.loads(await client.stdout.readline())
            cpu = (time.process_time() - cpu0) / (time.monotonic() - wall0)
            stats = registry.stats(1)
            await client.wait()
        finally:
            await registry.aclose()
            await runner.cleanup()
            feed.kill()
            feed.wait()
    rates, ttff = result["rates"], sorted(result["ttff"])
    return {
        "viewers": n,
        "server_cores": round(cpu, 4),
        "cores_per_viewer": round(cpu / n, 5),
        "fps_min": round(min(rates), 1) if rates else 0.0,
        "fps_mean": round(statistics.mean(rates), 1) if rates else 0.0,
        "dropped": stats.get("dropped", 0),  # type: ignore[dict-item]
        "ttff_p95_ms": round(1000 * ttff[int(0.95 * (len(ttff) - 1))]) if ttff else -1,
        "ttff_max_ms": round(1000 * ttff[-1]) if ttff else -1,
    }


async def main(sizes: list[int]) -> None:
    print("viewers server_cores cores/viewer fps_min fps_mean dropped ttff_p95_ms ttff_max_ms")
    for n in sizes:
        r = await run(n)
        print(" ".join(str(v) for v in r.values()), flush=True)


if __name__ == "__main__":
    asyncio.run(main([int(a) for a in sys.argv[1:]] or [1, 10, 50, 100, 200]))
