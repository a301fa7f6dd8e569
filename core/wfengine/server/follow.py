"""Following a run another process drives (a ``wf worker``, on any machine) on a WebSocket.

A run this server does not drive has no event buffer here. The socket still shows it live:

* when the store is an :class:`~wfengine.storage.EventFeed`, the events the run's worker
  publishes: one listener thread per server (:class:`FeedListener`) reads the feed and hands
  each event to the sockets following its run (an event too large for the feed arrives as
  ``truncated``: the socket sends it as it is, and a truncated ``run_finished`` is rebuilt
  from the store);
* otherwise, from the store: a shared poller per run (:class:`RunFollowers`, every
  ``POLL_SECONDS``) sends ``run_started`` when the run is picked up, ``step_finished`` when its
  step count moves, marked ``"polled": true`` (a poll may see several steps at once; it
  sends the newest).

Either way the poller ends the stream: once the store says the run stopped, the socket gets
the feed's ``run_finished`` if it arrives within one more poll, else a ``run_finished``
summary (``"summary": true``) read from the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from typing import Any

from starlette.concurrency import run_in_threadpool

from ..engine import Engine
from ..errors import RunNotFoundError
from ..run import RunStatus, WorkflowRun, iso
from ..storage import EventFeed
from .jsonsafe import jsonable

log = logging.getLogger("wfengine.server")

POLL_SECONDS = 0.25
"""How often a followed run is read from the store."""

GOING = (RunStatus.PENDING, RunStatus.QUEUED, RunStatus.RUNNING)
"""Statuses of a run that has not stopped yet."""

Subscriber = tuple[asyncio.AbstractEventLoop, "asyncio.Queue[dict[str, Any] | None]"]


def finished_event(run: WorkflowRun) -> dict[str, Any]:
    """A ``run_finished`` event read from the store (``"summary": true``)."""
    return {
        "type": "run_finished",
        "run_id": run.run_id,
        "step": run.step,
        "node": None,
        "ts": iso(run.finished) if run.finished else None,
        "status": run.status.value,
        "error": jsonable(run.error),
        "summary": True,
    }


class FeedListener:
    """One thread reading the store's event feed, dispatching events by ``run_id``."""

    def __init__(self, feed: EventFeed, timeout: float = 1.0) -> None:
        self.feed = feed
        self.timeout = timeout
        self._lock = threading.Lock()
        self._subscribers: dict[str, set[Subscriber]] = {}
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()

    def subscribe(self, run_id: str, subscriber: Subscriber) -> None:
        """Hand ``run_id``'s events to ``subscriber`` from now on (starts the thread)."""
        with self._lock:
            self._subscribers.setdefault(run_id, set()).add(subscriber)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._listen, name="wfengine-event-feed", daemon=True
                )
                self._thread.start()

    def unsubscribe(self, run_id: str, subscriber: Subscriber) -> None:
        """Stop handing ``run_id``'s events to ``subscriber``."""
        with self._lock:
            found = self._subscribers.get(run_id)
            if found is not None:
                found.discard(subscriber)
                if not found:
                    del self._subscribers[run_id]

    def close(self) -> None:
        """Stop the thread (after its current wait)."""
        self._closed.set()

    def _listen(self) -> None:
        while not self._closed.is_set():
            try:
                events = self.feed.listen_events(self.timeout)
            except Exception as exc:  # the feed is away: the pollers still end the streams
                log.warning("event feed: %s", exc)
                self._closed.wait(self.timeout)
                continue
            for event in events:
                with self._lock:
                    targets = list(self._subscribers.get(str(event.get("run_id")), ()))
                for loop, queue in targets:
                    with contextlib.suppress(RuntimeError):  # that socket's loop closed
                        loop.call_soon_threadsafe(queue.put_nowait, event)


class RunFollowers:
    """Sockets following runs driven elsewhere: the feed when there is one, and one shared
    store poller per run (per event loop)."""

    def __init__(self, engine: Engine, interval: float = POLL_SECONDS) -> None:
        self.engine = engine
        self.interval = interval
        self.polls = 0
        """Store reads made so far (for tests and metrics)."""
        self._lock = threading.Lock()
        self._listener: FeedListener | None = None
        self._polls: dict[tuple[int, str], tuple[asyncio.Task[None], set[Subscriber]]] = {}

    def watching(self) -> int:
        """How many runs are being polled now."""
        return len(self._polls)

    def listener(self) -> FeedListener | None:
        """The feed listener, when the engine's store is an event feed."""
        with self._lock:
            if self._listener is None:
                store = self.engine.store
                if isinstance(store, EventFeed):
                    self._listener = FeedListener(store)
            return self._listener

    def close(self) -> None:
        """Stop the feed listener (the server shuts down)."""
        with self._lock:
            if self._listener is not None:
                self._listener.close()

    async def follow(self, run_id: str) -> AsyncIterator[dict[str, Any]]:
        """The run's events from now until it stops, ending with ``run_finished``; nothing
        when there is no such run (the caller says so)."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        subscriber: Subscriber = (loop, queue)
        listener = self.listener()
        if listener is not None:
            listener.subscribe(run_id, subscriber)
        key = (id(loop), run_id)
        found = self._polls.get(key)
        if found is None:
            found = (asyncio.ensure_future(self._poll(key, listener is not None)), set())
            self._polls[key] = found
        found[1].add(subscriber)
        try:
            while (event := await queue.get()) is not None:
                if event["type"] == "run_finished" and event.get("truncated"):
                    run = await run_in_threadpool(self.engine.get_run, run_id)
                    event = finished_event(run)
                yield event
                if event["type"] == "run_finished":
                    return
        finally:
            if listener is not None:
                listener.unsubscribe(run_id, subscriber)
            task, subscribers = self._polls.get(key, (None, set()))
            subscribers.discard(subscriber)
            if task is not None and not subscribers:
                del self._polls[key]
                task.cancel()

    def _send(self, key: tuple[int, str], event: dict[str, Any] | None) -> None:
        for _loop, queue in list(self._polls.get(key, (None, set()))[1]):
            queue.put_nowait(event)

    async def _poll(self, key: tuple[int, str], fed: bool) -> None:
        run_id = key[1]
        seen: tuple[RunStatus, int] | None = None
        while True:
            self.polls += 1
            try:
                run = await run_in_threadpool(self.engine.get_run, run_id)
            except RunNotFoundError:
                self._send(key, None)
                return
            now = (run.status, run.step)
            if run.status not in GOING:
                if fed:  # the feed's own run_finished may be on its way: one more poll
                    await asyncio.sleep(self.interval)
                self._send(key, finished_event(run))
                return
            if not fed and seen is not None and now != seen:
                self._send(key, self._progress(run, seen))
            seen = now
            await asyncio.sleep(self.interval)

    @staticmethod
    def _progress(run: WorkflowRun, seen: tuple[RunStatus, int]) -> dict[str, Any]:
        base = {"run_id": run.run_id, "step": run.step, "node": None, "polled": True}
        if run.step != seen[1]:
            return {"type": "step_finished", **base, "next_nodes": list(run.next_nodes)}
        return {"type": "run_started", **base, "resumed": run.step > 0}
