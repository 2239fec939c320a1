"""The `knoten` command: `serve` runs the service, `migrate` updates the database."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from aiohttp import web

from knoten.app import build_app, knoten_version
from knoten.config import Config, ConfigError, load_config
from knoten.db import Database
from knoten.keys import ADMIN_TOKEN

log = logging.getLogger("knoten")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="knoten", description="Knoten seminar room service")
    parser.add_argument("--version", action="version", version=f"knoten {knoten_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("serve", "run the service"),
        ("migrate", "apply database migrations and exit"),
    ):
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument("--config", type=Path, help="TOML configuration file")
        cmd.add_argument("--data-dir", type=Path, help="data directory (KNOTEN_DATA_DIR)")
        if name == "serve":
            cmd.add_argument("--host", help="address to listen on (KNOTEN_HOST)")
            cmd.add_argument("--port", type=int, help="port to listen on (KNOTEN_PORT)")
    return parser


def _load(args: argparse.Namespace) -> Config:
    return load_config(
        args.config,
        overrides={
            "server.host": getattr(args, "host", None),
            "server.port": getattr(args, "port", None),
            "storage.data_dir": args.data_dir,
        },
    )


def _configure_logging(config: Config) -> None:
    logging.basicConfig(
        level=config.logging.level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # aiohttp's access log line per request is noise for a librarian; keep warnings.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # aiosqlite logs every statement with its parameters at DEBUG: never let secrets through.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)


def serve(config: Config) -> None:
    app = build_app(config)
    token = app[ADMIN_TOKEN]
    where = f"in {token.path}" if token.path else "from the configuration (KNOTEN_ADMIN_TOKEN)"

    def announce(_: str) -> None:
        print(f"Knoten läuft / is running on {config.public_url}", flush=True)
        print(f"Admin token: {where}", flush=True)
        print("Stop with Ctrl+C.", flush=True)

    web.run_app(
        app,
        host=config.server.host,
        port=config.server.port,
        shutdown_timeout=config.server.shutdown_timeout_s,
        print=announce,
        access_log=None,
        handle_signals=True,
    )


async def migrate(config: Config) -> None:
    database = Database(config.database_url)
    await database.start()
    await database.aclose()
    print("database is up to date")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = _load(args)
    except ConfigError as exc:
        print(f"knoten: {exc}", file=sys.stderr)
        return 2
    _configure_logging(config)
    if args.command == "serve":
        serve(config)
    elif args.command == "migrate":
        asyncio.run(migrate(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
