"""Proves the nginx-rtmp partner fixtures with real FFmpeg pushes (harness self-tests).

What later broadcast tests rely on: a push arrives and can be read back live with ffprobe, the
partner records an FLV with both streams, stopping leaves no nginx process, a stopped partner
refuses and comes back on the same URL, a frozen one hangs, and two partners run side by side.
"""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.support.nginx_rtmp import NginxRtmpPartner
from tests.support.ports import port_accepts
from tests.support.processes import is_alive

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]

SOURCE = [
    "-re",
    "-f",
    "lavfi",
    "-i",
    "testsrc2=size=320x240:rate=30",
    "-f",
    "lavfi",
    "-i",
    "sine=frequency=440:sample_rate=48000",
]
# Short GOP and zerolatency: a reader joining mid-stream gets a keyframe within a second.
ENCODE = ["-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-g", "30"]
ENCODE += ["-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k"]


async def run(argv: list[str], timeout_s: float) -> tuple[int, str, str]:
    """Run a process to completion (killed after ``timeout_s``); return (rc, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


async def start_push(url: str, seconds: float) -> asyncio.subprocess.Process:
    """ffmpeg pushing ``seconds`` of test pattern + tone to ``url`` in real time."""
    return await asyncio.create_subprocess_exec(
        "ffmpeg",
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        *SOURCE,
        "-t",
        str(seconds),
        *ENCODE,
        "-f",
        "flv",
        url,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


async def finish(proc: asyncio.subprocess.Process, timeout_s: float) -> tuple[int, str]:
    """Wait for a push to end by itself; kill it if it overruns. Returns (rc, stderr)."""
    try:
        _out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, (err or b"").decode(errors="replace")


async def probe_streams(target: str | Path, timeout_s: float = 10.0) -> list[dict[str, Any]]:
    """ffprobe's stream list for a file or URL."""
    rc, out, err = await run(
        ["ffprobe", "-v", "error", "-of", "json", "-show_streams", str(target)], timeout_s
    )
    assert rc == 0, f"ffprobe {target} failed ({rc}): {err}"
    return list(json.loads(out)["streams"])


def assert_h264_aac_320x240(streams: list[dict[str, Any]]) -> None:
    by_type = {s["codec_type"]: s for s in streams}
    assert set(by_type) == {"video", "audio"}, streams
    assert by_type["video"]["codec_name"] == "h264"
    assert (by_type["video"]["width"], by_type["video"]["height"]) == (320, 240)
    assert by_type["audio"]["codec_name"] == "aac"


def assert_no_process_left(partner: NginxRtmpPartner, pid: int) -> None:
    assert not is_alive(pid, count_zombies=True), f"nginx {pid} still in /proc"
    assert partner.processes() == []


async def test_push_is_readable_live_and_recorded(nginx_partner: NginxRtmpPartner) -> None:
    url = nginx_partner.url("seminar")
    pid = nginx_partner.pid
    assert pid is not None
    assert url == f"rtmp://127.0.0.1:{nginx_partner.rtmp_port}/live/seminar"

    push = await start_push(url, seconds=3)
    try:
        await nginx_partner.wait_for_publisher("seminar", timeout_s=5)
        # Read back while the push is live: what a partner's player would see.
        assert_h264_aac_320x240(await probe_streams(url, timeout_s=8))
    finally:
        rc, err = await finish(push, timeout_s=10)
    assert rc == 0, err

    await nginx_partner.stop()
    assert_no_process_left(nginx_partner, pid)

    # `record all` records publishers only: the live ffprobe read above adds no file.
    (recording,) = nginx_partner.recordings("seminar")
    assert recording.stat().st_size > 50_000
    assert_h264_aac_320x240(await probe_streams(recording))
    assert nginx_partner.errors_in_log() == []


async def test_refused_partner_comes_back_on_same_port(nginx_partner: NginxRtmpPartner) -> None:
    url = nginx_partner.url("k")
    port = nginx_partner.rtmp_port
    first_pid = nginx_partner.pid
    assert first_pid is not None

    await nginx_partner.refuse()
    assert_no_process_left(nginx_partner, first_pid)
    assert not await port_accepts("127.0.0.1", port)
    # A failing partner fails fast: ffmpeg gets "connection refused", not a hang.
    rc, err = await finish(await start_push(url, seconds=1), timeout_s=10)
    assert rc != 0
    assert "Connection refused" in err, err

    await nginx_partner.accept()
    assert nginx_partner.rtmp_port == port and nginx_partner.url("k") == url
    assert nginx_partner.pid not in (None, first_pid)
    rc, err = await finish(await start_push(url, seconds=1), timeout_s=10)
    assert rc == 0, err
    await nginx_partner.stop()
    assert len(nginx_partner.recordings("k")) == 1
    assert_h264_aac_320x240(await probe_streams(nginx_partner.recordings("k")[0]))


async def test_frozen_partner_accepts_tcp_but_never_answers(
    nginx_partner: NginxRtmpPartner,
) -> None:
    def rtmp_handshake_reply(timeout: float) -> bytes:
        # C0 (version 3) + C1 (1536 bytes); a live server answers with S0 = 0x03 at once.
        with socket.create_connection(("127.0.0.1", nginx_partner.rtmp_port), timeout) as sock:
            sock.sendall(b"\x03" + bytes(1536))
            try:
                return sock.recv(1)
            except TimeoutError:
                return b""

    assert await asyncio.to_thread(rtmp_handshake_reply, 2.0) == b"\x03"
    nginx_partner.freeze()
    assert await asyncio.to_thread(rtmp_handshake_reply, 0.5) == b""
    nginx_partner.thaw()
    assert await asyncio.to_thread(rtmp_handshake_reply, 2.0) == b"\x03"


async def test_two_partners_run_side_by_side(nginx_partner_factory: Any) -> None:
    first = await nginx_partner_factory()
    second = await nginx_partner_factory(stat=False)
    assert first.rtmp_port != second.rtmp_port
    assert first.prefix != second.prefix

    # Encode once, fan out with the tee muxer (what the broadcast side will do).
    tee = f"[f=flv]{first.url('a')}|[f=flv]{second.url('b')}"
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", *SOURCE, "-t", "1.5"]
    argv += [*ENCODE, "-map", "0:v", "-map", "1:a", "-f", "tee", tee]
    rc, _out, err = await run(argv, timeout_s=15)
    assert rc == 0, err
    pids = [first.pid, second.pid]
    await first.stop()
    await second.stop()
    for partner, key, pid in ((first, "a", pids[0]), (second, "b", pids[1])):
        assert pid is not None
        assert_no_process_left(partner, pid)
        (recording,) = partner.recordings(key)
        assert_h264_aac_320x240(await probe_streams(recording))
