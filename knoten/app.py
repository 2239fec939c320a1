"""The composition root: ``build_app(config)`` creates every component and wires them together.

Components start in the order of ``cleanup_ctx`` and stop in reverse, so the FFmpeg processes
are gone before the database closes.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry

from knoten.api import (
    calendar,
    hls,
    occurrences,
    partners,
    recordings,
    rooms,
    seminars,
    system,
    whep,
)
from knoten.config import Config
from knoten.db import Database
from knoten.error_rules import DOMAIN_ERROR_RULES
from knoten.http.middleware import HttpMetrics, auth_middleware, error_middleware
from knoten.http.openapi import Operation, build_openapi, register
from knoten.keys import (
    ADMIN_TOKEN,
    CONFIG,
    DATABASE,
    FFMPEG_PROCESSES,
    LIVE,
    MEDIA_TOOLS,
    METRICS_REGISTRY,
    OPENAPI,
    PARTNERS,
    RECONCILER,
    RECORDER,
    ROOMS,
    RUN_DIR,
    SCHEDULE,
    SESSION_RUNNER,
    SESSIONS,
    TRIGGERS,
    WEBRTC,
)
from knoten.live import MediaSessionRunner
from knoten.live_metrics import LiveSessionCollector
from knoten.media import MediaTools
from knoten.security import AdminToken, load_or_create_admin_token
from knoten.web import dashboard, pages
from knoten.web.session import SessionStore
from schedules.clock import Clock, SystemClock
from schedules.ports import SessionRunner
from schedules.reconciler import Reconciler
from schedules.rooms import RoomRepository
from schedules.service import ScheduleService
from schedules.store import ScheduleStore, SqlOccurrenceSource
from schedules.triggers import ScheduleTriggers
from streaming.ffmpeg.metrics import FfmpegMetrics
from streaming.ffmpeg.registry import FfmpegProcesses
from streaming.partners import PartnerRepository

log = logging.getLogger(__name__)

#: Paths whose errors are answered as JSON.
JSON_PREFIXES = ("/api/", "/healthz", "/whep/")

API_OPERATIONS: tuple[Operation, ...] = (
    *rooms.OPERATIONS,
    *seminars.OPERATIONS,
    *occurrences.OPERATIONS,
    *whep.OPERATIONS,
    *partners.OPERATIONS,
    *recordings.OPERATIONS,
)


def knoten_version() -> str:
    try:
        return package_version("knoten")
    except PackageNotFoundError:
        return "0+unknown"


def build_app(
    config: Config,
    *,
    clock: Clock | None = None,
    session_runner: SessionRunner | None = None,
) -> web.Application:
    """The whole service. ``clock`` and ``session_runner`` replace the real ones in tests."""
    registry = CollectorRegistry()
    http_metrics = HttpMetrics(registry)
    # The token is resolved before serving so that auth never races start-up.
    admin_token = load_or_create_admin_token(config.security.admin_token, config.data_dir)
    sessions = SessionStore(lambda: admin_token.value, config.public_url)
    app = web.Application(
        client_max_size=config.server.max_body_bytes,
        middlewares=[
            http_metrics.middleware(),
            error_middleware(JSON_PREFIXES, DOMAIN_ERROR_RULES),
            auth_middleware(lambda: admin_token.value, cookie_auth=sessions.api_auth),
        ],
    )
    app[CONFIG] = config
    app[ADMIN_TOKEN] = admin_token
    app[SESSIONS] = sessions
    app[METRICS_REGISTRY] = registry
    app[MEDIA_TOOLS] = MediaTools(config.media.ffmpeg, config.media.ffprobe)
    app[DATABASE] = Database(config.database_url)
    app[FFMPEG_PROCESSES] = FfmpegProcesses(metrics=FfmpegMetrics(registry))
    engine = lambda: app[DATABASE].engine  # noqa: E731 - exists once the database started
    app[ROOMS] = RoomRepository(engine)
    app[PARTNERS] = PartnerRepository(engine)
    clock = clock or SystemClock()
    store = ScheduleStore()
    app[SCHEDULE] = ScheduleService(engine, clock, store)
    # The media plane runs sessions; tests may swap in a runner that only records calls.
    app[RUN_DIR] = Path(tempfile.gettempdir()) / f"knoten-{uuid.uuid4().hex[:8]}"
    media_runner = MediaSessionRunner(
        rooms=app[ROOMS],
        partners=app[PARTNERS],
        processes=app[FFMPEG_PROCESSES],
        data_dir=config.data_dir,
        run_dir=app[RUN_DIR],
        ffmpeg=config.media.ffmpeg,
        ingest_host=config.ingest.host,
        srt_port_base=config.ingest.srt_port_base,
    )
    app[LIVE] = media_runner
    registry.register(LiveSessionCollector(media_runner))
    app[SESSION_RUNNER] = session_runner or media_runner
    source = SqlOccurrenceSource(engine, store)
    app[RECONCILER] = Reconciler(source, app[SESSION_RUNNER], clock)
    app[TRIGGERS] = ScheduleTriggers(
        app[RECONCILER], source, clock, housekeeping=app[SCHEDULE].extend_horizons
    )
    app[SCHEDULE].subscribe(app[TRIGGERS].changed)
    app[OPENAPI] = build_openapi(
        API_OPERATIONS, version=knoten_version(), server_url=config.public_url
    )

    system.add_routes(app.router)
    register(app.router, API_OPERATIONS)
    pages.add_routes(app)
    dashboard.add_routes(app)
    calendar.add_routes(app.router)
    hls.add_routes(app.router)  # partner HLS pull: /live/{occurrence}/{partner}/…
    whep.setup(app, config, registry)  # join tokens, WebRTC registry, WHEP + join routes
    media_runner.viewers = app[WEBRTC]
    recordings.setup(app, registry, clock)  # archive components + public share routes
    media_runner.recorder = app[RECORDER]

    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_media)
    app.cleanup_ctx.append(recordings.lifecycle)  # recovery; closes after sessions stop
    app.cleanup_ctx.append(_scheduling)
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    await app[DATABASE].start()
    yield
    await app[DATABASE].aclose()


async def _media(app: web.Application) -> AsyncIterator[None]:
    version = await app[MEDIA_TOOLS].version()
    log.info("ffmpeg %s", version or "NOT FOUND")
    yield
    # Every FFmpeg process ends here, gracefully, before anything else is torn down.
    await app[LIVE].aclose()
    await app[FFMPEG_PROCESSES].aclose()
    shutil.rmtree(app[RUN_DIR], ignore_errors=True)


async def _scheduling(app: web.Application) -> AsyncIterator[None]:
    await app[SCHEDULE].extend_horizons()
    # Runs the boot reconciliation (late starts, missed marks) and arms the triggers.
    await app[TRIGGERS].start()
    yield
    await app[TRIGGERS].aclose()
    # Sessions still running at shutdown are stopped; their occurrences stay live in the
    # database, so the next start resumes them while their window is open.
    runner = app[SESSION_RUNNER]
    for occurrence_id in sorted(runner.running()):
        await runner.stop(occurrence_id, "service shutting down")


__all__ = ["AdminToken", "build_app"]
