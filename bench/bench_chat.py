"""Seminar chat: delivery latency and service CPU with many connected participants.

Rerun: ``python -m bench.bench_chat [--clients 200] [--rate 20] [--seconds 30] [--no-deflate]``
(``make bench`` / ``python -m bench chat`` run it with these defaults, about a minute in all).
Target: 200 clients, 20 messages/s in total, p95 delivery ≤ 200 ms and the service's CPU for chat
≤ 0.1 cores.

The real service runs as ``knoten serve`` in its own process (SQLite in a temporary directory, no
viewer workers, INFO logging), so its CPU is read alone from ``/proc/<pid>/stat`` (utime + stime
of all its threads) over the measurement window; the clients' CPU is read the same way from their
processes. One seminar a day ahead (not recorded, no partners: no consent needed) is booked
through the admin API; its join link admits the clients.

Clients run in two worker processes (aiohttp WebSockets, half the sockets each): each socket says
``hello`` and waits for its ``welcome`` and ``snapshot``. Like a browser, each offers
permessage-deflate, which the service accepts (``--no-deflate``: plain frames). Then every socket
sends in turn so that the total is ``--rate`` messages/s spread evenly over all of them (200
clients at 20/s: each one every 10 s, well inside the 1/s limit). A message's text carries a
unique id and its send time (``time.time()``, same machine); every socket notes when each message
arrives, and a delivery's latency is arrival − send over every (message, socket) pair, the
sender's own copy included.
After 3 s idle (the CPU of merely keeping the sockets) and a 3 s warm-up, only messages sent in
the window count; lost = expected deliveries (messages × sockets) − received within 3 s after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import Figure, percentile, print_table, process_cpu_seconds
from tests.support.app_fixtures import ServiceProcess, start_service, wait_healthy
from tests.support.ports import free_tcp_port

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-chat-admin-token-0123456789"
WORKERS = 2
IDLE_S = 3.0
WARMUP_S = 3.0
DRAIN_S = 3.0
CONNECTS_AT_ONCE = 20
STOP_TIMEOUT_S = 10.0
TARGET_P95_MS = 200
TARGET_CORES = 0.1


def _progress(text: str) -> None:
    print(f"[chat] {text}", file=sys.stderr, flush=True)


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value))


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text())


# -- the client worker process -------------------------------------------------------------------


class _Socket:
    """One connected participant page: notes every window message it receives."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.latencies: list[float] = []  # seconds, window messages only
        self.errors: Counter[str] = Counter()

    async def read(self) -> None:
        async for frame in self.ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                break
            arrived = time.time()
            event = json.loads(frame.data)
            if event["type"] == "message":
                flag, _, sent = event["message"]["text"].split(" ")
                if flag == "m":
                    self.latencies.append(arrived - float(sent))
            elif event["type"] == "error":
                self.errors[event["code"]] += 1


async def _connect(session: aiohttp.ClientSession, url: str, name: str, deflate: bool) -> _Socket:
    # Browsers always offer permessage-deflate (15-bit window), and the service accepts it.
    ws = await session.ws_connect(url, compress=15 if deflate else 0)
    await ws.send_json({"type": "hello", "participant": None, "name": name})
    async with asyncio.timeout(30):
        while (await ws.receive_json())["type"] != "snapshot":
            pass
    return _Socket(ws)


async def _send_schedule(
    sockets: list[_Socket], tag: str, t0: float, rate: float, window: tuple[float, float]
) -> tuple[int, list[float]]:
    """Send in turn from every socket, one message each ``1 / rate`` s from ``t0`` until the
    window ends: (messages sent in the window, how late each of those was sent)."""
    sent, late, index = 0, [], 0
    while True:
        due = t0 + index / rate
        if due >= window[1]:
            return sent, late
        await asyncio.sleep(max(0.0, due - time.time()))
        now = time.time()
        in_window = window[0] <= due < window[1]
        flag = "m" if in_window else "w"
        text = f"{flag} {tag}-{index} {now!r}"
        await sockets[index % len(sockets)].ws.send_str(json.dumps({"type": "say", "text": text}))
        if in_window:
            sent += 1
            late.append(now - due)
        index += 1


async def _worker(
    url: str, count: int, worker: int, workers: int, deflate: bool, out: Path
) -> None:
    """Connect ``count`` sockets, report ready, send on ``go <t0> <rate> <warmup> <seconds>``,
    write the figures to ``out`` and report done; close on ``quit``."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        gate = asyncio.Semaphore(CONNECTS_AT_ONCE)

        async def connect(i: int) -> _Socket:
            async with gate:
                return await _connect(session, url, f"Client {worker}-{i}", deflate)

        results = await asyncio.gather(*(connect(i) for i in range(count)), return_exceptions=True)
        sockets = [r for r in results if isinstance(r, _Socket)]
        failures = [repr(r) for r in results if not isinstance(r, _Socket)]
        deflated = sum(1 for s in sockets if s.ws.compress)
        ready = {"ready": len(sockets), "deflated": deflated, "failures": failures[:3]}
        print(json.dumps(ready), flush=True)
        readers = [asyncio.create_task(s.read()) for s in sockets]

        _, t0, rate, warmup, seconds = (await reader.readline()).decode().split()
        # The workers take turns: worker i starts i / rate s after t0, each at rate / workers.
        begin, total = float(t0), float(rate)
        window = (begin + float(warmup), begin + float(warmup) + float(seconds))
        start = begin + worker / total
        sent, late = await _send_schedule(sockets, str(worker), start, total / workers, window)
        await asyncio.sleep(max(0.0, window[1] + DRAIN_S - time.time()))
        errors: Counter[str] = Counter()
        for s in sockets:
            errors.update(s.errors)
        latencies = [x for s in sockets for x in s.latencies]
        _write_json(out, {"sent": sent, "late": late, "latencies": latencies, "errors": errors})
        print(json.dumps({"done": True}), flush=True)

        await reader.readline()  # quit
        async with asyncio.timeout(10):
            await asyncio.gather(*(s.ws.close() for s in sockets), return_exceptions=True)
        for task in readers:
            task.cancel()


# -- the orchestrating process -------------------------------------------------------------------


async def _api(session: aiohttp.ClientSession, path: str, body: dict[str, Any]) -> Any:
    async with session.post(path, json=body) as response:
        if response.status != 201:
            raise RuntimeError(f"POST {path}: {response.status} {await response.text()}")
        return await response.json()


async def _book_seminar(base_url: str) -> tuple[str, int]:
    """A seminar tomorrow (not recorded): the join page's WebSocket URL and the occurrence id."""
    async with aiohttp.ClientSession(
        base_url=base_url,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=aiohttp.ClientTimeout(total=30),
    ) as session:
        room = await _api(session, "/api/v1/rooms", {"name": "Chat bench room"})
        day = date.today() + timedelta(days=1)
        seminar = await _api(
            session,
            "/api/v1/seminars",
            {
                "title": "Chat benchmark",
                "room_id": room["id"],
                "start": f"{day.isoformat()}T18:00:00",
                "end": f"{day.isoformat()}T19:30:00",
                "record": False,
            },
        )
    occurrence = seminar["occurrences"][0]
    page, token = occurrence["join_url"].replace("http://", "ws://").split("?t=")
    return f"{page}/ws?t={token}", occurrence["id"]


async def _stop_service(service: ServiceProcess) -> None:
    """SIGINT, then SIGKILL if it is still running after STOP_TIMEOUT_S."""
    process = service.process
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            await asyncio.to_thread(process.wait, STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            _progress(f"service still running {STOP_TIMEOUT_S:g} s after SIGINT: killed")
            process.kill()
            await asyncio.to_thread(process.wait)


async def _line(worker: asyncio.subprocess.Process, timeout: float) -> dict[str, Any]:
    assert worker.stdout is not None
    async with asyncio.timeout(timeout):
        line = await worker.stdout.readline()
    if not line:
        raise RuntimeError(f"client worker {worker.pid} exited ({await worker.wait()})")
    return json.loads(line)


async def _tell(workers: list[asyncio.subprocess.Process], line: str) -> None:
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write(line.encode() + b"\n")
        await worker.stdin.drain()


def _cpu(pids: list[int]) -> float:
    return sum(process_cpu_seconds(pid) for pid in pids)


async def _sleep_until(wall: float) -> None:
    await asyncio.sleep(max(0.0, wall - time.time()))


async def _measure(
    url: str, service_pid: int, tmp: Path, clients: int, rate: float, seconds: float,
    deflate: bool,
) -> dict[str, Any]:  # fmt: skip
    shares = [clients // WORKERS + (i < clients % WORKERS) for i in range(WORKERS)]
    outputs = [tmp / f"worker-{i}.json" for i in range(WORKERS)]
    workers = []
    for i, n in enumerate(shares):
        argv = ["-m", "bench.bench_chat", "_worker", url, str(n), str(i), str(WORKERS),
                "deflate" if deflate else "plain"]  # fmt: skip
        pipe = asyncio.subprocess.PIPE
        worker = await asyncio.create_subprocess_exec(
            sys.executable, *argv, str(outputs[i]), cwd=ROOT, stdin=pipe, stdout=pipe
        )
        workers.append(worker)
    try:
        _progress(f"connecting {clients} clients from {WORKERS} processes")
        ready = [await _line(w, 120) for w in workers]
        connected = sum(r["ready"] for r in ready)
        deflated = sum(r["deflated"] for r in ready)
        for r in ready:
            if r["failures"]:
                _progress(f"connect failures: {r['failures']}")
        pids = [w.pid for w in workers]

        idle_before, started = process_cpu_seconds(service_pid), time.monotonic()
        await asyncio.sleep(IDLE_S)
        idle_cpu = process_cpu_seconds(service_pid) - idle_before
        idle_cores = idle_cpu / (time.monotonic() - started)

        t0 = time.time() + 0.5
        _progress(f"{connected} connected; {rate:g} msg/s, {WARMUP_S:g} s warm-up, {seconds:g} s")
        await _tell(workers, f"go {t0!r} {rate!r} {WARMUP_S!r} {seconds!r}")
        await _sleep_until(t0 + WARMUP_S)
        service_before, clients_before = process_cpu_seconds(service_pid), _cpu(pids)
        started = time.monotonic()
        load_start = os.getloadavg()
        await _sleep_until(t0 + WARMUP_S + seconds)
        elapsed = time.monotonic() - started
        service_cpu = process_cpu_seconds(service_pid) - service_before
        client_cpu = _cpu(pids) - clients_before
        load = os.getloadavg()
        for w in workers:
            await _line(w, DRAIN_S + 30)
        reports = [_read_json(path) for path in outputs]
        await _tell(workers, "quit")
        async with asyncio.timeout(20):
            for w in workers:
                await w.wait()
    finally:
        for w in workers:
            if w.returncode is None:
                w.kill()
                await w.wait()
    errors: Counter[str] = Counter()
    for r in reports:
        errors.update(r["errors"])
    return {
        "connected": connected,
        "deflated": deflated,
        "elapsed": elapsed,
        "idle_cores": idle_cores,
        "service_cpu": service_cpu,
        "client_cpu": client_cpu,
        "sent": sum(r["sent"] for r in reports),
        "late": [x for r in reports for x in r["late"]],
        "latencies": [x for r in reports for x in r["latencies"]],
        "errors": dict(errors),
        "load": (load_start, load),
    }


def _p95_ms(values: list[float]) -> float:
    return percentile(values, 95) * 1000 if values else float("nan")


def _figures(m: dict[str, Any], clients: int, rate: float, seconds: float) -> list[Figure]:
    latencies, expected = m["latencies"], m["sent"] * m["connected"]
    received = len(latencies)
    ms = {p: percentile(latencies, p) * 1000 if latencies else float("nan") for p in (50, 99)}
    cores = m["service_cpu"] / m["elapsed"]
    load_start, load = m["load"]
    figures = [
        Figure("clients connected", m["connected"], "sockets", str(clients)),
        Figure("  of them with permessage-deflate", m["deflated"], "sockets"),
        Figure("messages sent in the window", m["sent"], "messages"),
        Figure("  rate", m["sent"] / seconds, "msg/s", f"{rate:g}"),
        Figure("  window", m["elapsed"], "s"),
        Figure("deliveries received", received, "deliveries", str(expected)),
        Figure("  lost (expected − received)", expected - received, "deliveries", "0"),
        Figure("delivery latency", ms[50], "ms p50"),
        Figure("  …", _p95_ms(latencies), "ms p95", f"≤ {TARGET_P95_MS}"),
        Figure("  …", ms[99], "ms p99"),
        Figure("  …", max(latencies) * 1000 if latencies else float("nan"), "ms max"),
        Figure("service CPU, sockets idle (before sending)", m["idle_cores"], "cores"),
        Figure("service CPU, chatting", cores, "cores", f"≤ {TARGET_CORES}"),
        Figure("  per 1000 deliveries", m["service_cpu"] / max(received, 1) * 1e6, "CPU ms"),
        Figure("client processes' CPU", m["client_cpu"] / m["elapsed"], "cores"),
        Figure("  send lateness (client loop)", _p95_ms(m["late"]), "ms p95"),
        Figure("load average, window start", load_start[0], "1 min"),
        Figure("load average, window end", load[0], "1 min"),
        Figure("  …", load[1], "5 min"),
    ]
    for code, count in sorted(m["errors"].items()):
        figures.append(Figure(f"refusals: {code}", count, "errors", "0"))
    return figures


async def run(
    clients: int = 200, rate: float = 20.0, seconds: float = 30.0, deflate: bool = True
) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="knoten-bench-chat-") as name:
        tmp = Path(name)
        port = free_tcp_port()
        service = start_service(
            tmp / "data",
            port,
            tmp / "service.log",
            KNOTEN_ADMIN_TOKEN=TOKEN,
            KNOTEN_WEBRTC_WORKERS="0",
            KNOTEN_LOG_LEVEL="INFO",
        )
        try:
            _progress(f"service pid {service.process.pid} on port {port}")
            await wait_healthy(service)
            url, occurrence = await _book_seminar(service.base_url)
            _progress(f"seminar booked: occurrence {occurrence}")
            measured = await _measure(
                url, service.process.pid, tmp, clients, rate, seconds, deflate
            )
        finally:
            await _stop_service(service)
        if service.process.returncode not in (0, -signal.SIGINT):
            _progress(f"service exited with {service.process.returncode}:\n{service.log()[-2000:]}")
    return _figures(measured, clients, rate, seconds)


def main(argv: list[str]) -> int:
    if argv[:1] == ["_worker"]:
        url, count, worker, workers, frames, out = argv[1:]
        deflate = frames == "deflate"
        asyncio.run(_worker(url, int(count), int(worker), int(workers), deflate, Path(out)))
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench.bench_chat", description=__doc__)
    parser.add_argument("--clients", type=int, default=200, help="connected sockets (200)")
    parser.add_argument("--rate", type=float, default=20.0, help="messages/s in total (20)")
    parser.add_argument("--seconds", type=float, default=30.0, help="measurement window (30)")
    parser.add_argument(
        "--no-deflate",
        action="store_true",
        help="clients do not offer permessage-deflate (browsers do): plain frames",
    )
    args = parser.parse_args(argv)
    figures = asyncio.run(run(args.clients, args.rate, args.seconds, not args.no_deflate))
    print_table(f"chat: {__doc__.strip().splitlines()[0]}", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
