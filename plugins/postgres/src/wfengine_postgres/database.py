"""``Database``: the connection pool to one PostgreSQL database, and how reads and writes run
on it.

Every operation borrows a connection from a :class:`psycopg_pool.ConnectionPool` (sizes from
the URL, ``?pool_min=1&pool_max=10``). Connections are in autocommit mode: the per-step
checkpoint is a single ``INSERT``, which PostgreSQL commits as its own transaction (one round
trip); multi-statement writes run in ``BEGIN`` ... ``COMMIT``; reads that take several
statements run in one ``REPEATABLE READ READ ONLY`` transaction (a consistent snapshot).
Durability is PostgreSQL's default (``synchronous_commit`` on: a commit returns once its WAL
is flushed).

When the server goes away (restarted, failed over, a dropped connection), the operation is
retried on a new connection until the URL's ``timeout``: a run keeps going across a server
restart. Every other database error, and a server still unreachable after the timeout,
becomes a :class:`wfengine.errors.StoreError` naming the store's URL (password masked) and
what to do.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout
from wfengine.errors import StoreError

from . import schema
from .location import Location, parse_url

T = TypeVar("T")

_RETRY = (pg_errors.SerializationFailure, pg_errors.DeadlockDetected)
"""Errors after which the whole transaction is simply run again."""

CONNECT_HINT = (
    "check that the server is running and reachable from here, and the URL's host, port, "
    "user, password and database name"
)


class Database:
    """One PostgreSQL database: a connection pool, transactions, retries, errors."""

    def __init__(self, url: str) -> None:
        self.location: Location = parse_url(url)
        self.url = url
        self.where = f"PostgreSQL store {self.location.masked}"
        self._closed = False
        self._lock = threading.Lock()
        connect_timeout = max(1, min(10, int(self.location.timeout)))
        self._connect_args: dict[str, Any] = {"autocommit": True}
        if "connect_timeout" not in self.location.conninfo:
            self._connect_args["connect_timeout"] = connect_timeout
        # one direct connection first: a bad URL or a newer schema fails here, precisely
        try:
            with psycopg.connect(self.location.conninfo, **self._connect_args) as conn:
                schema.migrate(conn, self.where)
        except psycopg.OperationalError as exc:
            raise StoreError(
                f"cannot connect to {self.where}: {_message(exc)}; {CONNECT_HINT}"
            ) from None
        except psycopg.Error as exc:
            raise StoreError(f"cannot open {self.where}: {_message(exc)}") from None
        self._pool = self._new_pool()
        _live.add(self)

    def _new_pool(self) -> ConnectionPool[psycopg.Connection[Any]]:
        return ConnectionPool(
            self.location.conninfo,
            min_size=self.location.pool_min,
            max_size=self.location.pool_max,
            kwargs=self._connect_args,
            timeout=self.location.timeout,
            name="wfengine",
            open=True,
        )

    def _forget_connections(self) -> None:
        """In a forked child: never use (nor close) the parent's connections, whose sockets
        the parent still talks on; a new pool opens on first use."""
        _abandoned.append(self._pool)
        self._pool = _PoolAfterFork(self)  # type: ignore[assignment]
        self._lock = threading.Lock()

    # -- running work ----------------------------------------------------------------------

    def _run(self, what: str, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        """``work(conn)`` on a pooled connection, again on a new one while the server is
        unreachable (until the timeout) or after a serialization failure or deadlock."""
        if self._closed:
            raise StoreError(f"the {self.where} is closed")
        deadline = time.monotonic() + self.location.timeout
        delay = 0.05
        while True:
            try:
                with self._pool.connection() as conn:
                    return work(conn)
            except PoolClosed:
                raise StoreError(f"the {self.where} is closed") from None
            except PoolTimeout:
                raise StoreError(
                    f"could not {what} in {self.where}: no connection to the server within "
                    f"{self.location.timeout:g} s; {CONNECT_HINT} (or raise ?timeout=, or "
                    "?pool_max= when many threads use the store)"
                ) from None
            except _RETRY as exc:  # (before OperationalError: they are ones)
                if time.monotonic() < deadline:
                    time.sleep(delay / 10)
                    continue
                raise self._error(what, exc) from None
            except psycopg.OperationalError as exc:
                if _is_lost(exc) and time.monotonic() < deadline:
                    self._pool.check()  # replace the other connections the server dropped
                    time.sleep(delay)
                    delay = min(delay * 2, 1.0)
                    continue
                raise self._error(what, exc) from None
            except psycopg.Error as exc:
                raise self._error(what, exc) from None

    def _write(
        self, what: str, work: Callable[[psycopg.Connection[Any]], T], *, pipelined: bool = False
    ) -> T:
        """Run ``work`` in one write transaction; ``what`` names it in errors.

        ``pipelined``: in a pipeline, so ``BEGIN`` goes with the first statement and
        ``COMMIT`` with the last, and statements whose results are not read do not wait for
        the server (``work`` must read a result, ``fetchone()``, before using ``rowcount``).
        """

        def transaction(conn: psycopg.Connection[Any]) -> T:
            if pipelined:
                with conn.pipeline(), conn.transaction():
                    return work(conn)
            with conn.transaction():
                return work(conn)

        return self._run(what, transaction)

    def _read(self, what: str, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        """Run ``work`` in one read-only snapshot (several statements see one moment)."""

        def transaction(conn: psycopg.Connection[Any]) -> T:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                result = work(conn)
            except BaseException:
                if not conn.broken:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

        return self._run(what, transaction)

    def _error(self, what: str, exc: psycopg.Error) -> StoreError:
        if isinstance(exc, psycopg.OperationalError) and _is_lost(exc):
            return StoreError(
                f"could not {what} in {self.where}: the server went away and did not come back "
                f"within {self.location.timeout:g} s ({_message(exc)}); {CONNECT_HINT}"
            )
        return StoreError(f"could not {what} in {self.where}: {_message(exc)}")

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close the pool's connections (a closed store refuses every call)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._pool.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location.masked!r})"


class _PoolAfterFork:
    """Stands for the pool in a forked child until its first use opens a new one."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def __getattr__(self, name: str) -> Any:
        database = self._database
        with database._lock:
            if database._pool is self:  # type: ignore[comparison-overlap]
                database._pool = database._new_pool()
        return getattr(database._pool, name)


_live: weakref.WeakSet[Database] = weakref.WeakSet()
_abandoned: list[Any] = []
"""The parent's pools in a forked child: kept (never closed, never used) so that closing
them cannot end the parent's sessions."""


def _after_fork() -> None:
    for database in list(_live):
        if not database._closed:
            database._forget_connections()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def _message(exc: psycopg.Error) -> str:
    """The server's or libpq's message, on one line."""
    return " ".join(str(exc).split()) or type(exc).__name__


def _is_lost(exc: psycopg.OperationalError) -> bool:
    """Whether ``exc`` means the connection or the server is gone (worth a new connection),
    rather than an error of the statement."""
    if isinstance(exc, PoolClosed | PoolTimeout):
        return False
    if isinstance(
        exc,
        pg_errors.AdminShutdown
        | pg_errors.CrashShutdown
        | pg_errors.CannotConnectNow
        | pg_errors.ConnectionException,
    ):
        return True
    return exc.sqlstate is None  # raised by libpq, not the server: the connection broke
