"""A throwaway PostgreSQL server for the tests: initdb, pg_ctl start, a schema per test, stop.

The server lives in a new temporary directory (data, log and its unix
socket), listens on no TCP address at all (``listen_addresses = ''``) and
on its own port number (which names its socket), and is deleted when
stopped.  PostgreSQL refuses to run as root, so as root ``initdb`` and
``pg_ctl`` run as the ``postgres`` user (``runuser``), the directory handed
to it.  ``fsync`` is off by default: nothing here survives the test run,
and the contract suites test the store's transactions, not the disk's.

The binaries are found on ``PATH``, else in the newest
``/usr/lib/postgresql/*/bin`` (Debian's ``postgresql`` package).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Final

REQUIRE_ENV: Final = "ORDERBOT_REQUIRE_POSTGRES"
DEBIAN_BINARIES: Final = Path("/usr/lib/postgresql")


def find_binaries() -> Path | None:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``, or ``None``."""
    initdb = shutil.which("initdb")
    if initdb is not None:
        bindir = Path(initdb).resolve().parent
        if all((bindir / name).exists() for name in ("pg_ctl", "postgres")):
            return bindir
    versions = sorted((path for path in DEBIAN_BINARIES.glob("*/bin")
                       if all((path / name).exists() for name in ("initdb", "pg_ctl", "postgres"))),
                      key=lambda path: _version(path.parent.name), reverse=True)
    return versions[0] if versions else None


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """One PostgreSQL server in a temporary directory; :meth:`start`, then :meth:`stop`."""

    def __init__(self, bindir: Path, *, fsync: bool = False) -> None:
        self.bindir = bindir
        self.fsync = fsync
        self.root = Path(tempfile.mkdtemp(prefix="orderbot-pg-"))
        self.data = self.root / "data"
        self.sockets = self.root / "socket"
        self.port = free_port()
        self._as_postgres = (["runuser", "-u", "postgres", "--"]
                             if os.geteuid() == 0 else [])

    @property
    def url(self) -> str:
        """A URL for the server's superuser and its ``postgres`` database."""
        return self.database_url("postgres")

    def database_url(self, name: str) -> str:
        """A URL for the superuser and the database ``name``."""
        return f"postgresql://postgres@/{name}?host={self.sockets}&port={self.port}"

    async def new_database(self, name: str) -> str:
        """Create the empty database ``name`` (a plain identifier); its URL."""
        import asyncpg  # the postgres extra: only a run with a server needs it

        connection = await asyncpg.connect(self.url)
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        return self.database_url(name)

    def start(self) -> None:
        self.sockets.mkdir()
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(self.sockets, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "--encoding=UTF8", "--locale=C", "--no-sync")
        options = (f"-c listen_addresses='' -c unix_socket_directories='{self.sockets}'"
                   f" -p {self.port} -c fsync={'on' if self.fsync else 'off'}"
                   " -c max_connections=200 -c shared_buffers=64MB")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"),
                  "-o", options, "-w", "-t", "60", "start")

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _run(self, program: str, *args: str) -> None:
        command = [*self._as_postgres, str(self.bindir / program), *args]
        done = subprocess.run(command, capture_output=True, text=True, check=False,
                              cwd=self.root, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr.strip()}"
                               f"\n{self.log()[-2000:]}")


def schema_for(path: Path) -> str:
    """A PostgreSQL schema name of its own for a test's ``tmp_path``."""
    return "t_" + hashlib.sha256(str(path).encode()).hexdigest()[:20]
