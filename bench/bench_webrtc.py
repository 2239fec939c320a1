"""WebRTC fan-out benchmark: server CPU per viewer, frames per viewer, time to first frame.

Usage: ``python -m bench.bench_webrtc [--workers W] [N ...]`` (default: 2 viewer workers, as the
service; 0 = viewers in the server process itself; N = 1 10 50 100 200).

This process is the server: a :class:`WebrtcRegistry` and a minimal WHEP endpoint, fed by FFmpeg
(its own process) with a 720p30 2 Mbps H.264 constrained-baseline + Opus MPEG-TS feed with a 1 s
GOP and 40 ms Opus frames, exactly the contract of the live pipeline. Server CPU is read from
``/proc/self/stat`` (utime + stime of every thread of this process, the feed reader included)
over a fixed window.

Viewers are aiortc peers (real ICE, DTLS-SRTP, RTCP) in separate worker processes, about 25 per
process, so the receiving side is never the bottleneck: once connected, a worker counts RTP
packets straight from the socket (the RTP header is not encrypted in SRTP) instead of letting
aiortc decrypt, reassemble and decode them. Frames = video packets with the marker bit; loss =
gaps in the sequence numbers. A separate process adds mid-stream joiners that decode for real and
report the time from their WHEP offer (and from DTLS connected) to their first decoded frame.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import web
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer, MediaRelay

from bench.common import Figure, serve_offers
from streaming.ffmpeg.spec import OPUS_FRAME_MS
from streaming.live.feed import FeedHub as LiveFeedHub
from streaming.webrtc import ViewerLimitReached, WebrtcOptions, WebrtcRegistry
from streaming.webrtc.ice import host_addresses_scope
from streaming.webrtc.shards import ShardedRegistry

# The feed is encoded once per run into a 10 s clip (ten whole GOPs) and played on a loop in
# real time without re-encoding: a live x264 encode took 0.4 of our 2 cores, which the server
# and the viewers' processes need. What the server gets is the same either way: the master's
# x264 settings, one slice per frame included (streaming/ffmpeg/spec.py, ``one_slice``).
CLIP_ENCODE = [
    "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
    "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "10",
    "-c:v", "libx264", "-profile:v", "baseline", "-preset", "veryfast", "-tune", "zerolatency",
    "-g", "30", "-keyint_min", "30", "-threads", "2",
    "-x264-params", "repeat-headers=1:sliced-threads=0",
    "-b:v", "2000k", "-maxrate", "2000k", "-bufsize", "1000k",
    "-c:a", "libopus", "-b:a", "96k", "-frame_duration", str(OPUS_FRAME_MS),
    "-ar", "48000", "-ac", "2", "-f", "mpegts",
]  # fmt: skip
FEED = [
    "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin",
    "-re", "-stream_loop", "-1", "-i", "{clip}", "-c", "copy", "-f", "mpegts",
]  # fmt: skip
WINDOW_S = 10.0
WARMUP_S = 3.0
PER_WORKER = 25
JOINERS = 20
#: Scheduling priority of the counting clients (KNOTEN_BENCH_CLIENT_NICE, 0 = the same as the
#: server). They stand in for viewers on other machines; on one small PC, with 0, hundreds of
#: them take as much of the cores as they can and the figures describe the PC, not the server.
CLIENT_NICE = int(os.environ.get("KNOTEN_BENCH_CLIENT_NICE", "0"))
TICKS = os.sysconf("SC_CLK_TCK")

# A worker: N light viewers. Reads commands on stdin ("snap", "quit"), answers JSON lines.
WORKER = r"""
import asyncio, json, os, socket, struct, sys, time, aiohttp
import aioice.ice as ice
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from streaming.webrtc.ice import host_addresses_scope

URL, COUNT = sys.argv[1], int(sys.argv[2])
COUNTERS = {}
UDP_GRO = 104  # linux/udp.h: deliver segmented sends as one datagram, with the segment size

class Counter:
    __slots__ = ("video_pt", "audio_pt", "frames", "video", "audio", "rtcp", "streams")
    def __init__(self):
        self.video_pt = self.audio_pt = None
        self.frames = self.video = self.audio = self.rtcp = 0
        self.streams = {}  # ssrc -> [base, highest extended seq, received]
    def feed(self, data):
        b1 = data[1]
        if 192 <= b1 <= 223:
            self.rtcp += 1
            return
        pt = b1 & 0x7F
        if pt == self.video_pt:
            self.video += 1
            if b1 & 0x80:
                self.frames += 1
        elif pt == self.audio_pt:
            self.audio += 1
        else:
            return
        self.sequence(bytes(data[8:12]), (data[2] << 8) | data[3])
    def sequence(self, ssrc, seq):
        # Extended highest sequence number and packets received, per SSRC (loss = the gap).
        s = self.streams.get(ssrc)
        if s is None:
            self.streams[ssrc] = [seq, seq, 1]
            return
        delta = (seq - s[1]) & 0xFFFF
        if delta < 0x8000:
            s[1] += delta
        s[2] += 1
    def feed_batch(self, data, size):
        # One GRO datagram: consecutive RTP packets of one stream (the sender's segmented send),
        # all of ``size`` bytes but the last. Counted at both ends, not packet by packet, so
        # that counting costs these processes little CPU.
        count = (len(data) + size - 1) // size
        if count == 1:
            self.feed(data)
            return
        pt = data[1] & 0x7F
        if pt == self.video_pt:
            self.video += count
            self.frames += sum(1 for at in range(1, len(data), size) if data[at] & 0x80)
        elif pt == self.audio_pt:
            self.audio += count
        else:
            return
        last = (count - 1) * size
        ssrc = bytes(data[8:12])
        self.sequence(ssrc, (data[2] << 8) | data[3])
        self.sequence(ssrc, (data[last + 2] << 8) | data[last + 3])
        self.streams[ssrc][2] += count - 2
    def lost(self):
        return sum(s[1] - s[0] + 1 - s[2] for s in self.streams.values())

original = ice.StunProtocol.datagram_received
def datagram_received(self, data, addr):
    if data and data[0] >= 128:  # RTP/RTCP: count it, never decrypt or decode
        counter = COUNTERS.get(id(self.receiver))
        if counter is not None:
            counter.feed(data)
            return
    original(self, data, addr)
ice.StunProtocol.datagram_received = datagram_received

def take_over(pc, counter):
    # Once connected, read the socket here: with UDP GRO a frame's segmented send arrives as
    # one datagram (split below by its segment size), so counting costs little CPU and the
    # receivers do not compete with the server for the two cores. STUN and DTLS still go to
    # aioice (consent freshness keeps the peer alive).
    loop = asyncio.get_running_loop()
    connection = pc.getTransceivers()[0].receiver.transport.transport._connection
    pair = connection._nominated[1]
    protocol = pair.protocol
    fd = protocol.transport.get_extra_info("socket").fileno()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, fileno=os.dup(fd))
    sock.setblocking(False)
    sock.setsockopt(socket.IPPROTO_UDP, UDP_GRO, 1)
    cmsg_space = socket.CMSG_SPACE(4)
    protocol.transport.pause_reading()  # asyncio's reader steps aside; ours takes the socket
    def readable():
        while True:
            try:
                data, ancillary, _, addr = sock.recvmsg(65536, cmsg_space)
            except BlockingIOError:
                return
            except OSError:
                loop.remove_reader(sock.fileno())
                return
            if not data or data[0] < 128:
                protocol.datagram_received(data, addr)
                continue
            size = 0
            for level, kind, value in ancillary:
                if level == socket.IPPROTO_UDP and kind == UDP_GRO:
                    fmt = "=H" if len(value) == 2 else "=i"
                    size = struct.unpack(fmt, value[: struct.calcsize(fmt)])[0]
            if size and size < len(data):
                counter.feed_batch(data, size)
            else:
                counter.feed(data)
    loop.add_reader(sock.fileno(), readable)
    return sock

def payload_type(sdp, kind):
    for line in sdp.splitlines():
        if line.startswith(f"m={kind} "):
            return int(line.split()[3])

async def viewer(session, peers, sem, socks):
    async with sem:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        peers.append(pc)
        pc.addTransceiver("video", direction="recvonly")
        pc.addTransceiver("audio", direction="recvonly")
        with host_addresses_scope(("127.0.0.1",)):
            await pc.setLocalDescription(await pc.createOffer())
        for _ in range(10):  # 503 busy: come back after Retry-After, as a player does
            async with session.post(URL, data=pc.localDescription.sdp,
                                    headers={"Content-Type": "application/sdp"}) as r:
                if r.status == 503:
                    await asyncio.sleep(float(r.headers.get("Retry-After", "1")))
                    continue
                assert r.status == 201, await r.text()
                answer = await r.text()
                break
        counter = Counter()
        counter.video_pt = payload_type(answer, "video")
        counter.audio_pt = payload_type(answer, "audio")
        connection = pc.getTransceivers()[0].receiver.transport.transport._connection
        COUNTERS[id(connection)] = counter
        await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        for _ in range(300):
            if pc.connectionState == "connected":
                break
            await asyncio.sleep(0.05)
        if pc.connectionState == "connected":
            socks.append(take_over(pc, counter))
        return counter

async def main():
    peers, socks = [], []
    sem = asyncio.Semaphore(5)
    async with aiohttp.ClientSession() as session:
        results = await asyncio.gather(*(viewer(session, peers, sem, socks) for _ in range(COUNT)),
                                       return_exceptions=True)
    counters = [c for c in results if isinstance(c, Counter)]
    errors = [repr(e) for e in results if not isinstance(e, Counter)]
    print(json.dumps({"connected": sum(p.connectionState == "connected" for p in peers),
                      "errors": errors[:3]}), flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if line.strip() == "snap":
            print(json.dumps({"t": time.monotonic(), "viewers": [
                [c.frames, c.video, c.audio, c.lost()] for c in counters]}), flush=True)
        else:
            break
    await asyncio.gather(*(pc.close() for pc in peers), return_exceptions=True)
    print(json.dumps({"closed": len(peers)}), flush=True)

asyncio.run(main())
"""

# Mid-stream joiners: real aiortc receivers that decode; one at a time, spread over the GOP.
JOINER = r"""
import asyncio, json, sys, time, aiohttp
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from streaming.webrtc.ice import host_addresses_scope
URL, COUNT = sys.argv[1], int(sys.argv[2])

async def join(session):
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    first = asyncio.get_running_loop().create_future()
    connected = {}
    @pc.on("connectionstatechange")
    def changed():
        if pc.connectionState == "connected":
            connected["t"] = time.monotonic()
    @pc.on("track")
    def on_track(track):
        if track.kind == "video":
            async def pull():
                try:
                    frame = await track.recv()
                    if not first.done():
                        first.set_result((time.monotonic(), frame.width, frame.height))
                except Exception as exc:
                    if not first.done():
                        first.set_exception(exc)
            asyncio.ensure_future(pull())
    with host_addresses_scope(("127.0.0.1",)):
        await pc.setLocalDescription(await pc.createOffer())
    t0 = time.monotonic()
    async with session.post(URL, data=pc.localDescription.sdp,
                            headers={"Content-Type": "application/sdp"}) as r:
        answer = await r.text()
    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    try:
        t1, width, height = await asyncio.wait_for(first, 10)
        return {"offer_ms": 1000 * (t1 - t0), "connected_ms": 1000 * (t1 - connected["t"]),
                "size": [width, height]}
    except Exception as exc:
        return {"error": repr(exc)}
    finally:
        await pc.close()

async def attempt(session):
    try:
        return await asyncio.wait_for(join(session), 15)
    except Exception as exc:  # a failed join is a figure (join_failures), not the end
        return {"error": repr(exc)}

async def main():
    out = []
    async with aiohttp.ClientSession() as session:
        # A first join warms this process up (imports, decoder, HTTP connection); not counted.
        warm = await attempt(session)
        for _ in range(COUNT):
            out.append(await attempt(session))
            await asyncio.sleep(0.37)  # join at different points of the GOP
    out.append({"warmup": warm})
    print(json.dumps(out), flush=True)

asyncio.run(main())
"""


_CLIP: list[Path] = []


async def feed_clip() -> Path:
    """The benchmark's source clip, encoded on first use (in a directory removed at exit)."""
    if not _CLIP:
        directory = tempfile.TemporaryDirectory(prefix="knoten-bench-")
        atexit.register(directory.cleanup)
        clip = Path(directory.name) / "clip.ts"
        process = await asyncio.create_subprocess_exec(*CLIP_ENCODE, str(clip))
        if await process.wait() != 0:
            raise RuntimeError("could not encode the benchmark clip")
        _CLIP.append(clip)
    return _CLIP[0]


async def report_setup(registry: WebrtcRegistry | ShardedRegistry, start: float) -> None:
    """While viewers connect: every 5 s to stderr, how many are in, connecting and waiting,
    how late the event loop runs and how busy the server is."""
    loop = asyncio.get_running_loop()
    server = server_pids(registry)
    cpu = cpu_seconds(server)
    while True:
        before = loop.time()
        await asyncio.sleep(5)
        late_ms = 1000 * (loop.time() - before - 5)
        now = cpu_seconds(server)
        print(
            f"setup {time.monotonic() - start:5.1f} s: {registry.viewer_count()} viewers, "
            f"{registry.connecting} connecting, "
            f"loop {late_ms:.0f} ms late, server {(now - cpu) / 5:.2f} cores",
            file=sys.stderr,
            flush=True,
        )
        cpu = now


def cpu_seconds(pids: tuple[int, ...] = (), *, include_self: bool = True) -> float:
    """utime + stime of this process (unless ``include_self`` is False) and of ``pids`` (all
    threads) from /proc."""
    names = (["self"] if include_self else []) + [str(pid) for pid in pids]
    total = 0.0
    for name in names:
        fields = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def server_pids(registry: WebrtcRegistry | ShardedRegistry) -> tuple[int, ...]:
    """The viewer worker processes, whose CPU is the server's too."""
    if isinstance(registry, ShardedRegistry):
        return tuple(s.process.pid for s in registry._shards if s.process is not None)
    return ()


def feed_frames(registry: WebrtcRegistry | ShardedRegistry, baseline: object) -> tuple[int, float]:
    """(video frames the feed has delivered, when that count was taken)."""
    if baseline is not None:
        return 0, 0.0
    if isinstance(registry, ShardedRegistry):
        shard = registry._shards[0]
        feed = shard.stats[1].feed
        return (0 if feed is None else feed.video_packets), shard.reported_at
    return registry._feeds[1].hub.stats.video_packets, time.monotonic()


async def wait_for_keyframes(registry: WebrtcRegistry | ShardedRegistry) -> None:
    """Until every reader of the feed has its first keyframe (new viewers start on it)."""
    for _ in range(400):
        if isinstance(registry, ShardedRegistry):
            reports = [s.stats[1].feed if 1 in s.stats else None for s in registry._shards]
            if all(r is not None and r.keyframes > 0 for r in reports):
                return
        elif registry._feeds[1].hub.has_keyframe.is_set():
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("the feed delivered no keyframe")


async def spawn(code: str, *args: str, nice: int = 0) -> asyncio.subprocess.Process:
    """A client process running ``code``; ``nice`` > 0 lowers its scheduling priority."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        preexec_fn=(lambda: os.nice(nice)) if nice else None,
    )  # fmt: skip


async def ask(workers: list[asyncio.subprocess.Process], command: str) -> list[dict]:
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write(command.encode() + b"\n")
        await worker.stdin.drain()
    replies = []
    for worker in workers:
        assert worker.stdout is not None
        replies.append(json.loads(await asyncio.wait_for(worker.stdout.readline(), 60)))
    return replies


class Reencoding:
    """The baseline: aiortc's usual way. The feed is decoded once (``MediaPlayer`` shared through
    ``MediaRelay``) and every viewer's sender encodes it again (H.264, Opus) for that viewer."""

    def __init__(self, sock: Path) -> None:
        self.sock = sock
        self.player: MediaPlayer | None = None
        self.relay = MediaRelay()
        self.peers: list[RTCPeerConnection] = []

    async def open(self) -> None:
        # MediaPlayer connects in its constructor (blocking): give it a thread.
        self.player = await asyncio.to_thread(
            MediaPlayer, f"unix:{self.sock}", format="mpegts", options={"probesize": "500000"}
        )

    async def answer(self, offer: str) -> str:
        assert self.player is not None and self.player.video is not None
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.peers.append(pc)
        video = pc.addTransceiver(self.relay.subscribe(self.player.video), direction="sendonly")
        video.setCodecPreferences(
            [c for c in RTCRtpSender.getCapabilities("video").codecs if "264" in c.mimeType]
        )
        if self.player.audio is not None:
            pc.addTransceiver(self.relay.subscribe(self.player.audio), direction="sendonly")
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        answer = await pc.createAnswer()
        with host_addresses_scope(("127.0.0.1",)):
            await pc.setLocalDescription(answer)
        return pc.localDescription.sdp

    async def aclose(self) -> None:
        await asyncio.gather(*(pc.close() for pc in self.peers), return_exceptions=True)
        if self.player is not None:
            for track in (self.player.video, self.player.audio):
                if track is not None:
                    track.stop()


async def measure(
    n: int, joiners: int = JOINERS, *, reencode: bool = False, workers: int = 0
) -> dict[str, object]:
    """One measurement with ``n`` counting viewers (0 = the feed alone); ``reencode`` measures
    the per-viewer re-encoding baseline instead of Knoten's fan-out; ``workers`` > 0 shards the
    viewers over that many worker processes (the service's default), whose CPU counts as the
    server's. The feed reaches the registry as in the service: FFmpeg pushes into the live
    pipeline's feed hub, which every reader (each worker) reads."""
    with tempfile.TemporaryDirectory() as tmp:
        sock = Path(tmp) / "feed.sock"
        feed_hub = LiveFeedHub("webrtc", sock, Path(tmp) / "feed-in.sock")
        await feed_hub.start()
        clip = await feed_clip()
        argv = [str(clip) if a == "{clip}" else a for a in FEED]
        feed = subprocess.Popen(  # noqa: ASYNC220
            [*argv, f"unix:{feed_hub.input_path}"], stdin=subprocess.DEVNULL
        )
        options = WebrtcOptions(host_addresses=("127.0.0.1",), max_viewers=n + joiners + 5)
        registry: WebrtcRegistry | ShardedRegistry = (
            ShardedRegistry(options, workers=workers) if workers else WebrtcRegistry(options)
        )
        baseline = Reencoding(sock) if reencode else None
        busy_replies: list[str] = []

        async def offer(request: web.Request) -> web.Response:
            body = await request.read()
            if baseline is not None:
                answer = await baseline.answer(body.decode())
            else:
                try:
                    _, answer = await registry.add_viewer(1, body)
                except ViewerLimitReached as exc:  # busy included: the client comes back
                    busy_replies.append(exc.code)
                    return web.Response(status=503, headers={"Retry-After": str(exc.retry_after_s)})
            return web.Response(status=201, text=answer, content_type="application/sdp")

        runner, url = await serve_offers(offer)
        clients: list[asyncio.subprocess.Process] = []
        try:
            if isinstance(registry, ShardedRegistry):
                await registry.start()
            if baseline is not None:
                await baseline.open()
            else:
                await registry.open(1, sock, "bench")
                await wait_for_keyframes(registry)
            count = math.ceil(n / PER_WORKER)
            shares = [n // count + (i < n % count) for i in range(count)] if n else []
            setup0 = time.monotonic()
            progress = asyncio.create_task(report_setup(registry, setup0))
            clients = [await spawn(WORKER, url, str(share), nice=CLIENT_NICE) for share in shares]
            ready = [
                json.loads(await asyncio.wait_for(c.stdout.readline(), 300))  # type: ignore[union-attr]
                for c in clients
            ]
            connected = sum(r["connected"] for r in ready)
            setup_s = time.monotonic() - setup0
            progress.cancel()
            await asyncio.sleep(WARMUP_S)
            server = server_pids(registry)
            frames0 = feed_frames(registry, baseline)
            before = await ask(clients, "snap") if clients else []
            client_pids = tuple(c.pid for c in clients)
            cpu0, wall0 = cpu_seconds(server), time.monotonic()
            client_cpu0 = cpu_seconds(client_pids, include_self=False)
            await asyncio.sleep(WINDOW_S)
            cpu1, wall1 = cpu_seconds(server), time.monotonic()
            client_cpu1 = cpu_seconds(client_pids, include_self=False)
            after = await ask(clients, "snap") if clients else []
            frames1 = feed_frames(registry, baseline)
            elapsed = frames1[1] - frames0[1]
            source_fps = (frames1[0] - frames0[0]) / elapsed if elapsed > 0 else 30.0
            # Mid-stream joiners, while the n viewers keep watching. The server's own view of
            # each join (offer in → first video frame sent) is kept apart from the client's, so
            # the server's share of a slow join can be told from a starved client.
            joined: list[dict] = []
            server_first = _record_first_frames(registry) if baseline is None else []
            if joiners:
                process = await spawn(JOINER, url, str(joiners))
                assert process.stdout is not None
                reply = await asyncio.wait_for(process.stdout.readline(), 30 + 16 * joiners)
                joined = json.loads(reply)
                await process.wait()
            stats = registry.stats(1)
            if clients:
                await ask(clients, "quit")
        finally:
            for client in clients:
                if client.returncode is None:
                    client.kill()
                await client.wait()
            if baseline is not None:
                await baseline.aclose()
            await registry.aclose()
            await runner.cleanup()
            feed.kill()
            feed.wait()
            await feed_hub.aclose()
    fps: list[float] = []
    packets = lost = 0
    for b, a in zip(before, after, strict=True):
        dt = a["t"] - b["t"]
        for vb, va in zip(b["viewers"], a["viewers"], strict=True):
            fps.append((va[0] - vb[0]) / dt)
            packets += (va[1] - vb[1]) + (va[2] - vb[2])
            lost += va[3] - vb[3]
    cores = (cpu1 - cpu0) / (wall1 - wall0)
    client_cores = (client_cpu1 - client_cpu0) / (wall1 - wall0)
    warmup = [j["warmup"] for j in joined if "warmup" in j]
    joined = [j for j in joined if "warmup" not in j]
    offer_ms = sorted(j["offer_ms"] for j in joined if "offer_ms" in j)
    conn_ms = sorted(j["connected_ms"] for j in joined if "connected_ms" in j)
    # The warm-up join is the first one the server saw: not counted, as at the client.
    server_ms = sorted(1000 * seconds for seconds in server_first[1:])

    def p95(values: list[float]) -> int:
        if not values:
            return -1
        return round(values[min(len(values) - 1, math.ceil(0.95 * len(values)) - 1)])

    return {
        "viewers": n,
        "connected": connected,
        "setup_s": round(setup_s, 1),
        "server_cores": round(cores, 4),
        "cores_per_viewer": round(cores / n, 5) if n else None,
        "source_fps": round(source_fps, 1),
        "fps_min": round(min(fps), 1) if fps else None,
        "fps_mean": round(statistics.mean(fps), 2) if fps else None,
        "rtp_packets": packets,
        "rtp_lost": lost,
        "queue_drops": stats.dropped,
        "busy_replies": len(busy_replies),
        "join_ttff_p95_ms": p95(offer_ms),
        "join_ttff_p50_ms": round(offer_ms[len(offer_ms) // 2]) if offer_ms else -1,
        "join_ttff_max_ms": round(offer_ms[-1]) if offer_ms else -1,
        "join_warmup_ms": round(warmup[0].get("offer_ms", -1)) if warmup else -1,
        "join_connected_to_frame_p95_ms": p95(conn_ms),
        "join_server_first_frame_p95_ms": p95(server_ms),
        "join_failures": sum("error" in j for j in joined),
        "load_avg": round(os.getloadavg()[0], 1),
        "client_cores": round(client_cores, 3),
        "client_nice": CLIENT_NICE,
    }


def _record_first_frames(registry: WebrtcRegistry | ShardedRegistry) -> list[float]:
    """From now on, each viewer's server-side time to its first frame (seconds from the offer
    reaching the server to the first video frame sent), as the registry observes it."""
    seen: list[float] = []
    histogram = registry.metrics.time_to_first_frame
    observe = histogram.observe

    def observe_and_keep(amount: float, *args: object, **kwargs: object) -> None:
        seen.append(amount)
        observe(amount, *args, **kwargs)  # type: ignore[arg-type]

    histogram.observe = observe_and_keep  # type: ignore[method-assign]
    return seen


#: The figures these are compared with: 200 viewers on a quiet machine, 2026-12-04.
BEFORE = {200: {"per_viewer": "0.00138 (2026-12-04)", "joiner_p95": "71 ms (2026-12-04)"}}


def passthrough_figures(n: int, r: dict[str, object], idle_cores: float) -> list[Figure]:
    per = (float(r["server_cores"]) - idle_cores) / n  # type: ignore[arg-type]
    before = BEFORE.get(n, {})
    return [
        Figure(f"{n} viewers: connected", float(r["connected"]), "count", f"= {n}"),  # type: ignore[arg-type]
        Figure(f"{n} viewers: load average (1 min) at the end", float(r["load_avg"]), "runnable"),  # type: ignore[arg-type]
        Figure(
            f"{n} viewers: the receiving clients' CPU (nice {r['client_nice']})",
            float(r["client_cores"]),  # type: ignore[arg-type]
            "cores",
        ),
        Figure(
            f"{n} viewers: server cores per viewer",
            per,
            "cores",
            "≤ 0.001",
            before.get("per_viewer", ""),
        ),
        Figure(
            f"{n} viewers: frames per viewer (mean, min)",
            float(r["fps_mean"] or 0),  # type: ignore[arg-type]
            "fps",
            f"= source {r['source_fps']}; min {r['fps_min']}",
        ),
        Figure(f"{n} viewers: RTP packets lost", float(r["rtp_lost"]), "packets", "0"),  # type: ignore[arg-type]
        Figure(
            f"{n} viewers: joiner first frame p95",
            float(r["join_ttff_p95_ms"]),  # type: ignore[arg-type]
            "ms",
            "≤ 100",
            before.get("joiner_p95", ""),
        ),
        Figure(
            f"{n} viewers: joiner first frame p95, server side (offer in → first frame sent)",
            float(r["join_server_first_frame_p95_ms"]),  # type: ignore[arg-type]
            "ms",
        ),
    ]


async def reencoding_baseline() -> dict[str, float]:
    """Server cores with 1 and 2 re-encoded viewers; the difference is one viewer's encoder."""
    one = await measure(1, joiners=0, reencode=True)
    two = await measure(2, joiners=0, reencode=True)
    return {
        "reencode_1_viewer_cores": float(one["server_cores"]),  # type: ignore[arg-type]
        "reencode_2_viewers_cores": float(two["server_cores"]),  # type: ignore[arg-type]
        "reencode_cores_per_viewer": round(
            float(two["server_cores"]) - float(one["server_cores"]),  # type: ignore[arg-type]
            4,
        ),
        "reencode_fps_min": float(two["fps_min"] or 0),  # type: ignore[arg-type]
    }


async def run() -> list[Figure]:
    """For ``make bench``: N from KNOTEN_BENCH_VIEWERS (default 1, 10, 50, 100, 200, 500) with
    KNOTEN_BENCH_WEBRTC_WORKERS viewer workers (default 2, as the service), as a table, then
    the re-encoding baseline and the ratio."""
    sizes = os.environ.get("KNOTEN_BENCH_VIEWERS", "1,10,50,100,200,500").split(",")
    workers = int(os.environ.get("KNOTEN_BENCH_WEBRTC_WORKERS", "2"))
    idle = await measure(0, joiners=0, workers=workers)
    idle_cores = float(idle["server_cores"])  # type: ignore[arg-type]
    figures = [Figure("server, feed alone", idle_cores, "cores")]
    per_viewer: dict[int, float] = {}
    for n in map(int, sizes):
        r = await measure(n, workers=workers)
        per_viewer[n] = (float(r["server_cores"]) - idle_cores) / n  # type: ignore[arg-type]
        figures += passthrough_figures(n, r, idle_cores)
    base = await reencoding_baseline()
    figures.append(
        Figure("re-encoding baseline: cores per viewer", base["reencode_cores_per_viewer"], "cores")
    )
    if per_viewer:
        largest = max(per_viewer)
        figures.append(
            Figure(
                f"re-encoding ÷ fan-out per viewer (at {largest})",
                base["reencode_cores_per_viewer"] / per_viewer[largest],
                "×",
            )
        )
    return figures


async def main(sizes: list[int], workers: int) -> None:
    idle = await measure(0, joiners=0, workers=workers)
    print(json.dumps({"workers": workers, "idle_server_cores": idle["server_cores"]}), flush=True)
    for n in sizes:
        result = await measure(n, workers=workers)
        result["marginal_cores_per_viewer"] = (
            round((result["server_cores"] - idle["server_cores"]) / n, 5)  # type: ignore[operator]
            if n
            else None
        )
        print(json.dumps(result), flush=True)
    print(json.dumps(await reencoding_baseline()), flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    workers = 2
    if args[:1] == ["--workers"]:
        workers, args = int(args[1]), args[2:]
    asyncio.run(main([int(a) for a in args] or [1, 10, 50, 100, 200], workers))
