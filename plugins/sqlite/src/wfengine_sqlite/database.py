"""``Database``: the connections to one SQLite file, and how reads and writes run on them.

Writes from the threads of one process go through one connection under a lock; reads use a
connection per thread, each in its own read transaction (a consistent snapshot: WAL readers
never wait for the writer). Between processes SQLite's lock decides: a writer that finds the
database busy waits (``busy_timeout``) and then retries with backoff up to the URL's
``timeout``, so "database is locked" does not reach the caller under ordinary load.
Multi-statement writes open with ``BEGIN IMMEDIATE``: they take the write lock before reading,
so two writers can never deadlock on a lock upgrade.

A ``sqlite://:memory:`` database is private to its one connection, used under the lock.
After ``os.fork()`` a child never touches (nor closes) its parent's connections.

A database that cannot be opened for writing (a read-only mount, a file or directory this
user may not write) is opened read-only: it can be listed and read (``mode=ro``, and
``immutable=1`` when even that fails, as for a WAL database whose ``-shm`` file cannot be
created), and every write says plainly that the store is read-only.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import urllib.parse
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from wfengine.errors import StoreError

from . import schema
from .location import Location, parse_url

T = TypeVar("T")

PAGE_SIZE = 1024
"""Page size of a new database file (an existing file keeps its own). Small pages suit the
per-step checkpoint: a step row is ~120 bytes, and every commit writes and checksums whole
pages into the WAL, so 1 KiB pages make a checkpoint ~4 µs cheaper than 4 KiB ones; large
values simply span more overflow pages at about the same cost per byte."""
WAL_CHECKPOINT_PAGES = 8192
"""Pages in the WAL that trigger a checkpoint (8 MiB at ``PAGE_SIZE``, the WAL's size limit):
a checkpoint syncs the database file, and at SQLite's default (1,000 pages) that cost a step
some 5 µs on average (``benchmarks/bench_history.py`` (c))."""


class _Connection(sqlite3.Connection):
    """A connection that can be weakly referenced (``sqlite3.Connection`` cannot)."""


class Database:
    """One SQLite file (or private in-memory database): connections, transactions, retries."""

    def __init__(self, url: str) -> None:
        self.location: Location = parse_url(url)
        self.url = url
        self.path = self.location.path
        self._lock = threading.RLock()
        self._local = threading.local()
        self._readers: weakref.WeakSet[_Connection] = weakref.WeakSet()
        """Per-thread read connections: one closes when its thread ends, the rest on close()."""
        self._writer_conn: sqlite3.Connection | None = None
        self._closed = False
        self.read_only: str | None = None
        """Why the database is open read-only (``None``: it is writable)."""
        self._ro_uri: str | None = None
        with self._lock:
            try:
                self._writer()  # open now: a bad file or a newer schema fails here, not mid-run
            except StoreError as exc:
                if not self._open_read_only(exc):
                    raise
        _live.add(self)

    # -- connections ---------------------------------------------------------------------

    def _connect(self) -> _Connection:
        if self._closed:
            raise StoreError(f"the SQLite store {self.path} is closed")
        loc = self.location
        try:
            conn = sqlite3.connect(
                self._ro_uri or loc.path,
                timeout=loc.timeout,
                isolation_level=None,
                check_same_thread=False,
                factory=_Connection,
                uri=self._ro_uri is not None,
            )
            if self._ro_uri is None:
                conn.execute(f"PRAGMA synchronous = {loc.synchronous}")
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open SQLite store {loc.path}: {exc}") from None
        return conn

    def _open_read_only(self, error: StoreError) -> bool:
        """After the writable open failed with ``error``: open read-only if the file is
        there and readable at its current schema; ``False`` when that fails too."""
        loc = self.location
        if loc.in_memory or not os.path.isfile(loc.path):
            return False
        base = "file:" + urllib.parse.quote(os.path.abspath(loc.path)) + "?mode=ro"
        for uri in (base, base + "&immutable=1"):
            self._ro_uri = uri
            try:
                conn = self._connect()
            except StoreError:
                continue
            try:
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
                version = schema.schema_version(conn)
            except sqlite3.Error:
                conn.close()
                continue
            try:
                schema.check_version(version, f"SQLite store {self.path}")
                if version < schema.SCHEMA_VERSION:
                    raise StoreError(
                        f"SQLite store {self.path} has schema version {version} and cannot be "
                        f"upgraded, as it cannot be written ({error})"
                    )
            finally:
                conn.close()
            reason = str(error).removeprefix(f"cannot open SQLite store {loc.path}: ")
            self.read_only = f"opening it for writing failed: {reason}"
            return True
        self._ro_uri = None
        return False

    def _read_only_error(self) -> StoreError:
        return StoreError(
            f"the SQLite store {self.path} is read-only here ({self.read_only}); it can be "
            "listed and read, not written"
        )

    def _writer(self) -> sqlite3.Connection:
        """The connection every write goes through (call with ``self._lock`` held)."""
        if self.read_only is not None and self._ro_uri is not None:
            raise self._read_only_error()
        conn = self._writer_conn
        if conn is None:
            conn = self._connect()
            try:
                self._prepare(conn)
            except BaseException:
                conn.close()
                raise
            self._writer_conn = conn
        return conn

    def _prepare(self, conn: sqlite3.Connection) -> None:
        """WAL mode and the current schema (migrating an older database)."""
        where = f"SQLite store {self.path}"
        try:
            if not self.location.in_memory:
                self._retry_busy(lambda: self._set_wal(conn), "switch to WAL mode")
                conn.execute("PRAGMA journal_size_limit = 8388608")
                conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
            version = schema.schema_version(conn)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {where}: {exc}") from None
        schema.check_version(version, where)
        if version < schema.SCHEMA_VERSION:
            self._transaction(conn, "migrate the schema", lambda c: schema.migrate(c, where))

    @staticmethod
    def _set_wal(conn: sqlite3.Connection) -> None:
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # only takes on a new file
            conn.execute("PRAGMA journal_mode = WAL")

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()  # read-only (mode=ro) when the database is
            conn.execute("PRAGMA query_only = 1")
            self._local.conn = conn
            self._readers.add(conn)
        return conn

    @contextmanager
    def _reading(self, what: str) -> Iterator[sqlite3.Connection]:
        """A consistent read: one read transaction (a snapshot of the database)."""
        if self._closed:
            raise StoreError(f"the SQLite store {self.path} is closed")
        if self.location.in_memory:  # one private database: one connection, under the lock
            with self._lock:
                conn = self._writer()
                yield from self._read_transaction(conn, what)
        else:
            yield from self._read_transaction(self._reader(), what)

    def _read_transaction(
        self, conn: sqlite3.Connection, what: str
    ) -> Iterator[sqlite3.Connection]:
        try:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                if conn.in_transaction:
                    conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"could not {what} in SQLite store {self.path}: {exc}") from None

    # -- writing -------------------------------------------------------------------------

    def _write(self, what: str, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in one write transaction; ``what`` names it in errors."""
        with self._lock:
            conn = self._writer()
            return self._transaction(conn, what, work)

    def _transaction(
        self, conn: sqlite3.Connection, what: str, work: Callable[[sqlite3.Connection], T]
    ) -> T:
        def attempt() -> T:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(conn)
                self._commit(conn)
            except BaseException:
                if conn.in_transaction:
                    conn.rollback()
                raise
            return result

        return self._retry_busy(attempt, what)

    def _commit(self, conn: sqlite3.Connection) -> None:
        """Commit the open write transaction (the one place a write is made final)."""
        conn.execute("COMMIT")

    def _retry_busy(self, attempt: Callable[[], T], what: str) -> T:
        """Call ``attempt``, again while another process holds the database (with backoff)."""
        deadline = time.monotonic() + self.location.timeout
        delay = 0.001
        while True:
            try:
                return attempt()
            except sqlite3.OperationalError as exc:
                if _is_busy(exc) and time.monotonic() < deadline:
                    time.sleep(delay)
                    delay = min(delay * 2, 0.05)
                    continue
                raise self._error(what, exc) from None
            except sqlite3.Error as exc:
                raise self._error(what, exc) from None

    def _error(self, what: str, exc: sqlite3.Error) -> StoreError:
        if (getattr(exc, "sqlite_errorcode", 0) & 0xFF) == sqlite3.SQLITE_READONLY:
            # opened writable in name only: SQLite fell back to reading (a read-only mount)
            self.read_only = self.read_only or str(exc)
            return self._read_only_error()
        hint = ""
        if _is_busy(exc):
            hint = (
                f" (another process held the database for over {self.location.timeout} s; "
                "raise ?timeout= in the store URL)"
            )
        return StoreError(f"could not {what} in SQLite store {self.path}: {exc}{hint}")

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        """Close every connection (the last one to close folds the WAL into the file)."""
        with self._lock:
            self._closed = True
            connections = [self._writer_conn, *self._readers]
            self._writer_conn = None
            self._readers = weakref.WeakSet()
            self._local = threading.local()
            for conn in connections:
                try:
                    if conn is not None:
                        conn.close()
                except sqlite3.Error:
                    pass

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    def _forget_connections(self) -> None:
        """In a forked child: never use (nor close) the parent's connections."""
        _abandoned.extend([self._writer_conn, *self._readers])
        self._readers = weakref.WeakSet()
        self._writer_conn = None
        self._local = threading.local()
        self._lock = threading.RLock()


def _is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    text = str(exc)
    return "locked" in text or "busy" in text


_live: weakref.WeakSet[Database] = weakref.WeakSet()
_abandoned: list[sqlite3.Connection | None] = []


def _after_fork() -> None:
    for database in list(_live):
        database._forget_connections()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
