"""``processes://?workers=N``: node calls on a pool of worker processes on this machine.

Each worker is a process of its own with a pipe to the driver, and a driver thread (its
*slot*) that hands it one call at a time and waits for the answer, the worker's death or
the call's timeout, whichever comes first:

* a worker that dies (killed, out of memory) fails only the call it was running, with
  :class:`~wfengine.errors.WorkerLostError` (the node's retry policy decides whether it runs
  again, on a fresh worker); the other workers and their calls go on;
* a call past its node's ``timeout`` gets its worker terminated (this backend *can* stop a
  runaway node, unlike threads) and fails with :class:`~wfengine.errors.NodeTimeoutError`;
* a node marked ``local=True`` runs in the driver's threads instead.

Workers are fresh interpreters (not forks): they import what a call needs, never a copy of
the driver's threads or locks, and never the driver's ``__main__`` (a script needs no
``if __name__ == "__main__"`` guard). A slot's worker starts when the slot first gets work
(:meth:`ProcessRunner.start` starts them all up front).
"""

from __future__ import annotations

import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from multiprocessing.connection import Connection, wait
from time import perf_counter

from .backends import BackendContext, url_options
from .errors import NodeTimeoutError, RemoteNodeError, WorkerLostError
from .registry import ToolRegistry
from .remote import (
    RemoteCall,
    RemoteOutcome,
    RemoteRunner,
    execute,
    finish,
    outcome_bytes,
    worker_name,
)
from .runner import NodeCall, Outcome

__all__ = ["ProcessRunner", "make_process_runner"]


def make_process_runner(url: str, context: BackendContext) -> ProcessRunner:
    """The ``processes://`` factory: ``?workers=N`` (default: the machine's CPU count)."""
    options = url_options(url, {"workers": int})
    return ProcessRunner(options.get("workers") or os.cpu_count() or 1, context)


class ProcessRunner(RemoteRunner):
    """A :class:`~wfengine.runner.NodeRunner` on ``workers`` processes of this machine."""

    def __init__(self, workers: int, context: BackendContext) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        super().__init__(context.installed_tools, context.max_workers)
        self.workers = workers
        self.context = context
        self._tasks: queue.SimpleQueue[tuple[bytes, NodeCall, Future[Outcome]] | None] = (
            queue.SimpleQueue()
        )
        self._slots: list[_Slot] = []
        self._lock = threading.Lock()
        self._closed = False

    # -- the NodeRunner protocol (the rest is RemoteRunner's) ---------------------------------

    def send(self, remote: RemoteCall, payload: bytes, call: NodeCall) -> Future[Outcome]:
        """Queue the call for the next free worker."""
        future: Future[Outcome] = Future()
        self._ensure_started()
        self._tasks.put((payload, call, future))
        return future

    def close(self) -> None:
        """Stop the workers (a call still running fails with ``WorkerLostError``)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            slots = list(self._slots)
        for _slot in slots:
            self._tasks.put(None)
        for slot in slots:
            slot.stop()
        super().close()

    # -- workers -----------------------------------------------------------------------------

    def start(self) -> ProcessRunner:
        """Start every worker now (else each starts when it first gets work)."""
        self._ensure_started()
        for slot in self._slots:
            slot.ensure_worker()
        return self

    def _ensure_started(self) -> None:
        if len(self._slots) == self.workers:
            return
        with self._lock:
            if self._closed:
                raise RuntimeError("this processes:// backend is closed")
            while len(self._slots) < self.workers:
                slot = _Slot(len(self._slots), self._tasks, self.context.load_tools)
                self._slots.append(slot)
                slot.thread.start()

    def worker_pids(self) -> list[int]:
        """The process ids of the workers running now (tests kill one)."""
        return [pid for slot in self._slots if (pid := slot.pid()) is not None]


class _Worker:
    """One worker process: a fresh interpreter (``python -c``) with two pipes to the driver.

    Not :mod:`multiprocessing`: its ``spawn`` and ``forkserver`` children import the
    driver's ``__main__`` again, which runs an unguarded script's whole body once per worker.
    The worker gets the driver's ``sys.path`` (so it imports what the driver imports), and
    its answer pipe reaching end-of-file is how the driver learns that it died.
    """

    def __init__(self, load_tools: Callable[[], ToolRegistry] | None, index: int) -> None:
        to_worker_r, to_worker_w = os.pipe()
        to_driver_r, to_driver_w = os.pipe()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        code = (
            f"from wfengine.processes import worker_main; worker_main({to_worker_r}, {to_driver_w})"
        )
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", code],
                pass_fds=(to_worker_r, to_driver_w),
                env=env,
                stdin=subprocess.DEVNULL,
            )
        finally:
            os.close(to_worker_r)
            os.close(to_driver_w)
        self.send = Connection(to_worker_w, readable=False)
        self.recv = Connection(to_driver_r, writable=False)
        self.pid = self.process.pid
        self.send.send_bytes(_pickle_setup(load_tools))

    def alive(self) -> bool:
        return self.process.poll() is None

    def exitcode(self, wait: float = 1.0) -> int | None:
        try:
            return self.process.wait(wait)
        except subprocess.TimeoutExpired:
            return None

    def discard(self) -> None:
        for conn in (self.send, self.recv):
            conn.close()
        if self.alive():
            self.process.kill()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:  # pragma: no cover - a kill that did not take
            pass


def _pickle_setup(load_tools: Callable[[], ToolRegistry] | None) -> bytes:
    import cloudpickle

    blob: bytes = cloudpickle.dumps(load_tools)
    return blob


class _Slot:
    """One worker and the driver thread that feeds it, a call at a time."""

    def __init__(
        self,
        index: int,
        tasks: queue.SimpleQueue[tuple[bytes, NodeCall, Future[Outcome]] | None],
        load_tools: Callable[[], ToolRegistry] | None,
    ) -> None:
        self.index = index
        self.tasks = tasks
        self.load_tools = load_tools
        self.worker: _Worker | None = None
        self._lock = threading.Lock()
        self.thread = threading.Thread(
            target=self._serve, name=f"wfengine-process-slot-{index}", daemon=True
        )

    def pid(self) -> int | None:
        worker = self.worker
        return worker.pid if worker is not None and worker.alive() else None

    def ensure_worker(self) -> _Worker:
        with self._lock:
            if self.worker is None or not self.worker.alive():
                self._discard()
                self.worker = _Worker(self.load_tools, self.index)
            return self.worker

    def _discard(self) -> None:
        if self.worker is not None:
            self.worker.discard()
        self.worker = None

    def stop(self) -> None:
        self.thread.join(5)
        with self._lock:
            if self.worker is not None:
                try:
                    self.worker.send.send_bytes(b"")  # a polite stop
                except OSError:
                    pass
                self.worker.exitcode(2)
            self._discard()

    def _serve(self) -> None:
        while (task := self.tasks.get()) is not None:
            payload, call, future = task
            if not future.set_running_or_notify_cancel():
                continue
            future.set_result(self._run(payload, call))

    def _run(self, payload: bytes, call: NodeCall) -> Outcome:
        start = perf_counter()
        try:
            worker = self.ensure_worker()
        except Exception as exc:
            return Outcome(
                None, WorkerLostError(f"could not start a worker process: {exc}"), 0.0, "driver"
            )
        name = f"process-{worker.pid}"
        try:
            worker.send.send_bytes(payload)
        except OSError:
            return self._lost(call, worker, start, name)
        if wait([worker.recv], call.timeout):
            try:
                answer = worker.recv.recv_bytes()
            except (EOFError, OSError):  # the worker died
                return self._lost(call, worker, start, name)
            outcome: RemoteOutcome = pickle.loads(answer)
            return finish(outcome, call)
        with self._lock:  # timed out: stop the worker, a fresh one takes the next call
            self._discard()
        return Outcome(
            None,
            NodeTimeoutError(
                f"node '{call.node.name}' did not finish within {call.timeout} s; its worker "
                f"process {worker.pid} was terminated"
            ),
            perf_counter() - start,
            name,
        )

    def _lost(self, call: NodeCall, worker: _Worker, start: float, name: str) -> Outcome:
        code = worker.exitcode()
        with self._lock:
            self._discard()
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit {code}"
        return Outcome(
            None,
            WorkerLostError(
                f"worker process {worker.pid} died ({how}) while running node "
                f"'{call.node.name}' (attempt {call.attempt})"
            ),
            perf_counter() - start,
            name,
        )


def worker_main(read_fd: int, write_fd: int) -> None:
    """A worker process: load the driver's setup, then run the calls it sends until it says
    stop (an empty message) or goes away."""
    recv = Connection(read_fd, writable=False)
    send = Connection(write_fd, readable=False)
    try:
        load_tools = pickle.loads(recv.recv_bytes())
    except (EOFError, OSError, KeyboardInterrupt):
        return
    tools: list[ToolRegistry] = []

    def installed() -> ToolRegistry:
        if not tools:
            if load_tools is None:
                raise LookupError("this worker was given no way to load installed tools")
            tools.append(load_tools())
        return tools[0]

    while True:
        try:
            data = recv.recv_bytes()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if not data:
            return
        try:
            remote = pickle.loads(data)
        except Exception as exc:  # a value whose class this worker cannot import
            failed = RemoteOutcome(
                None,
                RemoteNodeError(
                    type(exc).__name__,
                    f"the call could not be loaded on worker {worker_name()}: {exc}",
                ),
                0.0,
                worker_name(),
            )
            send.send_bytes(outcome_bytes(failed, "?"))
            continue
        outcome = execute(remote, installed)
        try:
            send.send_bytes(outcome_bytes(outcome, remote.node))
        except (OSError, KeyboardInterrupt):
            return
