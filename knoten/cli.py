"""The `knoten` command: `serve` runs the service, `migrate` updates the database, `user add`
and `user reset-password` manage accounts."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from pathlib import Path

from aiohttp import web

from foundation.malloc_arenas import limit_malloc_arenas
from knoten.accounts.errors import AccountError
from knoten.accounts.principal import Role
from knoten.accounts.providers import ProviderStore
from knoten.accounts.store import AccountStore
from knoten.app import build_app, knoten_version
from knoten.config import Config, ConfigError, load_config
from knoten.db import Database
from knoten.keys import ADMIN_TOKEN, SETUP_CODE

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
        _common(cmd)
        if name == "serve":
            cmd.add_argument("--host", help="address to listen on (KNOTEN_HOST)")
            cmd.add_argument("--port", type=int, help="port to listen on (KNOTEN_PORT)")
    user = sub.add_parser("user", help="accounts: add one, reset a password")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    add = user_sub.add_parser("add", help="create an account (asks for the password)")
    _common(add)
    add.add_argument("username")
    add.add_argument("--role", choices=[r.value for r in Role], default=Role.STAFF.value)
    add.add_argument("--name", default="", help="display name")
    add.add_argument("--provider", help="provider name (hosts and partners)")
    add.add_argument("--partner-id", type=int, help="broadcast partner id (partners)")
    reset = user_sub.add_parser("reset-password", help="set a new password (asks for it)")
    _common(reset)
    reset.add_argument("username")
    return parser


def _common(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--config", type=Path, help="TOML configuration file")
    cmd.add_argument("--data-dir", type=Path, help="data directory (KNOTEN_DATA_DIR)")


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
    limit_malloc_arenas()  # before any thread: a day on air must not grow the heap
    app = build_app(config)
    token = app[ADMIN_TOKEN]
    where = f"in {token.path}" if token.path else "from the configuration (KNOTEN_ADMIN_TOKEN)"

    def announce(_: str) -> None:
        print(f"Knoten läuft / is running on {config.public_url}", flush=True)
        print(f"API token for scripts: {where}", flush=True)
        code = app[SETUP_CODE].code
        if code is not None:
            # Only on this console (never in the log): whoever sees it may create the first
            # staff account.
            print(
                "Noch kein Konto / no account yet. Einrichten / set up: "
                f"{config.public_url}/setup?code={code}",
                flush=True,
            )
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


def _ask_password() -> str:
    """The new password from the terminal (twice), or one line of standard input."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Neues Passwort / new password: ")
    if getpass.getpass("Noch einmal / again: ") != first:
        raise AccountError("Die beiden Passwörter sind verschieden.", "password")
    return first


async def user_command(config: Config, args: argparse.Namespace) -> None:
    database = Database(config.database_url)
    await database.start()
    try:
        accounts = AccountStore(lambda: database.engine)
        if args.user_command == "add":
            role = Role(args.role)
            provider_id = None
            if args.provider:
                provider = await ProviderStore(lambda: database.engine).find(args.provider)
                if provider is None:
                    raise AccountError(f"Kein Bildungsträger '{args.provider}'.", "provider")
                provider_id = provider.id
            account = await accounts.create(
                args.username,
                _ask_password(),
                role,
                display_name=args.name,
                provider_id=provider_id,
                partner_id=args.partner_id,
            )
            print(f"Konto '{account.username}' ({account.role}) angelegt / created")
        else:
            account = await accounts.reset_password(args.username, _ask_password())
            print(f"Passwort von '{account.username}' geändert; alle Sitzungen beendet")
    finally:
        await database.aclose()


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
    elif args.command == "user":
        try:
            asyncio.run(user_command(config, args))
        except AccountError as exc:
            print(f"knoten: {exc.message}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
