"""Typed configuration: embedded defaults, a TOML file and ``KNOTEN_*`` environment overrides.

Everything is validated once at load time. A bad value raises :class:`ConfigError` naming the key
(and the environment variable that set it), so start-up stops with one clear line.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
#: scheme://host[:port] without path, query or user info (what browsers send as ``Origin``).
_ORIGIN = re.compile(r"https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?")


def _comma_separated(value: Any) -> Any:
    """From the environment a list arrives as "a,b"."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ServerConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    public_url: str | None = None
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    shutdown_timeout_s: float = Field(default=5.0, gt=0, le=30)
    # Origins whose pages may use WHEP/WHIP, partner HLS and share media (CORS); empty = same
    # origin only, "*" = any (those doors carry their own tokens, never cookies).
    cors_origins: list[str] = []

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origin_list(cls, value: Any) -> Any:
        return _comma_separated(value)

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin != "*" and _ORIGIN.fullmatch(origin.rstrip("/")) is None:
                raise ValueError(f"{origin!r} must be '*' or an origin like https://host[:port]")
        return [origin.rstrip("/").lower() for origin in value]

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


class StorageConfig(_Section):
    data_dir: Path = Path("knoten-data")
    database_url: str | None = None

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "must be an async SQLAlchemy URL (sqlite+aiosqlite:/// or postgresql+asyncpg://)"
            )
        return value


class SecurityConfig(_Section):
    admin_token: str | None = Field(default=None, min_length=16)


class LoggingConfig(_Section):
    level: LogLevel = "INFO"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class MediaConfig(_Section):
    ffmpeg: str = "ffmpeg"
    ffprobe: str = "ffprobe"
    # Saving a room tests its camera address with ffprobe (5 s at most) and shows the result.
    # Off where reaching out is unwanted (the test suite keeps its traffic on loopback).
    check_camera_on_save: bool = True
    # The public HLS rendition (1 s segments under /hls/<signed date>/, made for an HTTP cache
    # or CDN in front): one more copy process per live date.
    public_hls: bool = False


class IngestConfig(_Section):
    """Where hosts push from OBS or a hardware encoder (rooms whose source is ``srt-push`` or
    ``whip``)."""

    host: str = "127.0.0.1"
    # Room n listens on srt_port_base + n - 1 while one of its seminars is live.
    srt_port_base: int = Field(default=9710, ge=1024, le=65000)
    # WHIP rooms: room n's publisher is handed to FFmpeg as RTP on loopback ports
    # whip_port_base + 4(n - 1) … + 3 while one of its seminars is live.
    whip_port_base: int = Field(default=9810, ge=1024, le=65000)


class RecordingsConfig(_Section):
    retention_days: int = Field(default=365, ge=0, le=36500)  # 0 = keep forever
    quota_gb: float = Field(default=0, ge=0)  # 0 = no quota
    min_free_gb: float = Field(default=2, ge=0)  # disk guard: close recordings below this
    segment_seconds: float = Field(default=2, ge=1, le=10)  # at most this much is lost in a crash


class IceServerConfig(_Section):
    """One STUN or TURN server, passed to aiortc and to the browser alike."""

    urls: list[str] = Field(min_length=1)
    username: str | None = None
    credential: str | None = None

    @field_validator("urls", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("urls")
    @classmethod
    def _ice_scheme(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.startswith(("stun:", "stuns:", "turn:", "turns:")):
                raise ValueError(f"{url!r} must start with stun:, stuns:, turn: or turns:")
        return value


class WebrtcConfig(_Section):
    """Browser viewing (WHEP). No ICE server by default: nothing is contacted unless configured."""

    ice_servers: list[IceServerConfig] = []
    # Host candidates: explicit addresses win over interface names; both empty = every
    # non-loopback address (aioice's default). Tests on one machine use ["127.0.0.1"].
    host_addresses: list[str] = []
    interfaces: list[str] = []
    max_viewers: int = Field(default=200, ge=1, le=5000)
    # Viewers in their ICE/DTLS handshake at once; further offers wait briefly, then 503 "busy".
    max_connecting: int = Field(default=8, ge=1, le=64)
    # Worker processes that own the viewers (each reads the feed and sends to its viewers);
    # 0 = in the service process. One event loop fills up at about 200 viewers.
    workers: int = Field(default=2, ge=0, le=32)
    # Viewers placed on one worker before the next is used (filling one is cheaper per viewer).
    viewers_per_worker: int = Field(default=100, ge=1, le=5000)
    connect_timeout_s: float = Field(default=15.0, gt=0, le=120)
    join_grace_minutes: int = Field(default=720, ge=0, le=10080)
    # Load shedding: the event loop late by more than this, sustained, sheds viewers first.
    shed_lag_ms: int = Field(default=100, ge=20, le=10000)

    @field_validator("host_addresses", "interfaces", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        return _comma_separated(value)

    @field_validator("host_addresses")
    @classmethod
    def _ip_literals(cls, value: list[str]) -> list[str]:
        for address in value:
            ipaddress.ip_address(address)  # ValueError names the bad one
        return value


DEFAULT_PRIVACY_TEXT = (
    "Die Aufzeichnung und die Übertragung dienen dazu, die Veranstaltung Menschen zugänglich zu "
    "machen, die nicht vor Ort sein können. Was Sie im Chat schreiben und was Sie sagen, wenn "
    "Sie zu Wort kommen, kann in der Aufzeichnung und bei den Partnern zu sehen und zu hören "
    "sein. Ohne Zustimmung können Sie weiter zuschauen, aber nicht schreiben und sich nicht "
    "melden. Chatnachrichten werden mit der Aufzeichnung gelöscht."
)


class ConversationConfig(_Section):
    """Chat, questions and the recording notice of the join page."""

    # Shown on recorded or broadcast dates, below "Diese Veranstaltung wird aufgezeichnet …".
    privacy_text: str = Field(default=DEFAULT_PRIVACY_TEXT, min_length=1, max_length=4000)
    # Messages of a date without a recording are kept this long after its end (days).
    retention_days: int = Field(default=30, ge=1, le=3650)
    max_participants: int = Field(default=200, ge=1, le=5000)
    # The floor: raised hands and speakers on stage at once (beyond: 409).
    max_raised_hands: int = Field(default=25, ge=1, le=500)
    max_on_stage: int = Field(default=4, ge=1, le=4)


class ScheduleConfig(_Section):
    """Manual control of dates."""

    # "Jetzt starten" works up to this long before a date's lead-in; earlier the date must be
    # moved to now, so a slip of the finger cannot run camera and partners for hours.
    early_start_minutes: int = Field(default=60, ge=0)


class ClusterConfig(_Section):
    """Several nodes on one database (PostgreSQL): each live date runs on exactly one of them,
    under a lease the node renews; a node that dies hands its dates to another within about
    ``lease_ttl_s``. One node needs none of this."""

    # Unique per node (default: the host name); a restarted node keeps its dates under it.
    node_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    # Where this node itself is reached (the API names it for the dates it runs); default:
    # server.public_url.
    node_url: str | None = None
    lease_renew_s: float = Field(default=2.0, ge=0.2, le=60)
    lease_ttl_s: float = Field(default=6.0, ge=1, le=600)

    @field_validator("node_url")
    @classmethod
    def _node_url(cls, value: str | None) -> str | None:
        return ServerConfig._http_url(value)

    @model_validator(mode="after")
    def _ttl_covers_renewals(self) -> ClusterConfig:
        if self.lease_ttl_s < 2 * self.lease_renew_s:
            raise ValueError("lease_ttl_s must be at least twice lease_renew_s")
        return self


class Config(_Section):
    schedule: ScheduleConfig = ScheduleConfig()
    server: ServerConfig = ServerConfig()
    storage: StorageConfig = StorageConfig()
    security: SecurityConfig = SecurityConfig()
    logging: LoggingConfig = LoggingConfig()
    media: MediaConfig = MediaConfig()
    ingest: IngestConfig = IngestConfig()
    recordings: RecordingsConfig = RecordingsConfig()
    webrtc: WebrtcConfig = WebrtcConfig()
    conversation: ConversationConfig = ConversationConfig()
    cluster: ClusterConfig = ClusterConfig()

    @property
    def data_dir(self) -> Path:
        return self.storage.data_dir.resolve()

    @property
    def recordings_dir(self) -> Path:
        return self.data_dir / "recordings"

    @property
    def database_url(self) -> str:
        return self.storage.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'knoten.db'}"

    @property
    def node_id(self) -> str:
        if self.cluster.node_id:
            return self.cluster.node_id
        # Host names may carry characters a node id does not; they are replaced, not refused.
        name = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname()).strip(".-_")[:64]
        return name or "knoten"

    @property
    def node_url(self) -> str:
        return self.cluster.node_url or self.public_url

    @property
    def public_url(self) -> str:
        if self.server.public_url:
            return self.server.public_url
        host = self.server.host
        if ":" in host:  # IPv6 literal
            host = f"[{host}]"
        return f"http://{host}:{self.server.port}"


class ConfigError(Exception):
    """A configuration value is missing or invalid; ``key`` names it."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"configuration error: {key}: {message}")
        self.key = key
        self.message = message


#: Environment variable → (section, field).
ENV_KEYS: dict[str, tuple[str, str]] = {
    "KNOTEN_HOST": ("server", "host"),
    "KNOTEN_PORT": ("server", "port"),
    "KNOTEN_PUBLIC_URL": ("server", "public_url"),
    "KNOTEN_CORS_ORIGINS": ("server", "cors_origins"),
    "KNOTEN_DATA_DIR": ("storage", "data_dir"),
    "KNOTEN_DATABASE_URL": ("storage", "database_url"),
    "KNOTEN_ADMIN_TOKEN": ("security", "admin_token"),
    "KNOTEN_LOG_LEVEL": ("logging", "level"),
    "KNOTEN_EARLY_START_MINUTES": ("schedule", "early_start_minutes"),
    "KNOTEN_FFMPEG": ("media", "ffmpeg"),
    "KNOTEN_FFPROBE": ("media", "ffprobe"),
    "KNOTEN_CHECK_CAMERA_ON_SAVE": ("media", "check_camera_on_save"),
    "KNOTEN_PUBLIC_HLS": ("media", "public_hls"),
    "KNOTEN_INGEST_HOST": ("ingest", "host"),
    "KNOTEN_SRT_PORT_BASE": ("ingest", "srt_port_base"),
    "KNOTEN_WHIP_PORT_BASE": ("ingest", "whip_port_base"),
    "KNOTEN_WEBRTC_HOST_ADDRESSES": ("webrtc", "host_addresses"),
    "KNOTEN_WEBRTC_INTERFACES": ("webrtc", "interfaces"),
    "KNOTEN_WEBRTC_MAX_VIEWERS": ("webrtc", "max_viewers"),
    "KNOTEN_WEBRTC_MAX_CONNECTING": ("webrtc", "max_connecting"),
    "KNOTEN_WEBRTC_WORKERS": ("webrtc", "workers"),
    "KNOTEN_WEBRTC_VIEWERS_PER_WORKER": ("webrtc", "viewers_per_worker"),
    "KNOTEN_WEBRTC_CONNECT_TIMEOUT_S": ("webrtc", "connect_timeout_s"),
    "KNOTEN_WEBRTC_SHED_LAG_MS": ("webrtc", "shed_lag_ms"),
    "KNOTEN_NODE_ID": ("cluster", "node_id"),
    "KNOTEN_NODE_URL": ("cluster", "node_url"),
}


def load_config(
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Build the configuration: defaults < TOML file < environment < explicit overrides.

    ``overrides`` uses dotted keys (``"server.port"``), as the CLI flags do.
    """
    env = os.environ if env is None else env
    raw: dict[str, dict[str, Any]] = {}
    origin: dict[tuple[str, str], str] = {}
    if path is not None:
        try:
            with path.open("rb") as fh:
                document = tomllib.load(fh)
        except OSError as exc:
            raise ConfigError("--config", f"cannot read {path}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("--config", f"{path} is not valid TOML: {exc}") from exc
        for section, values in document.items():
            if not isinstance(values, dict):
                raise ConfigError(section, "expected a [section] table")
            raw[section] = dict(values)
    for var, (section, field) in ENV_KEYS.items():
        value = env.get(var)
        if value is not None and value != "":
            raw.setdefault(section, {})[field] = value
            origin[(section, field)] = var
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        section, _, field = dotted.partition(".")
        raw.setdefault(section, {})[field] = value
        origin.pop((section, field), None)
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = [str(part) for part in error["loc"]]
        key = ".".join(loc)
        if len(loc) >= 2 and (loc[0], loc[1]) in origin:
            key = f"{key} ({origin[(loc[0], loc[1])]})"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown setting"
        raise ConfigError(key, message) from None
