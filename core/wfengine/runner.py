"""The seam between the run loop and the place a node's function runs.

The driver (:class:`~wfengine.execution.Execution`) plans a step, then hands each node
attempt to a :class:`NodeRunner` as a :class:`NodeCall` and gets back an :class:`Outcome`
(the update or the error, how long the call took, which worker ran it). Everything else,
retries, lifecycle hooks, merging, routing, checkpoints, stays in the driver, so every
backend logs, retries and resumes alike (DESIGN.md, "Scale-out").

A runner offers three ways in, after Hamilton's ``submit_task -> future``:

* :meth:`NodeRunner.submit`: a future of the outcome (the nodes of a multi-node step);
* :meth:`NodeRunner.call`: the outcome, in the calling thread when the backend can (a
  single-node step: no hop to a pool, which is most of a step's cost);
* :meth:`NodeRunner.acall`: the outcome, awaited on the running event loop.

:class:`ThreadRunner` is the in-process backend: sync nodes on a thread pool (or in the
calling thread), async nodes on the event loop, a node with a timeout in a thread of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from time import perf_counter
from typing import Any, NamedTuple, Protocol

from .errors import NodeTimeoutError
from .graph import Node


class NodeCall(NamedTuple):
    """One attempt of one node, as the driver hands it to a runner."""

    run_id: str
    step: int
    node: Node
    """The node (its ``name`` and ``func``)."""
    attempt: int
    state: dict[str, Any]
    """The node's input: a :class:`~wfengine.state.StateView` (a ``dict``)."""
    timeout: float | None
    """Seconds the call may take (``None``: no limit)."""


class Outcome(NamedTuple):
    """What one node attempt came to: its ``update`` or its ``error``, ``duration`` (seconds
    the call took) and ``worker`` (the thread or worker that ran it)."""

    update: Any
    error: BaseException | None
    duration: float
    worker: str


new = tuple.__new__
"""``new(NodeCall, (...))``/``new(Outcome, (...))``: build one without the Python-level
``__new__`` of a named tuple (the per-step path builds two per step)."""


class NodeRunner(Protocol):
    """Runs node calls somewhere; never raises for a node's own error (that is the outcome's
    ``error``)."""

    def call(self, call: NodeCall) -> Outcome:
        """Run ``call`` and wait for its outcome (in this thread when the backend can)."""
        ...

    def submit(self, call: NodeCall) -> Future[Outcome]:
        """Start ``call``; the future completes with its outcome."""
        ...

    async def acall(self, call: NodeCall) -> Outcome:
        """Run ``call`` from the running event loop and await its outcome."""
        ...

    def close(self) -> None:
        """Release the runner's workers (a runner passed in by its owner may ignore this)."""
        ...


class ThreadRunner:
    """Threads and asyncio, in this process: today's (and the default) backend.

    Sync calls run in the calling thread (:meth:`call`) or on a thread pool that grows as
    needed up to ``max_workers`` threads (:meth:`submit`); async nodes run on the event loop;
    a node with a timeout runs in a daemon thread of its own, which cannot be killed.
    """

    inline_sync = True
    """Its :meth:`call` of a sync node without a timeout is ``node.func(state)`` in the
    calling thread and nothing more, so the driver may make that call itself (a runner that
    runs calls elsewhere leaves this ``False``, the protocol's default)."""

    def __init__(self, max_workers: int, pool: ThreadPoolExecutor | None = None) -> None:
        self.max_workers = max_workers
        self._pool = pool
        self._owns_pool = pool is None
        self._pool_lock = threading.Lock()

    def pool(self) -> ThreadPoolExecutor:
        """The thread pool (created on first use)."""
        if self._pool is None:
            with self._pool_lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(
                        self.max_workers, thread_name_prefix="wfengine-node"
                    )
        return self._pool

    def call(self, call: NodeCall, worker: str = "caller") -> Outcome:
        """Run ``call`` in this thread (a node with a timeout: in a thread of its own);
        ``worker`` names this thread in the outcome."""
        node = call.node
        timeout = call.timeout
        start = perf_counter()
        try:
            if timeout is None:
                update = node.func(call.state)
            else:
                future = _start_in_thread(node.func, call.state, node.name)
                try:
                    update = future.result(timeout=timeout)
                except FutureTimeout:
                    future.cancel()
                    raise NodeTimeoutError(
                        f"node '{node.name}' did not finish within {timeout} s "
                        "(its thread cannot be killed and may still be running)"
                    ) from None
        except Exception as exc:
            return new(Outcome, (None, exc, perf_counter() - start, worker))
        return new(Outcome, (update, None, perf_counter() - start, worker))

    def submit(self, call: NodeCall) -> Future[Outcome]:
        return self.pool().submit(self._in_pool, call)

    def _in_pool(self, call: NodeCall) -> Outcome:
        return self.call(call, _worker())

    async def acall(self, call: NodeCall) -> Outcome:
        import asyncio  # here, not at the top: `wf` and sync runs never need it

        node = call.node
        timeout = call.timeout
        start = perf_counter()
        worker = "event-loop"
        try:
            pending: Awaitable[Any]
            if node.is_async:
                pending = node.func(call.state)
            elif timeout is not None:
                pending = asyncio.wrap_future(_start_in_thread(node.func, call.state, node.name))
                worker = f"wfengine-node-{node.name}"
            else:
                pending = asyncio.get_running_loop().run_in_executor(
                    self.pool(), _in_worker, node.func, call.state
                )
            if timeout is None:
                update = await pending
            else:
                try:
                    update = await asyncio.wait_for(pending, timeout)
                except TimeoutError:
                    raise NodeTimeoutError(
                        f"node '{node.name}' did not finish within {timeout} s"
                    ) from None
        except Exception as exc:
            return Outcome(None, exc, perf_counter() - start, worker)
        if isinstance(update, _Ran):
            worker, update = update.worker, update.update
        return Outcome(update, None, perf_counter() - start, worker)

    def close(self) -> None:
        if self._owns_pool and self._pool is not None:
            self._pool.shutdown(wait=False)


def _worker() -> str:
    return threading.current_thread().name


class _Ran:
    """A sync node's result from a pool thread, with the thread's name."""

    __slots__ = ("update", "worker")

    def __init__(self, update: Any, worker: str) -> None:
        self.update = update
        self.worker = worker


def _in_worker(func: Callable[[Any], Any], arg: Any) -> _Ran:
    return _Ran(func(arg), _worker())


def _start_in_thread(func: Callable[[Any], Any], arg: Any, name: str) -> Future[Any]:
    """Call ``func(arg)`` in a new daemon thread, for a node with a timeout.

    Not the shared pool: a branch already holding a pool thread would wait on a queued call
    (a full pool then times nodes out that never started), and a node that never returns
    would hold a pool thread that the interpreter joins at exit, hanging the process.
    """
    future: Future[Any] = Future()

    def target() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(func(arg))
        except BaseException as exc:  # handed to the waiting caller
            future.set_exception(exc)

    threading.Thread(target=target, name=f"wfengine-node-{name}", daemon=True).start()
    return future
