"""Node calls: one node's attempts, with retries and timeouts, sync and async.

This is the part of a step that another backend could take over (DESIGN.md, "Scale-out"):
given an :class:`~wfengine.execution.Execution` and the nodes of a step, return each node's
``(name, update, error)``. Sync nodes of a multi-node step run on a thread pool that grows
as needed up to ``max_workers`` threads; a single-node step runs in the calling thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from .errors import NodeTimeoutError
from .execution import Cancelled, Execution, NodeResult
from .graph import Node
from .run import WorkflowRun


class NodeCalls:
    """Runs node attempts for an executor, on its (lazily created) thread pool."""

    def __init__(self, max_workers: int, pool: ThreadPoolExecutor | None = None) -> None:
        self.max_workers = max_workers
        self._pool = pool
        self._pool_lock = threading.Lock()

    def pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            with self._pool_lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(
                        self.max_workers, thread_name_prefix="wfengine-node"
                    )
        return self._pool

    def call_many_sync(self, ex: Execution, batch: list[str]) -> list[NodeResult]:
        pool = self.pool()
        futures = [pool.submit(self.call_sync, ex, ex.graph.nodes[name]) for name in batch]
        return [f.result() for f in futures]

    def call_sync(self, ex: Execution, node: Node, attempt: int = 1) -> NodeResult:
        """One node, all its attempts from ``attempt`` on, in this thread (or the pool, for a
        timeout)."""
        run = ex.run
        step = run.step + 1
        while True:
            inp = dict(run.state)
            start = time.perf_counter()
            if ex.on_node_started:
                ex.node_started(node.name, inp, attempt)
            try:
                if node.name in ex.node_paths:
                    ex.check_paths(node, inp)
                if node.timeout is None:
                    update = node.func(inp)
                else:
                    future = _start_in_thread(node.func, inp, node.name)
                    try:
                        update = future.result(timeout=node.timeout)
                    except FutureTimeout:
                        future.cancel()
                        raise NodeTimeoutError(
                            f"node '{node.name}' did not finish within {node.timeout} s "
                            "(its thread cannot be killed and may still be running)"
                        ) from None
            except Exception as exc:
                retry = ex.node_failed(node, step, attempt, start, exc)
                if retry is None:
                    return node.name, None, exc
                if run._cancel.wait(retry):
                    return node.name, None, Cancelled()
                attempt += 1
                continue
            ex.node_finished(node, step, attempt, start, update)
            return node.name, update, None

    async def call_async(self, ex: Execution, node: Node) -> NodeResult:
        import asyncio  # here, not at the top: `wf` and sync runs never need it

        attempt = 1
        run = ex.run
        step = run.step + 1
        while True:
            inp = dict(run.state)
            start = time.perf_counter()
            if ex.on_node_started:
                ex.node_started(node.name, inp, attempt)
            try:
                if node.name in ex.node_paths:
                    ex.check_paths(node, inp)
                if node.is_async:
                    call = node.func(inp)
                elif node.timeout is not None:
                    call = asyncio.wrap_future(_start_in_thread(node.func, inp, node.name))
                else:
                    call = asyncio.get_running_loop().run_in_executor(self.pool(), node.func, inp)
                if node.timeout is None:
                    update = await call
                else:
                    try:
                        update = await asyncio.wait_for(call, node.timeout)
                    except TimeoutError:
                        raise NodeTimeoutError(
                            f"node '{node.name}' did not finish within {node.timeout} s"
                        ) from None
            except Exception as exc:
                retry = ex.node_failed(node, step, attempt, start, exc)
                if retry is None:
                    return node.name, None, exc
                if await _cancelled_within(run, retry):
                    return node.name, None, Cancelled()
                attempt += 1
                continue
            ex.node_finished(node, step, attempt, start, update)
            return node.name, update, None


async def _cancelled_within(run: WorkflowRun, delay: float) -> bool:
    """Sleep ``delay`` seconds (a retry's backoff), waking early when ``run`` is cancelled;
    returns whether it was."""
    import asyncio

    deadline = time.perf_counter() + delay
    while not run._cancel.is_set():
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            return False
        await asyncio.sleep(min(remaining, 0.05))
    return True


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
