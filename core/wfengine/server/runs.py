"""Background runs and their event buffers (what the WebSocket replays and follows).

A run started with ``wait: false`` (or resumed in the background) is driven by a thread that
appends each event, as JSON data, to the run's :class:`RunChannel`. A WebSocket client reads
the buffer from the start and then waits for more, so one that connects late still sees
every event in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

from ..engine import Engine
from ..handle import RunHandle
from ..interrupts import NO_ANSWER
from ..run import Event, EventType, WorkflowRun
from .errors import ApiError
from .jsonsafe import jsonable
from .limits import ServerLimits
from .models import log_failed_run

log = logging.getLogger("wfengine.server")


class RunChannel:
    """The events of one run, in order, and the clients waiting for more."""

    def __init__(self, run_id: str, max_events: int) -> None:
        self.run_id = run_id
        self.max_events = max_events
        self.events: list[dict[str, Any]] = []
        self.dropped = 0
        self.done = False
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def append(self, event: dict[str, Any]) -> None:
        """Add an event (from any thread) and wake the clients following the run."""
        with self._lock:
            if len(self.events) < self.max_events - 1 or event["type"] == "run_finished":
                self.events.append(event)
            else:
                self.dropped += 1
            waiters = list(self._waiters)
        self._wake(waiters)

    def close(self) -> None:
        """Mark the run as over: followers get the rest of the buffer, then stop."""
        with self._lock:
            self.done = True
            waiters = list(self._waiters)
        self._wake(waiters)

    @staticmethod
    def _wake(waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]]) -> None:
        for loop, wake in waiters:
            with contextlib.suppress(RuntimeError):  # the client's loop has closed
                loop.call_soon_threadsafe(wake.set)

    async def follow(self) -> AsyncIterator[dict[str, Any]]:
        """Every event from the first, then new ones as they come, until the run is over."""
        waiter = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.add(waiter)
        try:
            index = 0
            while True:
                waiter[1].clear()
                with self._lock:
                    batch = self.events[index:]
                    done = self.done
                index += len(batch)
                for event in batch:
                    yield event
                if done:
                    return
                await waiter[1].wait()
        finally:
            with self._lock:
                self._waiters.discard(waiter)


class RunManager:
    """Starts background runs, keeps their channels, and knows which runs it is driving."""

    def __init__(self, engine: Engine, limits: ServerLimits) -> None:
        self.engine = engine
        self.limits = limits
        self._lock = threading.Lock()
        self._channels: OrderedDict[str, RunChannel] = OrderedDict()
        self._background: dict[str, tuple[RunHandle, threading.Thread]] = {}
        """The runs this server drives in the background (which runs are active at all is
        the engine's to say: :meth:`Engine.active_run`)."""

    # -- lookups ---------------------------------------------------------------------------

    def live(self, run_id: str) -> WorkflowRun | None:
        """The run object while it is active in the server's engine, else ``None``."""
        return self.engine.active_run(run_id)

    def channel(self, run_id: str) -> RunChannel | None:
        """The event buffer of a run this server ran in the background (while kept)."""
        with self._lock:
            return self._channels.get(run_id)

    # -- starting --------------------------------------------------------------------------

    def start(
        self,
        graph_id: str,
        state: Mapping[str, Any],
        *,
        max_steps: int | None,
        interrupt_before: Sequence[str],
        interrupt_after: Sequence[str] = (),
        budget: Mapping[str, float] | None = None,
    ) -> WorkflowRun:
        """Start a run in the background; bad input raises here, before anything runs."""
        self._check_capacity()
        handle = self.engine.start(
            graph_id,
            state,
            max_steps=max_steps,
            interrupt_before=interrupt_before,
            interrupt_after=interrupt_after,
            budget=budget,
        )
        return self._follow(handle)

    def resume(
        self,
        run_id: str,
        state_patch: Mapping[str, Any] | None,
        *,
        max_steps: int | None,
        answer: Any = NO_ANSWER,
        budget: Mapping[str, float] | None = None,
    ) -> WorkflowRun:
        """Resume a run in the background (a run already active raises ``RunActiveError``)."""
        self._check_capacity()
        return self._follow(
            self.engine.prepare_resume(
                run_id, state_patch, max_steps=max_steps, answer=answer, budget=budget
            )
        )

    def _check_capacity(self) -> None:
        with self._lock:
            active = len(self._background)
        if active >= self.limits.max_active_runs:
            raise ApiError(
                429,
                f"{active} runs are going on; this server runs at most "
                f"{self.limits.max_active_runs} in the background at once; retry "
                "later",
                type="too_many_runs",
                details={"limit": self.limits.max_active_runs},
            )

    def _follow(self, handle: RunHandle) -> WorkflowRun:
        run = handle.run
        events = handle.events()
        first = next(events)  # the run has started (its run_started event)
        channel = RunChannel(run.run_id, self.limits.max_events_per_run)
        channel.append(jsonable(first.to_dict()))
        thread = threading.Thread(
            target=self._drain,
            args=(run, channel, events),
            name=f"wfengine-server-run-{run.run_id}",
            daemon=True,
        )
        with self._lock:
            self._channels[run.run_id] = channel
            self._channels.move_to_end(run.run_id)
            self._background[run.run_id] = (handle, thread)
        thread.start()
        return run

    def _drain(self, run: WorkflowRun, channel: RunChannel, events: Iterator[Event]) -> None:
        try:
            for event in events:
                data = jsonable(event.to_dict())
                if event.type == EventType.RUN_FINISHED:
                    if channel.dropped:
                        data["events_dropped"] = channel.dropped
                    if run.error is not None:
                        log_failed_run(run)
                channel.append(data)
        except BaseException:  # the run itself records its failure; this is a bug guard
            log.exception("background run %s stopped unexpectedly", run.run_id)
        finally:
            with self._lock:
                self._background.pop(run.run_id, None)
                self._evict()
            channel.close()

    def _evict(self) -> None:
        finished = [rid for rid, ch in self._channels.items() if rid not in self._background]
        for run_id in finished[: max(0, len(finished) - self.limits.finished_runs_kept)]:
            del self._channels[run_id]

    # -- stopping --------------------------------------------------------------------------

    def shutdown(self, timeout: float = 5.0) -> None:
        """Cancel the background runs and wait (up to ``timeout`` s) for them to stop."""
        with self._lock:
            background = list(self._background.values())
        for handle, _thread in background:
            handle.cancel()
        for _handle, thread in background:
            thread.join(timeout)
