"""Typed application keys: every component the app owns, stored once under its key."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CollectorRegistry

from knoten.config import Config
from knoten.db import Database
from knoten.media import MediaTools
from knoten.security import AdminToken
from schedules.ports import SessionRunner
from schedules.reconciler import Reconciler
from schedules.rooms import RoomRepository
from schedules.service import ScheduleService
from schedules.triggers import ScheduleTriggers
from streaming.ffmpeg.registry import FfmpegProcesses

CONFIG = web.AppKey("config", Config)
DATABASE = web.AppKey("database", Database)
ADMIN_TOKEN = web.AppKey("admin_token", AdminToken)
METRICS_REGISTRY = web.AppKey("metrics_registry", CollectorRegistry)
FFMPEG_PROCESSES = web.AppKey("ffmpeg_processes", FfmpegProcesses)
MEDIA_TOOLS = web.AppKey("media_tools", MediaTools)
ROOMS = web.AppKey("rooms", RoomRepository)
OPENAPI = web.AppKey("openapi", dict)
SCHEDULE = web.AppKey("schedule", ScheduleService)
SESSION_RUNNER = web.AppKey("session_runner", SessionRunner)
RECONCILER = web.AppKey("reconciler", Reconciler)
TRIGGERS = web.AppKey("triggers", ScheduleTriggers)
