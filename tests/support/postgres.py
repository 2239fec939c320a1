"""A private PostgreSQL cluster for the tests, from Debian's ``postgresql`` binaries.

Owned by the database test harness. :class:`PostgresCluster` runs ``initdb`` into a temporary
directory and ``postgres`` in the foreground as a child of the test process (its own process
group, so the session stops exactly what it started), listening on a free port of 127.0.0.1 only
and a Unix socket inside that directory. PostgreSQL refuses to run as root, so as root the
cluster runs as an unprivileged user (``postgres`` if Debian's package created it, else
``nobody``).

Every test gets a database of its own, copied from a template migrated to the newest schema once
per session (``CREATE DATABASE … TEMPLATE``), so a test on PostgreSQL costs a few tens of
milliseconds more than on SQLite, not a migration run. Durability is switched off (``fsync``,
``synchronous_commit``, ``full_page_writes``): the cluster is thrown away at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from tests.support.ports import free_tcp_port

PG_BIN = Path(os.environ.get("KNOTEN_PG_BIN", "/usr/lib/postgresql/15/bin"))
HOST = "127.0.0.1"
SUPERUSER = "knoten"
TEMPLATE = "knoten_template"
PR_SET_PDEATHSIG = 1


class PostgresStartError(RuntimeError):
    """The cluster did not come up; the message carries its log."""


def _run_as() -> pwd.struct_passwd | None:
    """Whom to run PostgreSQL as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise PostgresStartError("running as root and neither 'postgres' nor 'nobody' exists")


def _die_with_parent() -> None:
    """In the child before exec: SIGQUIT (immediate shutdown) when the test process dies, so a
    killed pytest leaves no server behind. Runs after the switch of user, which would clear it."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGQUIT)


class PostgresCluster:
    """One throw-away PostgreSQL server on 127.0.0.1; ``start`` … ``stop``."""

    def __init__(self, base: Path | None = None) -> None:
        self._own_base = base is None
        self.base = Path(tempfile.mkdtemp(prefix="knoten-pg-")) if base is None else base
        self.data = self.base / "data"
        self.log_path = self.base / "postgres.log"
        self.port = free_tcp_port()
        self._user = _run_as()
        self._process: subprocess.Popen[bytes] | None = None
        self._names = itertools.count(1)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://{SUPERUSER}@{HOST}:{self.port}/{database}"

    def _popen_user(self) -> dict[str, int]:
        if self._user is None:
            return {}
        return {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}

    def start(self, timeout: float = 30.0) -> None:
        if self._user is not None:
            os.chown(self.base, self._user.pw_uid, self._user.pw_gid)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8"}
        subprocess.run(
            [
                str(PG_BIN / "initdb"),
                "--pgdata",
                str(self.data),
                "--username",
                SUPERUSER,
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            env=env,
            cwd=self.base,
            **self._popen_user(),  # type: ignore[arg-type]
        )
        settings = {
            "listen_addresses": HOST,
            "port": str(self.port),
            "unix_socket_directories": str(self.base),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "shared_buffers": "32MB",
            "max_connections": "200",
            "log_min_messages": "warning",
        }
        argv = [str(PG_BIN / "postgres"), "-D", str(self.data)]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        # Owned by whoever opened it; the child only inherits the descriptor.
        log = self.log_path.open("ab")
        try:
            self._process = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=self.base,
                process_group=0,
                preexec_fn=_die_with_parent,
                **self._popen_user(),  # type: ignore[arg-type]
            )
        finally:
            log.close()
        self._wait_ready(timeout)
        self._make_template()

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self._process is not None
            if self._process.poll() is not None:
                raise PostgresStartError(f"postgres exited:\n{self.log()}")
            ready = subprocess.run(
                [str(PG_BIN / "pg_isready"), "-h", HOST, "-p", str(self.port), "-q"],
                check=False,
            )
            if ready.returncode == 0:
                return
            if time.monotonic() > deadline:
                self.stop()
                raise PostgresStartError(f"postgres not ready in {timeout} s:\n{self.log()}")
            time.sleep(0.05)

    def _make_template(self) -> None:
        from knoten.db import Database

        async def migrate() -> None:
            database = Database(self.url(TEMPLATE))
            await database.start()  # every migration, once per session
            await database.aclose()

        self.execute(f'CREATE DATABASE "{TEMPLATE}"')
        # Its own thread and loop: the fixture may be set up while a test's loop is running.
        errors: list[BaseException] = []

        def run() -> None:
            try:
                asyncio.run(migrate())
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=run, name="pg-template")
        thread.start()
        thread.join()
        if errors:
            raise errors[0]

    def execute(self, statement: str, database: str = "postgres") -> str:
        """Run one SQL statement with ``psql``; returns its unaligned output."""
        result = subprocess.run(
            [
                str(PG_BIN / "psql"),
                "--no-psqlrc",
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                HOST,
                "-p",
                str(self.port),
                "-U",
                SUPERUSER,
                "-d",
                database,
                "-c",
                statement,
            ],
            check=False,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr.strip()}")
        return result.stdout

    def create_database(self) -> str:
        """A new database at the newest schema; returns its SQLAlchemy URL."""
        name = f"test_{next(self._names)}"
        self.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
        return self.url(name)

    def create_empty_database(self) -> str:
        """A new database without any table (for migration tests); returns its URL."""
        name = f"empty_{next(self._names)}"
        self.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self, timeout: float = 15.0) -> None:
        """Fast shutdown (SIGINT: disconnect clients, then stop); SIGKILL if it hangs."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        if self._own_base:
            shutil.rmtree(self.base, ignore_errors=True)
