"""``wf worker``: a process that claims queued runs from a store and drives them.

A worker is a loop over the store's :class:`~wfengine.storage.QueueStore` capability (the
story is in :mod:`wfengine.queue`)::

    claim_run -> take_over(run).events() -> release_run        (up to --concurrency at once)

* **Claiming.** The worker asks for a run whenever it has a free slot, and sleeps ``poll``
  seconds when the queue is empty. The store decides atomically who gets which run; a run
  whose worker stopped heartbeating is handed out again once its lease ran out, and the
  new worker continues it from its last checkpoint.
* **Heartbeats.** One thread renews the lease of every run the worker holds each
  ``lease / 3`` seconds and reads its cancel flag: a cancel asked from anywhere
  (``wf runs cancel``, ``POST /runs/{id}/cancel``, on any machine) stops the run before its
  next step, saved ``cancelled``.
* **Fencing.** A worker that loses a run (its heartbeat refused, or not renewed in time: a
  long pause, a lost connection) must not write over the checkpoints of the worker that
  took it over. Every write the worker's engine makes for a run (``save_run``,
  ``save_step``, ``save_pending_writes``) goes through :class:`FencedStore`, which refuses
  it (:class:`LeaseLostError`) unless the worker still surely holds the run: its last
  heartbeat (or the claim) was *sent* less than ``lease`` minus a margin of 10% ago, by
  this machine's monotonic clock. The store times the lease from when it *received* that
  heartbeat, so the worker's deadline passes first as long as the two clocks run at the
  same rate and a write takes less than the margin. The run is also cancelled in memory,
  so the worker stops driving it. What can then run twice is at most the step that was in
  flight (its node calls; its checkpoint is refused); a committed step never runs again.
  (A store that checks the claim inside the write transaction would close the last gap,
  a write that outlasts the margin; the protocol leaves that to the store.)
* **Events.** When the store is an :class:`~wfengine.storage.EventFeed`, the worker
  publishes every event of its runs there (JSON-safe, as the server sends them), so any
  server's WebSocket shows a run wherever it runs; otherwise servers follow such runs by
  reading the store.
* **Stopping.** :meth:`Worker.stop` (SIGTERM, SIGINT) claims nothing more, lets every run
  finish the step in flight, saves it ``queued`` (:meth:`RunHandle.stop
  <wfengine.handle.RunHandle.stop>`) and releases it for another worker, which continues
  from that checkpoint. A second signal exits at once (the leases then run out and other
  workers take the runs over).

A run the worker cannot even start (its graph unknown here, or changed since it was
queued) is saved ``failed`` with the reason, so it does not go round the workers forever.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Any

from .errors import StoreError
from .jsonsafe import jsonable
from .queue import DEFAULT_LEASE
from .run import RunStatus
from .storage import EventFeed
from .submit import require_queue

if TYPE_CHECKING:
    from .engine import Engine
    from .handle import RunHandle
    from .run import LogEntry, WorkflowRun
    from .storage import Store

log = logging.getLogger("wfengine.worker")

MARGIN = 0.1
"""The part of a lease a worker does not count on: it stops writing for a run once
``lease * (1 - MARGIN)`` seconds passed since it last sent a heartbeat that succeeded."""


class LeaseLostError(StoreError):
    """The worker no longer holds the run it was about to write (see :mod:`wfengine.worker`)."""


@dataclass
class Lease:
    """This worker's hold on one run: until when it may write, and whether it lost it."""

    run_id: str
    valid_until: float
    """``time.monotonic()`` after which the worker no longer counts on holding the run."""
    lost: bool = False
    handle: RunHandle | None = None
    started: float = field(default_factory=time.monotonic)

    def holds(self) -> bool:
        """Whether writes for the run may still go to the store."""
        return not self.lost and time.monotonic() < self.valid_until


class FencedStore:
    """The worker's store: the real one, with every write for a run it leases refused once
    the lease is gone (:class:`LeaseLostError`). Everything else is passed through, so the
    store's capabilities are the real store's."""

    def __init__(self, inner: Store, leases: Mapping[str, Lease]) -> None:
        self._inner = inner
        self._leases = leases
        self.durable = inner.durable

    @property
    def inner(self) -> Store:
        """The real store."""
        return self._inner

    def _check(self, run_id: str) -> None:
        lease = self._leases.get(run_id)
        if lease is not None and not lease.holds():
            lease.lost = True
            raise LeaseLostError(
                f"this worker no longer holds run {run_id} (its lease ran out or another "
                "worker took it over); its write is refused so that the new holder's "
                "checkpoints stay whole"
            )

    def save_run(self, run: WorkflowRun) -> None:
        """The real ``save_run``, while the worker holds the run."""
        self._check(run.run_id)
        self._inner.save_run(run)

    def save_step(
        self, run: WorkflowRun, update: Mapping[str, Any], logs: Sequence[LogEntry]
    ) -> None:
        """The real ``save_step``, while the worker holds the run."""
        self._check(run.run_id)
        self._inner.save_step(run, update, logs)

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._inner, name)
        if name == "save_pending_writes":
            check = self._check

            def save_pending_writes(run_id: str, step: int, writes: Mapping[str, Any]) -> None:
                check(run_id)
                found(run_id, step, writes)

            return save_pending_writes
        return found


def default_name() -> str:
    """``HOST:PID``, the name a worker claims runs under unless given one."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Worker:
    """Claims queued runs from ``engine``'s store and drives them (see the module doc).

    ``concurrency`` runs at once (threads of this process); ``lease`` seconds per claim,
    renewed every ``lease / 3``; ``poll`` seconds between looks at an empty queue;
    ``max_runs``: stop after claiming that many; ``exit_when_idle``: stop when the queue is
    empty and no run is going on. ``say`` gets one line per claimed and per finished run.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        name: str | None = None,
        concurrency: int = 1,
        lease: float = DEFAULT_LEASE,
        poll: float = 1.0,
        max_runs: int | None = None,
        exit_when_idle: bool = False,
        say: Callable[[str], None] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        if lease <= 0 or poll <= 0:
            raise ValueError("lease and poll must be positive numbers of seconds")
        self.engine = engine
        self.name = name or default_name()
        self.concurrency = concurrency
        self.lease = lease
        self.poll = poll
        self.max_runs = max_runs
        self.exit_when_idle = exit_when_idle
        self.say = say or log.info
        self.queue: Any = require_queue(engine.store)
        self.inner: Store = engine.store
        self.feed = self.inner if isinstance(self.inner, EventFeed) else None
        self._leases: dict[str, Lease] = {}
        self._lock = threading.Lock()
        self._threads: dict[str, threading.Thread] = {}
        self._changed = threading.Event()
        self._stopping = threading.Event()
        self._done = threading.Event()
        self._signals = 0
        self._signalled = False
        self.claimed = 0
        """How many runs this worker claimed."""
        self.finished: dict[str, int] = {}
        """How many of its runs ended with each status (``requeued``, ``lost`` too)."""
        engine.set_store(FencedStore(self.inner, self._leases), keep_open=True)

    # -- the loop ----------------------------------------------------------------------

    def run(self) -> int:
        """Claim and drive runs until stopped (or idle / ``max_runs``, when asked); returns
        how many runs were claimed. SIGTERM and SIGINT stop it gracefully when called from
        the main thread."""
        restore = self._install_signals()
        beat = threading.Thread(target=self._heartbeats, name="wfengine-heartbeat", daemon=True)
        beat.start()
        try:
            while not self._stopping.is_set():
                if self._signalled:
                    self._stop_on_signal()
                    continue
                if self.max_runs is not None and self.claimed >= self.max_runs:
                    if not self._active():
                        break
                    self._wait()
                    continue
                if self._active() >= self.concurrency:
                    self._wait()
                    continue
                sent = time.monotonic()
                try:
                    run_id = self.queue.claim_run(self.name, self.lease)
                except Exception as exc:  # the store is away (restarting): try again later
                    self.say(f"worker {self.name}: could not claim a run: {exc}")
                    self._wait()
                    continue
                if run_id is None:
                    if self.exit_when_idle and not self._active():
                        break
                    self._wait()
                    continue
                self._start(run_id, sent)
        finally:
            self.stop()
            for thread in list(self._threads.values()):
                thread.join()
            self._done.set()
            beat.join()
            restore()
        return self.claimed

    def stop(self) -> None:
        """Claim nothing more; every run going on stops after its step and is requeued."""
        self._stopping.set()
        self._changed.set()
        with self._lock:
            handles = [lease.handle for lease in self._leases.values() if lease.handle]
        for handle in handles:
            handle.stop(RunStatus.QUEUED)

    def _wait(self) -> None:
        """Up to ``poll`` seconds, until a run ends or a signal came (checked every 0.1 s:
        the signal handler itself takes no lock)."""
        deadline = time.monotonic() + self.poll
        while not self._signalled:
            left = deadline - time.monotonic()
            if left <= 0 or self._changed.wait(min(left, 0.1)):
                break
        self._changed.clear()

    def _stop_on_signal(self) -> None:
        self._signalled = False
        self.say(
            f"worker {self.name}: stopping: runs finish their step and go back to the queue "
            "(signal again to stop at once)"
        )
        self.stop()

    def _active(self) -> int:
        with self._lock:
            return len(self._leases)

    def _start(self, run_id: str, sent: float) -> None:
        lease = Lease(run_id, sent + self.lease * (1 - MARGIN))
        with self._lock:
            self._leases[run_id] = lease
            self.claimed += 1
            thread = threading.Thread(
                target=self._drive, args=(lease,), name=f"wfengine-worker-{run_id}", daemon=True
            )
            self._threads[run_id] = thread
        thread.start()

    # -- one run -----------------------------------------------------------------------

    def _drive(self, lease: Lease) -> None:
        run_id = lease.run_id
        outcome = "failed"
        try:
            try:
                handle = self.engine.take_over(run_id, worker=self.name)
            except Exception as exc:  # cannot even start here: say so on the run
                self._unstartable(run_id, exc)
                return
            run = handle.run
            self.say(
                f"worker {self.name}: claimed run {run_id} (graph {run.graph_id}, "
                f"{'from step ' + str(run.step) if run.step else 'new'})"
            )
            with self._lock:
                lease.handle = handle
            if self._stopping.is_set():
                handle.stop(RunStatus.QUEUED)
            self._drive_handle(handle, lease)
            outcome = self._release(run, lease)
            seconds = time.monotonic() - lease.started
            self.say(
                f"worker {self.name}: run {run_id} {outcome} after step {run.step} "
                f"({seconds:.2f} s)"
            )
        except Exception:  # a bug guard: the worker goes on with other runs
            log.exception("worker %s: run %s stopped unexpectedly", self.name, run_id)
        finally:
            with self._lock:
                self._leases.pop(run_id, None)
                self._threads.pop(run_id, None)
                self.finished[outcome] = self.finished.get(outcome, 0) + 1
            self._changed.set()

    def _drive_handle(self, handle: RunHandle, lease: Lease) -> None:
        if self.feed is None:
            handle.result()
            return
        feed = self.feed
        for event in handle.events():
            if lease.lost:
                continue
            try:
                feed.publish_event(jsonable(event.to_dict()))
            except Exception as exc:  # events are a view: the run goes on without them
                log.warning("worker %s: could not publish an event: %s", self.name, exc)

    def _release(self, run: WorkflowRun, lease: Lease) -> str:
        """End the claim; what became of the run (its status, ``requeued`` or ``lost``)."""
        if lease.lost or not lease.holds():
            return "lost (another worker may hold it now)"
        queue = self.queue
        if run.status == RunStatus.QUEUED:  # stopped gracefully: for another worker
            cancel = queue.cancel_requested(run.run_id)
            queue.release_run(run.run_id, self.name, requeue=True)
            if cancel:  # asked while stopping: do not lose the request
                queue.request_cancel(run.run_id)
                return "cancelled"
            return "requeued"
        queue.release_run(run.run_id, self.name)
        return run.status.value

    def _unstartable(self, run_id: str, exc: Exception) -> None:
        from .execution import error_info

        self.say(f"worker {self.name}: run {run_id} cannot start here: {exc}")
        run = self.inner.get_run(run_id)
        if run is not None and not run.status.is_final:
            run.status = RunStatus.FAILED
            run.error = error_info(exc, node=None, step=run.step + 1, where="worker")
            run.finished = time.time()
            try:
                self.engine.store.save_run(run)  # fenced: only while the claim holds
            except StoreError as error:
                log.warning("worker %s: could not save run %s: %s", self.name, run_id, error)
        self.queue.release_run(run_id, self.name)

    # -- heartbeats --------------------------------------------------------------------

    def _heartbeats(self) -> None:
        every = self.lease / 3
        while not self._done.wait(every):
            with self._lock:
                leases = [lease for lease in self._leases.values() if not lease.lost]
            for lease in leases:
                self._beat(lease)

    def _beat(self, lease: Lease) -> None:
        sent = time.monotonic()
        try:
            held = self.queue.heartbeat(lease.run_id, self.name, self.lease)
            cancel = held and self.queue.cancel_requested(lease.run_id)
        except Exception as exc:  # the store is away: the lease runs out unless it returns
            log.warning("worker %s: heartbeat of run %s failed: %s", self.name, lease.run_id, exc)
            return
        handle = lease.handle
        if not held:
            lease.lost = True
            self.say(f"worker {self.name}: lost run {lease.run_id}; stopping it")
            if handle is not None:
                handle.cancel()
            return
        lease.valid_until = sent + self.lease * (1 - MARGIN)
        if cancel and handle is not None and not handle.run.cancel_requested:
            self.say(f"worker {self.name}: cancel requested for run {lease.run_id}")
            handle.cancel()

    # -- signals -----------------------------------------------------------------------

    def _install_signals(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

        def handle(signum: int, frame: FrameType | None) -> None:
            # no locks and no output here: the main thread may hold any of them; the main
            # loop sees the flag within 0.1 s and stops the runs
            self._signals += 1
            if self._signals > 1:
                os._exit(130)  # at once: the runs are taken over after their leases
            self._signalled = True

        for sig in previous:
            signal.signal(sig, handle)

        def restore() -> None:
            for sig, old in previous.items():
                signal.signal(sig, old)

        return restore
