"""A private PostgreSQL server for tests and benchmarks, and fresh databases on it.

:func:`postgres_server` starts a throw-away cluster (``initdb`` + ``pg_ctl``) in a temporary
directory, listening on a free loopback port, and removes it afterwards::

    from wfengine_postgres.testing import postgres_server

    with postgres_server() as server:
        url = server.create_database()          # postgresql://wf@127.0.0.1:PORT/wf_1
        store = PostgresStore(url)

It needs the PostgreSQL server binaries (Debian: ``/usr/lib/postgresql/<version>/bin``; or set
``WFENGINE_POSTGRES_BIN``). PostgreSQL refuses to run as root: as root the cluster is owned
by and run as the ``postgres`` user (``runuser``). The pytest fixtures over it
(``postgres_url``, ``postgres_server``) are in :mod:`wfengine_postgres.pytest_plugin`.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

TEST_URL_ENV = "WFENGINE_TEST_POSTGRES_URL"
"""An existing server the tests use instead of starting their own (``postgresql://...``;
the user must be allowed to create databases)."""

BIN_ENV = "WFENGINE_POSTGRES_BIN"
"""The directory of ``initdb`` and ``pg_ctl`` when they are not in a standard place."""

USER = "wf"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries were found (the message says where it looked)."""


def find_binaries() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``: ``$WFENGINE_POSTGRES_BIN`` when set
    (and then only it), else the newest ``/usr/lib/postgresql/*/bin``, else the ``PATH``'s."""
    candidates: list[str] = []
    if os.environ.get(BIN_ENV):
        candidates.append(os.environ[BIN_ENV])
    else:
        versions = glob.glob("/usr/lib/postgresql/*/bin")
        versions.sort(key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0)
        candidates.extend(reversed(versions))
        on_path = shutil.which("pg_ctl")
        if on_path:
            candidates.append(str(Path(on_path).parent))
    for directory in candidates:
        if (Path(directory) / "initdb").is_file() and (Path(directory) / "pg_ctl").is_file():
            return Path(directory)
    raise PostgresUnavailable(
        "no PostgreSQL server binaries (initdb, pg_ctl) found in "
        + (", ".join(candidates) or "/usr/lib/postgresql/*/bin or the PATH")
        + f"; install PostgreSQL, set {BIN_ENV} to their directory, "
        f"or set {TEST_URL_ENV} to a server's URL"
    )


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    """A running private cluster: its URL, and what tests do with it."""

    bin_dir: Path
    directory: Path
    port: int
    as_user: str | None
    """The user the server runs as (``postgres`` when we are root), or ``None``: as us."""
    settings: Mapping[str, str] = field(default_factory=dict)
    _databases: int = 0

    @property
    def url(self) -> str:
        """The URL of the cluster's ``postgres`` database (user ``wf``, no password)."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/postgres"

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self.as_user is not None:
            command = ["runuser", "-u", self.as_user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if check and done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} failed ({done.returncode}): {done.stderr or done.stdout}"
            )
        return done

    def _options(self) -> str:
        options = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.directory),
            "max_connections": "300",
            **self.settings,
        }
        return " ".join(f"-c {key}={value}" for key, value in options.items())

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.directory / "server.log"),
            "-o", self._options(), "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``mode``: ``smart``, ``fast`` or ``immediate``: a crash)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def restart(self, mode: str = "fast") -> None:
        """Stop and start the server: every open connection breaks."""
        self.stop(mode)
        self.start()

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; its URL."""
        self._databases += 1
        name = name or f"wf_{self._databases}"
        return create_database(self.url, name)


def create_database(server_url: str, name: str) -> str:
    """``CREATE DATABASE name`` on the server ``server_url`` reaches; the new database's URL."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path="/" + name))


def drop_database(server_url: str, name: str) -> None:
    """``DROP DATABASE IF EXISTS name WITH (FORCE)`` (closing its connections)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@contextmanager
def postgres_server(
    settings: Mapping[str, str] | None = None, *, bin_dir: Path | None = None
) -> Iterator[PostgresServer]:
    """A private PostgreSQL cluster on a free loopback port, for the ``with`` block.

    ``settings`` are server settings (``{"fsync": "off"}``); the defaults are PostgreSQL's
    own (durable). Raises :class:`PostgresUnavailable` when there are no server binaries.
    """
    bin_dir = bin_dir or find_binaries()
    as_user = None
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # the server refuses to run as root
        as_user = "postgres"
    # as root, in /tmp: the postgres user must reach it ($TMPDIR may be under /root)
    where = "/tmp" if as_user is not None and os.path.isdir("/tmp") else None
    directory = Path(tempfile.mkdtemp(prefix="wfengine-pg-", dir=where))
    try:
        if as_user is not None:
            shutil.chown(directory, user=as_user)
        server = PostgresServer(bin_dir, directory, free_port(), as_user, dict(settings or {}))
        server._run(
            "initdb", "-D", str(server.data), "-A", "trust", "-U", USER, "--no-sync",
            "-E", "UTF8", "--locale=C",
        )  # fmt: skip
        for attempt in range(3):
            try:
                server.start()
                break
            except RuntimeError:  # the port was taken meanwhile: try another
                if attempt == 2:
                    log = directory / "server.log"
                    raise RuntimeError(
                        "the private PostgreSQL server did not start: "
                        + (log.read_text()[-2000:] if log.exists() else "no log")
                    ) from None
                server.port = free_port()
        try:
            yield server
        finally:
            server._run("pg_ctl", "-D", str(server.data), "-m", "immediate", "stop", check=False)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
