"""Every run's status changes, for the sockets listening (``WS /ws/runs``, the runs page).

:class:`RunFeed` is one engine's feed: a small plugin on the engine
(:data:`PLUGIN_NAME`) tells it when a run starts or resumes (``run_started``) and when it
stops (``run_finished``: completed, failed, paused or cancelled), and the server tells it
when it cancels a run that is not going on. Each listening socket has a
:class:`Subscription`, a bounded queue on its event loop; a listener that falls
``queue_size`` messages behind gets one ``{"type": "resync"}`` instead of the ones it
missed (read the list again). With no listener a change costs one attribute check.

Runs of other processes sharing the store (``wf run``, a worker) are not seen: only the
runs this server's engine drives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterator
from typing import Any

from ..engine import Engine
from ..markers import hookimpl
from ..run import WorkflowRun
from .models import RunSummary

log = logging.getLogger("wfengine.server")

PLUGIN_NAME = "wfengine-server-feed"
"""The name of the feed's plugin on the engine (one per engine, shared by its apps)."""
RESYNC: dict[str, Any] = {"type": "resync"}
"""What a listener that fell behind gets instead of the messages it missed."""


class Subscription:
    """One listener's queue of messages (``run`` summaries, or a ``resync``)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, size: int) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(size)

    def put(self, message: dict[str, Any]) -> None:
        """Queue ``message`` (on the listener's loop); a full queue becomes one resync."""
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(RESYNC)

    async def get(self) -> dict[str, Any]:
        """The next message, waiting for one."""
        return await self.queue.get()


class RunFeed:
    """Fans an engine's run status changes out to the subscriptions (thread-safe)."""

    def __init__(self, queue_size: int = 256) -> None:
        self.queue_size = queue_size
        self._lock = threading.Lock()
        self._subscriptions: tuple[Subscription, ...] = ()

    @classmethod
    def of(cls, engine: Engine) -> RunFeed:
        """The engine's feed, made (and its plugin registered) on first use."""
        plugin = engine.pm.get_plugin(PLUGIN_NAME)
        if plugin is None:
            plugin = FeedPlugin(cls())
            engine.register_plugin(plugin, PLUGIN_NAME)
        feed: RunFeed = plugin.feed
        return feed

    def listeners(self) -> int:
        """How many subscriptions are open."""
        return len(self._subscriptions)

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[Subscription]:
        """A subscription on the running event loop while the block runs."""
        subscription = Subscription(asyncio.get_running_loop(), self.queue_size)
        with self._lock:
            self._subscriptions = (*self._subscriptions, subscription)
        try:
            yield subscription
        finally:
            with self._lock:
                self._subscriptions = tuple(s for s in self._subscriptions if s is not subscription)

    def publish(self, run: WorkflowRun) -> None:
        """Tell every listener ``run``'s status now (from any thread; never raises)."""
        subscriptions = self._subscriptions
        if not subscriptions:
            return
        try:
            message = {"type": "run", **RunSummary.of(run).model_dump(mode="json")}
        except Exception:  # a feed must never fail a run
            log.exception("run %s: its status could not be sent to listeners", run.run_id)
            return
        for subscription in subscriptions:
            with contextlib.suppress(RuntimeError):  # the listener's loop has closed
                subscription.loop.call_soon_threadsafe(subscription.put, message)


class FeedPlugin:
    """The engine hooks feeding a :class:`RunFeed`."""

    def __init__(self, feed: RunFeed) -> None:
        self.feed = feed

    @hookimpl
    def wfengine_run_started(self, run: WorkflowRun) -> None:
        """A run starts or resumes."""
        self.feed.publish(run)

    @hookimpl
    def wfengine_run_finished(self, run: WorkflowRun) -> None:
        """A run stops (completed, failed, paused or cancelled)."""
        self.feed.publish(run)
