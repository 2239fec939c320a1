"""Schedule API latency and scheduler trigger lag against the real app (SQLite, loopback HTTP).

Serves ``build_app`` with SQLite in a temporary directory on a free 127.0.0.1 port and talks to it
over HTTP with the admin token, like a client would; client and server share one event loop, so
each latency is the whole round trip (client and server CPU) on this machine.

1. Seeds 10,000 occurrences through ``POST /api/v1/seminars`` (20 rooms, each a daily COUNT=200
   series and a Mon/Wed/Fri COUNT=300 series, about two years): the honest, conflict-checked path.
2. Lists one room's month (``GET /api/v1/occurrences?from&to&room_id``), different rooms/months.
3. Books conflict-checked seminars into free slots (one-off and weekly COUNT=10), and separately
   ones that collide with the seed (409).
4. Trigger lag (actual fire time − scheduled instant) two ways, run at the same time on the loop:
   a) end to end: short one-off seminars booked through the API in the next seconds (whole
      seconds, so one instant per second), read from ``app[TRIGGERS].trigger_lags``; plus how late
      the session runner saw each start/stop;
   b) ≥ 200 instants 100 ms apart: a second ``ScheduleTriggers`` with the real ``Reconciler`` and
      ``LoggingSessionRunner`` over an in-memory occurrence source (the API only takes whole
      seconds, which would need 200 s for 200 distinct instants).
"""

from __future__ import annotations

import asyncio
import random
import socket
import tempfile
import time
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web

from bench.common import Figure, percentile
from knoten.app import build_app
from knoten.config import load_config
from knoten.keys import SESSION_RUNNER, TRIGGERS
from schedules.clock import SystemClock
from schedules.domain import OccurrenceState, OccurrenceView
from schedules.ports import LoggingSessionRunner, SessionInfo
from schedules.reconciler import Reconciler
from schedules.triggers import ScheduleTriggers

TOKEN = "bench-admin-token-0123456789"
ZONE = ZoneInfo("Europe/Berlin")
ROOMS = 20
LISTINGS = 240
ALL_ROOM_LISTINGS = 30
CREATES = 120
REFUSED = 50
# End-to-end trigger phase: rooms × back-to-back seminars of SLOT seconds.
TRIGGER_ROOMS = 10
TRIGGER_SLOTS = 10
SLOT = 2
# Direct trigger phase: instants this far apart.
DIRECT_OCCURRENCES = 110
DIRECT_STEP = timedelta(milliseconds=100)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ms(values: list[float]) -> tuple[float, float, float, float]:
    """p50, p95, p99, max in ms of values in seconds."""
    return (
        percentile(values, 50) * 1000,
        percentile(values, 95) * 1000,
        percentile(values, 99) * 1000,
        max(values) * 1000,
    )


def _next_weekday(day: date, weekday: int) -> date:
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def _local(day: date, hour: int, minute: int = 0) -> str:
    return datetime(day.year, day.month, day.day, hour, minute).isoformat()


def _month_start(base: date, offset: int) -> datetime:
    index = base.month - 1 + offset
    return datetime(base.year + index // 12, index % 12 + 1, 1, tzinfo=ZONE)


class _Client:
    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def call(
        self, method: str, path: str, *, expect: int, **kwargs: Any
    ) -> tuple[float, Any]:
        started = time.perf_counter()
        async with self.session.request(method, path, **kwargs) as response:
            body = await response.json()
            elapsed = time.perf_counter() - started
            if response.status != expect:
                raise RuntimeError(f"{method} {path}: {response.status} {body}")
        return elapsed, body


async def _seed(client: _Client, first_monday: date) -> tuple[list[int], int, float]:
    room_ids = []
    for index in range(ROOMS):
        _, room = await client.call(
            "POST", "/api/v1/rooms", expect=201, json={"name": f"Room {index + 1}"}
        )
        room_ids.append(room["id"])
    started = time.perf_counter()
    count = 0
    for room_id in room_ids:
        for title, start, end, rule in (
            ("Evening course", _local(first_monday, 18), _local(first_monday, 19, 30),
             "FREQ=DAILY;COUNT=200"),
            ("Morning seminar", _local(first_monday, 10), _local(first_monday, 11, 30),
             "FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=300"),
        ):  # fmt: skip
            _, seminar = await client.call(
                "POST",
                "/api/v1/seminars",
                expect=201,
                json={
                    "title": title,
                    "room_id": room_id,
                    "start": start,
                    "end": end,
                    "recurrence": rule,
                },
            )
            count += seminar["occurrence_count"]
    return room_ids, count, time.perf_counter() - started


async def _listings(
    client: _Client, room_ids: list[int], first_monday: date
) -> tuple[list[float], list[int], list[float], list[int]]:
    rng = random.Random(7)
    months = 23  # Dec 2026 … Oct 2028 for a first Monday in Dec 2026: the seeded span
    pairs = [(room, month) for room in room_ids for month in range(months)]
    rng.shuffle(pairs)

    def window(month: int) -> dict[str, str]:
        start = _month_start(first_monday, month)
        return {
            "from": start.isoformat(),
            "to": _month_start(first_monday, month + 1).isoformat(),
        }

    for room, month in pairs[:3]:  # warm-up: compiled statements, pydantic schemas
        await client.call(
            "GET", "/api/v1/occurrences", expect=200, params={**window(month), "room_id": room}
        )
    times, sizes = [], []
    for room, month in pairs[:LISTINGS]:
        elapsed, body = await client.call(
            "GET", "/api/v1/occurrences", expect=200, params={**window(month), "room_id": room}
        )
        times.append(elapsed)
        sizes.append(len(body))
    all_times, all_sizes = [], []
    for index in range(ALL_ROOM_LISTINGS):
        elapsed, body = await client.call(
            "GET", "/api/v1/occurrences", expect=200, params=window(index % months)
        )
        all_times.append(elapsed)
        all_sizes.append(len(body))
    return times, sizes, all_times, all_sizes


async def _creates(
    client: _Client, room_ids: list[int], first_monday: date
) -> tuple[list[float], list[float], list[float]]:
    """Free-slot bookings (weekly on Saturdays, one-off on Sundays, 08:00–13:45, 45 min each,
    so the default 5-minute lead-in never touches the previous hour), then refused ones."""
    saturday = _next_weekday(first_monday, 5)
    one_off, weekly = [], []
    for index in range(CREATES):
        room_id = room_ids[index % ROOMS]
        hour = 8 + index // ROOMS  # 6 hours × 20 rooms = 120 distinct slots per day kind
        if index % 2:
            day = saturday
            extra: dict[str, Any] = {"recurrence": "FREQ=WEEKLY;COUNT=10"}
        else:
            day = saturday + timedelta(days=1 + 7 * (index % 5))
            extra = {}
        elapsed, _ = await client.call(
            "POST",
            "/api/v1/seminars",
            expect=201,
            json={
                "title": f"Booking {index}",
                "room_id": room_id,
                "start": _local(day, hour),
                "end": _local(day, hour, 45),
                **extra,
            },
        )
        (weekly if extra else one_off).append(elapsed)
    refused = []
    for index in range(REFUSED):
        # Overlaps the seeded Monday 10:00–11:30 seminar of the room.
        day = first_monday + timedelta(weeks=4 + index)
        elapsed, body = await client.call(
            "POST",
            "/api/v1/seminars",
            expect=409,
            json={
                "title": f"Colliding {index}",
                "room_id": room_ids[index % ROOMS],
                "start": _local(day, 10, 30),
                "end": _local(day, 11),
            },
        )
        if body["error"]["code"] != "seminar_conflict":
            raise RuntimeError(f"refused create: expected a room conflict, got {body}")
        refused.append(elapsed)
    return one_off, weekly, refused


class _MemorySource:
    """An in-memory :class:`~schedules.ports.OccurrenceSource` for the direct trigger phase."""

    def __init__(self, views: list[OccurrenceView]) -> None:
        self.views = {view.id: view for view in views}

    async def reconcile_candidates(self, now: datetime) -> list[tuple[OccurrenceView, SessionInfo]]:
        return [
            (view, SessionInfo())
            for view in self.views.values()
            if view.state is OccurrenceState.LIVE
            or (view.state is OccurrenceState.SCHEDULED and view.blocked_start <= now)
        ]

    async def upcoming(self, now: datetime, until: datetime) -> list[OccurrenceView]:
        return [
            view
            for view in self.views.values()
            if not view.state.is_terminal and view.blocked_end > now and view.blocked_start <= until
        ]

    async def mark(
        self, occurrence_id: int, state: OccurrenceState, reason: str, at: datetime
    ) -> None:
        self.views[occurrence_id] = replace(self.views[occurrence_id], state=state)


async def _book_trigger_seminars(
    client: _Client, first: datetime
) -> tuple[dict[int, tuple[datetime, datetime]], int]:
    """Back-to-back SLOT-second seminars, rooms alternating by one second: an instant a second."""
    room_ids = []
    for index in range(TRIGGER_ROOMS):
        _, room = await client.call(
            "POST", "/api/v1/rooms", expect=201, json={"name": f"Trigger room {index + 1}"}
        )
        room_ids.append(room["id"])
    spans: dict[int, tuple[datetime, datetime]] = {}  # occurrence id → (start, end)
    for slot in range(TRIGGER_SLOTS):
        for index, room_id in enumerate(room_ids):
            start = first + timedelta(seconds=index % 2 + SLOT * slot)
            end = start + timedelta(seconds=SLOT)
            _, seminar = await client.call(
                "POST",
                "/api/v1/seminars",
                expect=201,
                json={
                    "title": f"Short {index}/{slot}",
                    "room_id": room_id,
                    "start": start.isoformat(),
                    "end": end.isoformat(),
                    "lead_in_minutes": 0,
                    "record": False,
                },
            )
            spans[seminar["occurrences"][0]["id"]] = (start, end)
    return spans, len({instant for span in spans.values() for instant in span})


async def _triggers(
    client: _Client, app: web.Application
) -> tuple[list[float], list[float], list[float], int, list[float], int]:
    clock = SystemClock()
    now = clock.now()
    # Whole seconds (the API's rule), far enough ahead for the bookings below to be in.
    first = (now + timedelta(seconds=8)).replace(microsecond=0)
    lags_before = len(app[TRIGGERS].trigger_lags)
    spans, app_instants = await _book_trigger_seminars(client, first)
    if clock.now() >= first:
        raise RuntimeError("booking the trigger seminars took longer than their lead time")

    direct_first = clock.now() + timedelta(milliseconds=500)
    views = [
        OccurrenceView(
            id=index + 1,
            seminar_id=index + 1,
            room_id=index % 10 + 1,
            title=f"direct {index}",
            start_utc=direct_first + 2 * index * DIRECT_STEP,
            end_utc=direct_first + (2 * index + 1) * DIRECT_STEP,
        )
        for index in range(DIRECT_OCCURRENCES)
    ]
    source = _MemorySource(views)
    runner = LoggingSessionRunner(clock)
    direct = ScheduleTriggers(Reconciler(source, runner, clock), source, clock)
    await direct.start()
    try:
        last = max(max(end for _, end in spans.values()), views[-1].end_utc)
        await asyncio.sleep((last - clock.now()).total_seconds() + 1.0)
        direct_lags = [lag.total_seconds() for lag in direct.trigger_lags]
        if any(view.state is not OccurrenceState.ENDED for view in source.views.values()):
            raise RuntimeError("direct phase: not every in-memory occurrence ended")
    finally:
        await direct.aclose()
    app_lags = [lag.total_seconds() for lag in app[TRIGGERS].trigger_lags[lags_before:]]
    events = [e for e in app[SESSION_RUNNER].events if e.occurrence_id in spans]
    start_late = [(e.at - spans[e.occurrence_id][0]).total_seconds() for e in events
                  if e.kind == "start"]  # fmt: skip
    stop_late = [(e.at - spans[e.occurrence_id][1]).total_seconds() for e in events
                 if e.kind == "stop"]  # fmt: skip
    if len(start_late) != len(spans) or len(stop_late) != len(spans):
        raise RuntimeError(
            f"end-to-end phase: {len(start_late)} starts, {len(stop_late)} stops "
            f"for {len(spans)} seminars"
        )
    return app_lags, start_late, stop_late, app_instants, direct_lags, len(views)


async def run() -> list[Figure]:
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as tmp:
        port = _free_port()
        config = load_config(
            env={
                "KNOTEN_DATA_DIR": str(Path(tmp) / "data"),
                "KNOTEN_HOST": "127.0.0.1",
                "KNOTEN_PORT": str(port),
                "KNOTEN_ADMIN_TOKEN": TOKEN,
            }
        )
        # The scheduler is measured, not the media plane: sessions are only recorded.
        app = build_app(config, session_runner=LoggingSessionRunner())
        runner = web.AppRunner(app, shutdown_timeout=2)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", port).start()
            async with aiohttp.ClientSession(
                base_url=f"http://127.0.0.1:{port}",
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=aiohttp.ClientTimeout(total=30),
            ) as session:
                client = _Client(session)
                today = datetime.now(ZONE).date()
                first_monday = _next_weekday(today + timedelta(days=7), 0)

                room_ids, seeded, seed_seconds = await _seed(client, first_monday)
                figures += [
                    Figure("seeded occurrences (40 series via API)", seeded, "count", "10000"),
                    Figure("seeding time", seed_seconds, "s"),
                ]

                times, sizes, all_times, all_sizes = await _listings(client, room_ids, first_monday)
                p50, p95, _, worst = _ms(times)
                figures += [
                    Figure(f"list 1 room × 1 month ({len(times)} req)", p50, "ms p50"),
                    Figure("  …", p95, "ms p95", "≤ 50"),
                    Figure("  …", worst, "ms max"),
                    Figure("  rows per response (mean)", sum(sizes) / len(sizes), "rows"),
                ]
                p50, p95, _, worst = _ms(all_times)
                figures += [
                    Figure(f"list all rooms × 1 month ({len(all_times)} req)", p50, "ms p50"),
                    Figure("  …", p95, "ms p95"),
                    Figure("  rows per response (mean)", sum(all_sizes) / len(all_sizes), "rows"),
                ]

                one_off, weekly, refused = await _creates(client, room_ids, first_monday)
                p50, p95, _, worst = _ms(one_off + weekly)
                figures += [
                    Figure(f"create seminar, all ({len(one_off + weekly)} req)", p50, "ms p50"),
                    Figure("  …", p95, "ms p95", "≤ 100"),
                    Figure("  …", worst, "ms max"),
                    Figure(f"  one-off ({len(one_off)})", _ms(one_off)[1], "ms p95"),
                    Figure(f"  weekly COUNT=10 ({len(weekly)})", _ms(weekly)[1], "ms p95"),
                ]
                p50, p95, _, _ = _ms(refused)
                figures += [
                    Figure(f"refused create, 409 ({len(refused)} req)", p50, "ms p50"),
                    Figure("  …", p95, "ms p95", "≤ 100"),
                ]

                app_lags, start_late, stop_late, instants, direct_lags, direct_n = await _triggers(
                    client, app
                )
            p50, _, p99, worst = _ms(direct_lags)
            figures += [
                Figure(
                    f"trigger lag, direct ({len(direct_lags)} triggers, {direct_n} occ.)",
                    p50,
                    "ms p50",
                ),
                Figure("  …", p99, "ms p99", "≤ 100"),
                Figure("  …", worst, "ms max"),
            ]
            p50, _, p99, worst = _ms(app_lags)
            figures += [
                Figure(
                    f"trigger lag, app end to end ({len(app_lags)} of {instants} instants)",
                    p50,
                    "ms p50",
                ),
                Figure("  …", p99, "ms p99", "≤ 100"),
                Figure("  …", worst, "ms max"),
            ]
            p50, _, p99, worst = _ms(start_late + stop_late)
            figures += [
                Figure(
                    f"session start/stop lateness ({len(start_late) + len(stop_late)} events)",
                    p50,
                    "ms p50",
                ),
                Figure("  …", p99, "ms p99"),
                Figure("  …", worst, "ms max"),
            ]
        finally:
            await runner.cleanup()
    return figures
