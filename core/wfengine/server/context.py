"""What every endpoint needs: the engine, the limits, the path confiner and the run manager."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import Request, WebSocket

from ..engine import Engine
from .errors import ApiError
from .feed import RunFeed
from .follow import RunFollowers
from .limits import ServerLimits
from .paths import PathConfiner
from .runs import RunManager
from .watch import SocketQuota

T = TypeVar("T")


@dataclass
class ServerContext:
    """One app's engine and settings (kept on ``app.state.wfengine``)."""

    engine: Engine
    limits: ServerLimits
    paths: PathConfiner
    runs: RunManager
    expose_tracebacks: bool = False
    """Send clients the tracebacks of failed runs (the operator's choice; always logged)."""
    watchers: RunFollowers = field(init=False)
    """Following runs this server does not drive: the event feed, shared store pollers."""
    sockets: SocketQuota = field(init=False)
    """Open WebSockets per client, capped at ``limits.max_websockets_per_client``."""
    feed: RunFeed = field(init=False)
    """Every run's status changes, for ``WS /ws/runs`` (the engine's one feed)."""
    _known_graphs: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _pool: ThreadPoolExecutor | None = None

    def __post_init__(self) -> None:
        self.watchers = RunFollowers(self.engine)
        self.sockets = SocketQuota(self.limits.max_websockets_per_client)
        self.feed = RunFeed.of(self.engine)

    async def in_thread(self, func: Callable[..., T], *args: Any) -> T:
        """``func(*args)`` on one of the server's run threads (at most
        ``limits.run_threads``; more calls wait their turn)."""
        pool = self._pool
        if pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(
                        self.limits.run_threads, thread_name_prefix="wfengine-server"
                    )
                pool = self._pool
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(pool, functools.partial(func, *args))

    def close(self) -> None:
        """Cancel background runs, then let the run threads go (the app shuts down)."""
        self.runs.shutdown()
        self.watchers.close()
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False)

    def runnable(self, graph_id: str) -> None:
        """Refuse (404) anything but a registered workflow or a stored graph id.

        ``Engine.graph`` would also load a spec *file* by path; over HTTP that must not happen.
        """
        if graph_id in self.engine.workflows:
            return
        with self._lock:
            if graph_id in self._known_graphs:
                return
        if self.engine.store.get_graph(graph_id) is None:
            raise ApiError(
                404,
                f"no workflow or stored graph has the id {graph_id!r}; see GET "
                "/workflows and GET /graphs",
                type="graph_not_found",
                details={"graph_id": graph_id},
            )
        with self._lock:
            self._known_graphs.add(graph_id)


async def context(request: Request) -> ServerContext:
    """The dependency giving an HTTP endpoint its :class:`ServerContext` (``async``, so
    FastAPI calls it on the event loop instead of sending it to a worker thread)."""
    ctx: ServerContext = request.app.state.wfengine
    return ctx


def ws_context(websocket: WebSocket) -> ServerContext:
    """The dependency giving a WebSocket endpoint its :class:`ServerContext`."""
    ctx: ServerContext = websocket.app.state.wfengine
    return ctx
