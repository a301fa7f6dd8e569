"""Following runs the server does not drive, and how many sockets one client may hold.

A WebSocket on a run this server is not driving (run with ``wait: true``, by another
process, or whose event buffer was dropped) waits for the run to stop by polling the store.
:class:`RunWatchers` runs one poller per run, shared by every socket waiting on it, and
stops it when the last one goes. :class:`SocketQuota` caps the sockets one client (its API
key, or its address without keys) has open at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
from collections.abc import Iterator
from typing import Any

from starlette.concurrency import run_in_threadpool

from ..engine import Engine
from ..errors import RunNotFoundError
from ..run import RunStatus, WorkflowRun

POLL_SECONDS = 0.25
"""How often a watched run is read from the store."""


class RunWatchers:
    """One store poller per watched run (per event loop), shared by its waiters."""

    def __init__(self, engine: Engine, interval: float = POLL_SECONDS) -> None:
        self.engine = engine
        self.interval = interval
        self.polls = 0
        """Store reads made so far (for tests and metrics)."""
        self._watches: dict[tuple[int, str], tuple[asyncio.Task[WorkflowRun | None], int]] = {}

    def watching(self) -> int:
        """How many runs are being polled now."""
        return len(self._watches)

    async def stopped(self, run_id: str) -> WorkflowRun | None:
        """The run once it has stopped (``None``: no such run); shares the poller."""
        key = (id(asyncio.get_running_loop()), run_id)
        task, waiters = self._watches.get(key, (None, 0))
        if task is None:
            task = asyncio.ensure_future(self._poll(run_id))
        self._watches[key] = (task, waiters + 1)
        try:
            return await asyncio.shield(task)
        finally:
            task, waiters = self._watches[key]
            if waiters > 1:
                self._watches[key] = (task, waiters - 1)
            else:
                del self._watches[key]
                task.cancel()  # no one waits any more (a no-op once it is done)

    async def _poll(self, run_id: str) -> WorkflowRun | None:
        while True:
            self.polls += 1
            try:
                run = await run_in_threadpool(self.engine.get_run, run_id)
            except RunNotFoundError:
                return None
            if run.status not in (RunStatus.RUNNING, RunStatus.PENDING):
                return run
            await asyncio.sleep(self.interval)


class TooManySockets(Exception):
    """A client already holds as many sockets as it may."""


class SocketQuota:
    """Counts open sockets per client and refuses one beyond ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._open: dict[str, int] = {}

    @contextlib.contextmanager
    def hold(self, client: str) -> Iterator[None]:
        """Count a socket of ``client`` while the block runs; :class:`TooManySockets` when
        it already has ``limit`` open."""
        with self._lock:
            count = self._open.get(client, 0)
            if count >= self.limit:
                raise TooManySockets(client)
            self._open[client] = count + 1
        try:
            yield
        finally:
            with self._lock:
                left = self._open[client] - 1
                if left:
                    self._open[client] = left
                else:
                    del self._open[client]


def client_identity(headers: Any, client: Any) -> str:
    """Who holds a socket: its API key (hashed) when it sent one, else its address."""
    token = headers.get("x-api-key")
    if token is None:
        scheme, _, value = (headers.get("authorization") or "").partition(" ")
        token = value.strip() if scheme.lower() == "bearer" else None
    if token:
        return "key:" + hashlib.sha256(token.encode()).hexdigest()[:16]
    host = getattr(client, "host", None)
    return f"addr:{host or 'unknown'}"
