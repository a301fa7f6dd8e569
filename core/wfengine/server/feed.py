"""Every run's status changes, for the sockets listening (``WS /ws/runs``, the runs page).

:class:`RunFeed` is one engine's feed: a small plugin on the engine
(:data:`PLUGIN_NAME`) tells it when a run starts or resumes (``run_started``) and when it
stops (``run_finished``: completed, failed, paused or cancelled), and the server tells it
when it cancels a run that is not going on. Each listening socket has a
:class:`Subscription`, a bounded queue on its event loop; a listener that falls
``queue_size`` messages behind gets one ``{"type": "resync"}`` instead of the ones it
missed (read the list again). With no listener a change costs one attribute check.

Runs that other processes drive in a shared durable store (``wf run``, workers, another
server) have no hook here: while anyone listens, one thread reads the store every
:data:`POLL_SECONDS` (the newest :data:`NEWEST` runs, the running ones, and those that
were running at the last read) and publishes what changed. A change is published once,
whichever way it was seen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from ..engine import Engine
from ..markers import hookimpl
from ..run import RunStatus, WorkflowRun
from .models import RunSummary

log = logging.getLogger("wfengine.server")

PLUGIN_NAME = "wfengine-server-feed"
"""The name of the feed's plugin on the engine (one per engine, shared by its apps)."""
RESYNC: dict[str, Any] = {"type": "resync"}
"""What a listener that fell behind gets instead of the messages it missed."""
POLL_SECONDS = 1.0
"""How often the store is read for other processes' runs while anyone listens."""
NEWEST = 50
"""How many of the newest runs each read looks at (new runs appear among them)."""
RUNNING = 500
"""How many running runs each read looks at."""
KNOWN = 10_000
"""How many runs' last published (status, step) are remembered."""
MOVING = (RunStatus.RUNNING, RunStatus.PENDING, RunStatus.QUEUED)


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
    """Fans an engine's run status changes out to the subscriptions (thread-safe).

    :param engine: the engine whose durable store is read for other processes' runs while
        anyone listens (``None``: only what is published).
    """

    def __init__(
        self,
        engine: Engine | None = None,
        queue_size: int = 256,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.engine = engine
        self.queue_size = queue_size
        self.poll_seconds = poll_seconds
        self.polls = 0
        """Store reads made so far (for tests and metrics)."""
        self._lock = threading.Lock()
        self._subscriptions: tuple[Subscription, ...] = ()
        self._known: OrderedDict[str, tuple[str, int]] = OrderedDict()
        self._moving: set[str] = set()
        self._poller: threading.Thread | None = None

    @classmethod
    def of(cls, engine: Engine) -> RunFeed:
        """The engine's feed, made (and its plugin registered) on first use."""
        plugin = engine.pm.get_plugin(PLUGIN_NAME)
        if plugin is None:
            plugin = FeedPlugin(cls(engine))
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
            if self._poller is None and self.engine is not None and self.engine.store.durable:
                self._poller = threading.Thread(
                    target=self._poll_while_listened, name="wfengine-server-feed", daemon=True
                )
                self._poller.start()
        try:
            yield subscription
        finally:
            with self._lock:
                self._subscriptions = tuple(s for s in self._subscriptions if s is not subscription)

    def publish(self, run: WorkflowRun) -> None:
        """Tell every listener ``run``'s status now, unless it was told already (from any
        thread; never raises)."""
        subscriptions = self._subscriptions
        if not subscriptions or not self._changed(run):
            return
        try:
            message = {"type": "run", **RunSummary.of(run).model_dump(mode="json")}
        except Exception:  # a feed must never fail a run
            log.exception("run %s: its status could not be sent to listeners", run.run_id)
            return
        for subscription in subscriptions:
            with contextlib.suppress(RuntimeError):  # the listener's loop has closed
                subscription.loop.call_soon_threadsafe(subscription.put, message)

    def _changed(self, run: WorkflowRun) -> bool:
        """Remember ``run``'s (status, step); whether it differs from the last one."""
        seen = (run.status.value, run.step)
        with self._lock:
            if self._known.get(run.run_id) == seen:
                return False
            self._known[run.run_id] = seen
            self._known.move_to_end(run.run_id)
            if len(self._known) > KNOWN:
                self._known.popitem(last=False)
        return True

    def _poll_while_listened(self) -> None:
        first = True
        while True:
            try:
                self.poll(publish=not first)
            except Exception:  # a store hiccup: try again at the next read
                log.warning("reading the store for the runs feed failed", exc_info=True)
            first = False
            time.sleep(self.poll_seconds)
            with self._lock:
                if not self._subscriptions:
                    self._poller = None
                    return

    def poll(self, publish: bool = True) -> None:
        """Read the store once and publish the runs other processes changed since the last
        read (``publish=False``: only remember where they are)."""
        assert self.engine is not None
        engine, store = self.engine, self.engine.store
        self.polls += 1
        # runs driven here, before or after the read, are told by their hooks: a read made
        # while one ran may be older than what they told
        driven = {run.run_id for run in engine.active_runs()}
        newest, _ = store.list_runs(limit=NEWEST, logs=False)
        running, _ = store.list_runs(status=RunStatus.RUNNING.value, limit=RUNNING, logs=False)
        seen = {run.run_id: run for run in (*newest, *running)}
        for run_id in self._moving - seen.keys():  # stopped since, and off both lists
            run = store.get_run(run_id)
            if run is not None:
                seen[run_id] = run
        self._moving = {run_id for run_id, run in seen.items() if run.status in MOVING}
        for run in seen.values():
            if run.run_id in driven or engine.active_run(run.run_id) is not None:
                continue
            if publish:
                self.publish(run)
            else:
                self._changed(run)


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
