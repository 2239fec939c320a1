"""Typed application keys: every component the app owns, stored once under its key."""

from __future__ import annotations

import asyncio
from pathlib import Path

import jinja2
from aiohttp import web
from prometheus_client import CollectorRegistry

from knoten.access import AccessGuard
from knoten.accounts.providers import ProviderStore
from knoten.accounts.setup_code import SetupCode
from knoten.accounts.store import AccountStore
from knoten.accounts.throttle import SigninThrottle
from knoten.accounts.tokens import BearerAuth
from knoten.audit import AuditLog
from knoten.config import Config
from knoten.conversation.hub import ConversationHub
from knoten.conversation.retention import ConversationRetention
from knoten.db import Database
from knoten.display_links import DisplayLinks
from knoten.join_links import JoinLinks
from knoten.media import MediaTools
from knoten.partner_access import PartnerAccess
from knoten.public_hls import PublicHlsLinks
from knoten.security import AdminToken
from knoten.seminar_controller import SeminarController
from knoten.series_links import SeriesLinks
from knoten.web.session import SessionStore
from recordings.catalog import Catalog
from recordings.finalize import Finalizer
from recordings.paths import ArchivePaths
from recordings.recorder import Recorder
from recordings.retention import Retention
from recordings.share import ShareLinks
from schedules.lease_keeper import LeaseKeeper
from schedules.ports import SessionRunner
from schedules.reconciler import Reconciler
from schedules.rooms import RoomRepository
from schedules.service import ScheduleService
from schedules.triggers import ScheduleTriggers
from streaming.dialog import StageMedia
from streaming.ffmpeg.registry import FfmpegProcesses
from streaming.load_monitor import LoadMonitor
from streaming.partners import PartnerRepository
from streaming.sources import PushIngest
from streaming.webrtc import ViewerRegistry
from streaming.webrtc.whip import WhipIngest

CONFIG = web.AppKey("config", Config)
DATABASE = web.AppKey("database", Database)
ADMIN_TOKEN = web.AppKey("admin_token", AdminToken)
METRICS_REGISTRY = web.AppKey("metrics_registry", CollectorRegistry)
FFMPEG_PROCESSES = web.AppKey("ffmpeg_processes", FfmpegProcesses)
LOAD_MONITOR = web.AppKey("load_monitor", LoadMonitor)
MEDIA_TOOLS = web.AppKey("media_tools", MediaTools)
ROOMS = web.AppKey("rooms", RoomRepository)
PARTNERS = web.AppKey("partners", PartnerRepository)
OPENAPI = web.AppKey("openapi", dict)
SCHEDULE = web.AppKey("schedule", ScheduleService)
SESSION_RUNNER = web.AppKey("session_runner", SessionRunner)
RECONCILER = web.AppKey("reconciler", Reconciler)
LEASES = web.AppKey("leases", LeaseKeeper)
TRIGGERS = web.AppKey("triggers", ScheduleTriggers)
SESSIONS = web.AppKey("sessions", SessionStore)
ACCOUNTS = web.AppKey("accounts", AccountStore)
SETUP_CODE = web.AppKey("setup_code", SetupCode)
SIGNIN_THROTTLE = web.AppKey("signin_throttle", SigninThrottle)
BEARER_AUTH = web.AppKey("bearer_auth", BearerAuth)
PROVIDERS = web.AppKey("providers", ProviderStore)
ACCESS = web.AppKey("access", AccessGuard)
AUDIT_LOG = web.AppKey("audit_log", AuditLog)
SERIES_LINKS = web.AppKey("series_links", SeriesLinks)
PARTNER_ACCESS = web.AppKey("partner_access", PartnerAccess)
PUBLIC_HLS = web.AppKey("public_hls", PublicHlsLinks)
SEMINAR_CONTROLLER = web.AppKey("seminar_controller", SeminarController)
PUSH_INGEST = web.AppKey("push_ingest", PushIngest)
WHIP_INGEST = web.AppKey("whip_ingest", WhipIngest)
RUN_DIR = web.AppKey("run_dir", Path)
RECORDINGS = web.AppKey("recordings", Catalog)
RECORDER = web.AppKey("recorder", Recorder)
FINALIZER = web.AppKey("finalizer", Finalizer)
RETENTION = web.AppKey("retention", Retention)
ARCHIVE_PATHS = web.AppKey("archive_paths", ArchivePaths)
SHARE_LINKS = web.AppKey("share_links", ShareLinks)
WEBRTC = web.AppKey("webrtc", ViewerRegistry)
JOIN_LINKS = web.AppKey("join_links", JoinLinks)
TEMPLATES = web.AppKey("templates", jinja2.Environment)
#: Set when the app shuts down: every open event stream of the live panel ends at its next check.
EVENT_STREAMS_CLOSING = web.AppKey("event_streams_closing", asyncio.Event)
CONVERSATIONS = web.AppKey("conversations", ConversationHub)
CONVERSATION_RETENTION = web.AppKey("conversation_retention", ConversationRetention)
DISPLAY_LINKS = web.AppKey("display_links", DisplayLinks)
STAGE_MEDIA = web.AppKey("stage_media", StageMedia)
