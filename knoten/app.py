"""The composition root: ``build_app(config)`` creates every component and wires them together.

Everything long-lived is constructed here, stored under its typed key (:mod:`knoten.keys`) and
started and stopped by a ``cleanup_ctx`` registered here; the modules under ``knoten/api/`` and
``knoten/web/`` only add routes and handle requests. Components start in the order of
``cleanup_ctx`` and stop in reverse: the seminars stop (and hand their recordings to
finalization) before the recorder closes, every FFmpeg process ends before the database closes,
and the WebRTC viewers go last.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry, disable_created_metrics

from knoten.access import AccessGuard, access_middleware
from knoten.accounts.providers import ProviderStore
from knoten.accounts.setup_code import SetupCode
from knoten.accounts.store import AccountStore
from knoten.accounts.throttle import SigninThrottle
from knoten.accounts.tokens import BearerAuth
from knoten.api import (
    audit,
    booking_requests,
    calendar,
    conversation,
    hls,
    me,
    occurrences,
    partners,
    providers,
    public_hls,
    recordings,
    rooms,
    seminars,
    stage,
    system,
    whep,
    whip,
)
from knoten.audit import AuditLog, audit_middleware
from knoten.config import Config
from knoten.conversation.context import DateContexts
from knoten.conversation.hub import ConversationHub
from knoten.conversation.retention import ConversationRetention
from knoten.conversation.rules import ChatLimits
from knoten.conversation.store import ConversationStore
from knoten.db import Database
from knoten.display_links import DisplayLinks
from knoten.error_rules import DOMAIN_ERROR_RULES
from knoten.http.cors import CorsPolicy
from knoten.http.middleware import HttpMetrics, auth_middleware, error_middleware
from knoten.http.openapi import Operation, build_openapi, register
from knoten.join import JoinTokens, load_or_create_join_secret
from knoten.join_links import JoinLinks
from knoten.keys import (
    ACCESS,
    ACCOUNTS,
    ADMIN_TOKEN,
    ARCHIVE_PATHS,
    AUDIT_LOG,
    BEARER_AUTH,
    CONFIG,
    CONVERSATION_RETENTION,
    CONVERSATIONS,
    DATABASE,
    DISPLAY_LINKS,
    EVENT_STREAMS_CLOSING,
    FFMPEG_PROCESSES,
    FINALIZER,
    JOIN_LINKS,
    LEASES,
    LOAD_MONITOR,
    MEDIA_TOOLS,
    METRICS_REGISTRY,
    OPENAPI,
    PARTNER_ACCESS,
    PARTNERS,
    PROVIDERS,
    PUBLIC_HLS,
    PUSH_INGEST,
    RECONCILER,
    RECORDER,
    RECORDINGS,
    RETENTION,
    ROOMS,
    RUN_DIR,
    SCHEDULE,
    SEMINAR_CONTROLLER,
    SERIES_LINKS,
    SESSION_RUNNER,
    SESSIONS,
    SETUP_CODE,
    SHARE_LINKS,
    SIGNIN_THROTTLE,
    STAGE_MEDIA,
    TEMPLATES,
    TRIGGERS,
    WEBRTC,
    WHIP_INGEST,
)
from knoten.live_metrics import LiveSessionCollector
from knoten.media import MediaTools
from knoten.partner_access import PartnerAccess
from knoten.public_hls import PublicHlsLinks
from knoten.security import AdminToken, load_or_create_admin_token
from knoten.seminar_controller import SeminarController
from knoten.series_links import SeriesLinks
from knoten.web import (
    audit_page,
    dashboard,
    display,
    join,
    pages,
    partner_dates,
    series_join,
    signin,
)
from knoten.web import conversation as conversation_pages
from knoten.web.error_pages import page_not_found_middleware
from knoten.web.session import SessionStore
from recordings.catalog import Catalog
from recordings.diskguard import DiskGuard
from recordings.finalize import Finalizer
from recordings.metrics import RecordingMetrics
from recordings.paths import ArchivePaths
from recordings.recorder import Recorder
from recordings.retention import Retention, RetentionRules
from recordings.share import ShareLinks, load_or_create_secret
from schedules.clock import Clock, SystemClock
from schedules.lease_keeper import LeaseKeeper
from schedules.lease_store import LeaseStore
from schedules.leases import LeaseTiming
from schedules.ports import SessionRunner
from schedules.reconciler import Reconciler
from schedules.rooms import RoomRepository
from schedules.service import ScheduleService
from schedules.store import ScheduleStore, SqlOccurrenceSource
from schedules.triggers import ScheduleTriggers
from streaming.dialog import StageMedia
from streaming.ffmpeg.metrics import FfmpegMetrics
from streaming.ffmpeg.registry import FfmpegProcesses
from streaming.load_monitor import LoadMonitor
from streaming.partners import PartnerRepository
from streaming.shedding import ShedPolicy
from streaming.sources import PushIngest, WhipPorts, new_stream_key
from streaming.webrtc import (
    IceServer,
    ViewerRegistry,
    WebrtcOptions,
    WebrtcRegistry,
    check_aiortc,
)
from streaming.webrtc.shards import ShardedRegistry
from streaming.webrtc.whip import WhipIngest

log = logging.getLogger(__name__)

#: Paths whose errors are answered as JSON.
JSON_PREFIXES = ("/api/", "/healthz", "/whep/", "/whip/", "/stage/")

API_OPERATIONS: tuple[Operation, ...] = (
    *rooms.OPERATIONS,
    *seminars.OPERATIONS,
    *booking_requests.OPERATIONS,
    *occurrences.OPERATIONS,
    *whep.OPERATIONS,
    *partners.OPERATIONS,
    *recordings.OPERATIONS,
    *conversation.OPERATIONS,
    *providers.OPERATIONS,
    *me.OPERATIONS,
    *audit.OPERATIONS,
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
    # One `_created` series per counter and histogram child doubles /metrics for nothing Knoten's
    # dashboards read (process-wide in prometheus_client; Knoten is its only user here).
    disable_created_metrics()
    registry = CollectorRegistry()
    http_metrics = HttpMetrics(registry)
    # The token is resolved before serving so that auth never races start-up.
    admin_token = load_or_create_admin_token(config.security.admin_token, config.data_dir)
    engine = lambda: app[DATABASE].engine  # noqa: E731 - exists once the database started
    sessions = SessionStore(engine, config.public_url)
    bearer = BearerAuth(engine, lambda: admin_token.value)
    app = web.Application(
        client_max_size=config.server.max_body_bytes,
        middlewares=[
            http_metrics.middleware(),
            # Outside the error middleware: refusals of the media doors carry the CORS grant too.
            CorsPolicy(config.server.cors_origins).middleware(),
            page_not_found_middleware(JSON_PREFIXES),
            error_middleware(JSON_PREFIXES, DOMAIN_ERROR_RULES),
            auth_middleware(bearer, cookie_auth=sessions.api_auth),
            access_middleware(lambda: app[ACCESS]),
            audit_middleware(lambda: app[AUDIT_LOG]),
        ],
    )
    clock = clock or SystemClock()
    app[CONFIG] = config
    app[ADMIN_TOKEN] = admin_token
    app[SESSIONS] = sessions
    app[BEARER_AUTH] = bearer
    app[ACCOUNTS] = AccountStore(engine)
    app[SETUP_CODE] = SetupCode()
    app[SIGNIN_THROTTLE] = SigninThrottle()
    app[PROVIDERS] = ProviderStore(engine)
    app[AUDIT_LOG] = AuditLog(engine)
    app[METRICS_REGISTRY] = registry
    app[TEMPLATES] = pages.template_environment()
    app[EVENT_STREAMS_CLOSING] = asyncio.Event()
    app[MEDIA_TOOLS] = MediaTools(config.media.ffmpeg, config.media.ffprobe)
    app[DATABASE] = Database(config.database_url)
    app[FFMPEG_PROCESSES] = FfmpegProcesses(metrics=FfmpegMetrics(registry))
    app[ROOMS] = RoomRepository(engine, new_stream_key=new_stream_key)
    app[PARTNERS] = PartnerRepository(engine)
    store = ScheduleStore()
    app[SCHEDULE] = ScheduleService(
        engine,
        clock,
        store,
        early_start_limit=timedelta(minutes=config.schedule.early_start_minutes),
    )
    app[JOIN_LINKS] = JoinLinks(
        JoinTokens(load_or_create_join_secret(config.data_dir)),
        config.public_url,
        grace=timedelta(minutes=config.webrtc.join_grace_minutes),
    )
    join_secret = load_or_create_join_secret(config.data_dir)
    app[SERIES_LINKS] = SeriesLinks(join_secret, config.public_url, clock.now)
    app[PARTNER_ACCESS] = PartnerAccess(join_secret, config.public_url, clock.now)
    app[PUBLIC_HLS] = PublicHlsLinks(
        join_secret, config.public_url, grace=timedelta(minutes=config.webrtc.join_grace_minutes)
    )
    app[DISPLAY_LINKS] = DisplayLinks.from_data_dir(config.data_dir, config.public_url)
    check_aiortc()  # the WebRTC internals Knoten relies on, before anything is built on them
    app[WEBRTC] = _viewer_registry(config, registry)
    # Protects the recording and the partners when the machine cannot keep up: sheds viewers.
    app[LOAD_MONITOR] = LoadMonitor(
        app[FFMPEG_PROCESSES],
        app[WEBRTC].viewer_count,
        registry,
        policy=ShedPolicy(lag_limit_s=config.webrtc.shed_lag_ms / 1000),
        on_partner_profiles=lambda reduced: app[SEMINAR_CONTROLLER].reduce_partner_profiles(
            reduced
        ),
    )
    # Speakers on stage: their voices go to the room display, the host and the other speakers
    # as packets, and once decoded into the date's remote-audio bus (via the controller).
    app[STAGE_MEDIA] = StageMedia(
        _webrtc_options(config),
        on_pcm=lambda occurrence, speaker, pcm: app[SEMINAR_CONTROLLER].remote_audio(
            occurrence, speaker, pcm
        ),
        on_pcm_end=lambda occurrence, speaker: app[SEMINAR_CONTROLLER].remote_audio_end(
            occurrence, speaker
        ),
        # Their cameras, decoded once, as picture-in-picture tiles of the broadcast.
        on_picture=lambda *picture: app[SEMINAR_CONTROLLER].speaker_picture(*picture),
        # Whose camera each video slot carries: the pages name the tiles by it.
        on_cameras=lambda occurrence, cameras: app[CONVERSATIONS].set_cameras(occurrence, cameras),
        max_stage=config.conversation.max_on_stage,
    )
    conversations = ConversationStore(engine)
    app[CONVERSATIONS] = ConversationHub(
        conversations,
        DateContexts(app[SCHEDULE], app[PARTNERS]),
        limits=ChatLimits(
            max_participants=config.conversation.max_participants,
            max_hands=config.conversation.max_raised_hands,
            max_stage=config.conversation.max_on_stage,
        ),
        now=clock.now,
        on_stage=_stage_follows(app),
    )
    catalog = Catalog(engine)
    app[CONVERSATION_RETENTION] = ConversationRetention(
        app[CONVERSATIONS],
        conversations,
        catalog,
        _date_end(app[SCHEDULE]),
        clock,
        days=config.conversation.retention_days,
    )
    _archive(app, registry, clock, catalog)
    app[ACCESS] = AccessGuard(app[SCHEDULE], app[PROVIDERS], catalog)
    app[PUSH_INGEST] = PushIngest(config.ingest.host, config.ingest.srt_port_base)
    app[WHIP_INGEST] = WhipIngest(_webrtc_options(config), WhipPorts(config.ingest.whip_port_base))
    app[RUN_DIR] = Path(tempfile.gettempdir()) / f"knoten-{uuid.uuid4().hex[:8]}"
    controller = SeminarController(
        rooms=app[ROOMS],
        partners=app[PARTNERS],
        processes=app[FFMPEG_PROCESSES],
        data_dir=config.data_dir,
        run_dir=app[RUN_DIR],
        ffmpeg=config.media.ffmpeg,
        ingest=app[PUSH_INGEST],
        whip=app[WHIP_INGEST].ports,
        recorder=app[RECORDER],
        viewers=app[WEBRTC],
        stage=app[STAGE_MEDIA],
        public_hls=config.media.public_hls,
    )
    app[SEMINAR_CONTROLLER] = controller
    registry.register(LiveSessionCollector(controller))
    # Tests may swap in a runner that only records calls.
    app[SESSION_RUNNER] = session_runner or controller
    source = SqlOccurrenceSource(engine, store)
    # Several nodes on one database: each live date runs on the node holding its lease.
    app[LEASES] = LeaseKeeper(
        LeaseStore(engine),
        source,
        clock,
        node_id=config.node_id,
        node_url=config.node_url,
        running=lambda: app[SESSION_RUNNER].running(),
        reconcile=lambda: app[RECONCILER].reconcile(),
        fence=_hand_over(app),
        timing=LeaseTiming(config.cluster.lease_renew_s, config.cluster.lease_ttl_s),
    )
    app[RECONCILER] = Reconciler(source, app[SESSION_RUNNER], clock, app[LEASES])
    app[TRIGGERS] = ScheduleTriggers(
        app[RECONCILER], source, clock, housekeeping=app[SCHEDULE].extend_horizons
    )
    app[SCHEDULE].subscribe(app[TRIGGERS].changed)
    app[OPENAPI] = build_openapi(
        API_OPERATIONS, version=knoten_version(), server_url=config.public_url
    )

    router = app.router
    system.add_routes(router)
    register(router, API_OPERATIONS)
    pages.add_routes(router)
    signin.add_routes(router)  # sign-in, sign-out, first set-up
    dashboard.add_routes(router)
    calendar.add_routes(router)
    hls.add_routes(router)  # partner HLS pull: /live/{occurrence}/{partner}/…
    public_hls.add_routes(router)  # the public rendition for caches: /hls/{signed date}/…
    whep.add_routes(router)
    whip.add_routes(router)  # the room camera published over WebRTC (OBS, a browser)
    stage.add_routes(router)  # speakers publish, the room, the host and speakers listen
    join.add_routes(router)
    series_join.add_routes(router)  # one participant link per course
    partner_dates.add_routes(router)  # a partner's own dates and calendar feed
    audit_page.add_routes(router)  # the audit log for staff
    conversation_pages.add_routes(router)
    display.add_routes(router)  # the room PC's page
    recordings.add_routes(router)  # public share links

    # on_shutdown runs before aiohttp waits for running handlers: open streams end at once.
    app.on_shutdown.append(_close_event_streams)
    app.cleanup_ctx.append(_webrtc)
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_first_setup)
    app.cleanup_ctx.append(_media)
    app.cleanup_ctx.append(_recordings)
    app.cleanup_ctx.append(_conversation_retention)
    app.cleanup_ctx.append(_scheduling)
    return app


def _webrtc_options(config: Config) -> WebrtcOptions:
    section = config.webrtc
    return WebrtcOptions(
        ice_servers=tuple(
            IceServer(tuple(s.urls), s.username, s.credential) for s in section.ice_servers
        ),
        host_addresses=tuple(section.host_addresses),
        interfaces=tuple(section.interfaces),
        max_viewers=section.max_viewers,
        max_connecting=section.max_connecting,
        connect_timeout_s=section.connect_timeout_s,
    )


def _viewer_registry(config: Config, metrics: CollectorRegistry) -> ViewerRegistry:
    section = config.webrtc
    options = _webrtc_options(config)
    if not section.workers:
        return WebrtcRegistry(options, metrics)
    return ShardedRegistry(
        options,
        metrics,
        workers=section.workers,
        viewers_per_worker=section.viewers_per_worker,
        log_level=config.logging.level.upper(),
    )


def _stage_follows(
    app: web.Application,
) -> Callable[[int, set[int], set[int]], Awaitable[None]]:
    """The media plane admits exactly the speakers the conversation has on stage, and forwards
    nothing of the ones the host muted."""

    async def follow(occurrence_id: int, speakers: set[int], muted: set[int]) -> None:
        app[STAGE_MEDIA].set_stage(occurrence_id, speakers)
        app[STAGE_MEDIA].set_muted(occurrence_id, muted)

    return follow


def _hand_over(app: web.Application) -> Callable[[int, str], Awaitable[None]]:
    """A date whose lease this node lost stops here; its recording stays open for the node
    that took it over."""

    async def hand_over(occurrence_id: int, reason: str) -> None:
        runner = app[SESSION_RUNNER]
        if runner is app[SEMINAR_CONTROLLER]:
            await app[SEMINAR_CONTROLLER].hand_over(occurrence_id, reason)
        else:
            await runner.stop(occurrence_id, reason)

    return hand_over


def _date_end(schedule: ScheduleService) -> Callable[[int], Awaitable[datetime]]:
    async def end(occurrence_id: int) -> datetime:
        return (await schedule.occurrence(occurrence_id)).end_utc

    return end


def _archive(
    app: web.Application, registry: CollectorRegistry, clock: Clock, catalog: Catalog
) -> None:
    """The archive's components: recorder, finalizer, retention and share links; a date's
    conversation goes with its recording."""
    config = app[CONFIG]
    settings = config.recordings
    media = config.media
    paths = ArchivePaths(config.recordings_dir)
    metrics = RecordingMetrics(registry)
    processes = app[FFMPEG_PROCESSES]
    finalizer = Finalizer(catalog, paths, metrics, ffmpeg=media.ffmpeg, ffprobe=media.ffprobe,
                          processes=processes)  # fmt: skip
    guard = DiskGuard(paths.root, int(settings.min_free_gb * 2**30))
    recorder = Recorder(catalog, paths, finalizer, guard, metrics, ffmpeg=media.ffmpeg,
                        processes=processes, segment_seconds=settings.segment_seconds,
                        clock=clock)  # fmt: skip
    rules = RetentionRules(settings.retention_days, int(settings.quota_gb * 2**30))
    app[ARCHIVE_PATHS] = paths
    app[RECORDINGS] = catalog
    app[FINALIZER] = finalizer
    app[RECORDER] = recorder
    app[RETENTION] = Retention(
        catalog,
        paths,
        rules,
        metrics,
        clock=clock,
        writing=recorder.is_writing,
        after_delete=app[CONVERSATION_RETENTION].recording_deleted,
    )
    app[SHARE_LINKS] = ShareLinks(load_or_create_secret(config.data_dir))


async def _close_event_streams(app: web.Application) -> None:
    app[EVENT_STREAMS_CLOSING].set()
    await app[CONVERSATIONS].aclose()


async def _webrtc(app: web.Application) -> AsyncIterator[None]:
    registry = app[WEBRTC]
    await registry.start()  # sharded: the viewer workers, supervised from here on
    await app[WHIP_INGEST].start()
    yield
    # Every peer and feed reader ends here; the sessions' own close() calls come first.
    await app[WHIP_INGEST].aclose()
    await app[STAGE_MEDIA].aclose()
    await registry.aclose()


async def _database(app: web.Application) -> AsyncIterator[None]:
    await app[DATABASE].start()
    yield
    await app[DATABASE].aclose()


async def _first_setup(app: web.Application) -> AsyncIterator[None]:
    """Without any account, a one-time set-up code for ``knoten serve`` to print; the audit
    log's yearly clean-up runs while the database is open."""
    if await app[ACCOUNTS].count() == 0:
        app[SETUP_CODE].arm()
        log.warning("no account yet: open the set-up link printed on the console")
    app[AUDIT_LOG].start()
    yield
    await app[AUDIT_LOG].aclose()


async def _media(app: web.Application) -> AsyncIterator[None]:
    version = await app[MEDIA_TOOLS].version()
    log.info("ffmpeg %s", version or "NOT FOUND")
    yield
    # Every FFmpeg process ends here, gracefully, before anything else is torn down.
    await app[SEMINAR_CONTROLLER].aclose()
    await app[FFMPEG_PROCESSES].aclose()
    shutil.rmtree(app[RUN_DIR], ignore_errors=True)


async def _recordings(app: web.Application) -> AsyncIterator[None]:
    """Retention started; recorder and retention closed at shutdown. After the FFmpeg
    registry and before scheduling, so sessions stop (and hand their recordings to
    finalization) before the recorder closes, and FFmpeg goes after both. Recovery of
    unfinished recordings runs in ``_scheduling``, after the boot reconciliation."""
    await asyncio.to_thread(app[ARCHIVE_PATHS].ensure_root)
    app[RETENTION].start()
    app[FINALIZER].start()  # finishes recordings that wait for disk space, once it is back
    app[LOAD_MONITOR].start()
    yield
    await app[LOAD_MONITOR].aclose()
    await app[RETENTION].aclose()
    await app[RECORDER].aclose()


async def _conversation_retention(app: web.Application) -> AsyncIterator[None]:
    app[CONVERSATION_RETENTION].start()
    yield
    await app[CONVERSATION_RETENTION].aclose()


async def _scheduling(app: web.Application) -> AsyncIterator[None]:
    await app[SCHEDULE].extend_horizons()
    # Runs the boot reconciliation (late starts, missed marks) and arms the triggers.
    await app[TRIGGERS].start()
    # After the boot run: a date still on air has continued its recording by now (one archive
    # entry across the restart); only recordings nobody writes any more are finalized (those
    # of dates another node runs are that node's).
    elsewhere = await app[LEASES].held_elsewhere()
    recovering = await app[FINALIZER].recover(app[RECORDER].is_writing, elsewhere)
    if recovering:
        log.warning("recovering %d unfinished recording(s): %s", len(recovering), recovering)
    app[LEASES].start()
    yield
    await app[LEASES].stop()  # first: nothing may start a date again while shutting down
    await app[TRIGGERS].aclose()
    # The dates stay live in the database: their recordings stay open for the next start.
    await app[RECORDER].suspend_all()
    # Sessions still running at shutdown are stopped; their occurrences stay live in the
    # database, so the next start resumes them while their window is open.
    runner = app[SESSION_RUNNER]
    for occurrence_id in sorted(runner.running()):
        await runner.stop(occurrence_id, "service shutting down")
    # Only now, with nothing of them running here: another node may take the dates at once.
    await app[LEASES].aclose()


__all__ = ["AdminToken", "build_app"]
