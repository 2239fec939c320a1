"""Typed configuration: embedded defaults, a TOML file and ``KNOTEN_*`` environment overrides.

Everything is validated once at load time. A bad value raises :class:`ConfigError` naming the key
(and the environment variable that set it), so start-up stops with one clear line.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ServerConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    public_url: str | None = None
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    shutdown_timeout_s: float = Field(default=5.0, gt=0, le=30)

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


class Config(_Section):
    server: ServerConfig = ServerConfig()
    storage: StorageConfig = StorageConfig()
    security: SecurityConfig = SecurityConfig()
    logging: LoggingConfig = LoggingConfig()
    media: MediaConfig = MediaConfig()

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
    "KNOTEN_DATA_DIR": ("storage", "data_dir"),
    "KNOTEN_DATABASE_URL": ("storage", "database_url"),
    "KNOTEN_ADMIN_TOKEN": ("security", "admin_token"),
    "KNOTEN_LOG_LEVEL": ("logging", "level"),
    "KNOTEN_FFMPEG": ("media", "ffmpeg"),
    "KNOTEN_FFPROBE": ("media", "ffprobe"),
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
