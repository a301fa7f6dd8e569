"""The executor: runs a graph step by step over a state dict.

A step runs the active node set; one node in a linear graph, several after a fan-out (sync
nodes on a thread pool, async ones on the event loop). Updates merge at the end of the step
in node order through each key's reducer; then every node's outgoing edges choose the next
active set. See DESIGN.md, "Execution model".

The code keeps three concerns apart, so that the middle one can later be handed to another
backend (DESIGN.md, "Scale-out"):

* :class:`_Execution` — planning a step, merging, routing, status, checkpoints, events;
* ``_call_*`` — running one node attempt, with retries and timeouts (sync and async);
* the drivers :meth:`WorkflowExecutor.run` / :meth:`WorkflowExecutor.arun` that loop the two.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
import traceback
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

from . import settings
from .errors import NodeTimeoutError, StateConflictError, StepLimitError, WorkflowError
from .graph import END, Graph, Node
from .run import Event, EventType, LogEntry, RunStatus, WorkflowRun
from .state import _MISSING
from .storage import Store

log = logging.getLogger("wfengine.executor")

Emit = Callable[[WorkflowRun, Event], None]
"""Receives every event of a run, in order; must not raise (wrap observers that might)."""

_T = TypeVar("_T")
_NodeResult = tuple[str, Mapping[str, Any] | None, BaseException | None]


def error_info(exc: BaseException, **extra: Any) -> dict[str, Any]:
    """An exception as JSON data: ``type``, ``message``, ``traceback`` and ``extra`` fields."""
    return {
        "type": type(exc).__name__,
        "message": str(exc),
        "traceback": "".join(traceback.format_exception(exc)),
        **extra,
    }


class WorkflowExecutor:
    """Runs one graph; safe to use for many runs at once from many threads.

    ``emit`` receives every event (the engine turns them into lifecycle hook calls);
    ``store`` keeps the run (a durable store gets a checkpoint after every step).
    """

    def __init__(
        self,
        graph: Graph,
        *,
        emit: Emit | None = None,
        store: Store | None = None,
        graph_id: str | None = None,
        max_workers: int | None = None,
        pool: ThreadPoolExecutor | None = None,
    ) -> None:
        self.graph = graph
        self.warnings = graph.validate()
        self.graph_id = graph_id or graph.name
        self.emit = emit
        self.store = store
        self.max_workers = max_workers or settings.max_workers()
        self._pool = pool
        self._pool_lock = threading.Lock()
        self._has_async = any(node.is_async for node in graph.nodes.values())

    # -- public API ----------------------------------------------------------------------

    def new_run(
        self,
        initial_state: Mapping[str, Any] | None = None,
        *,
        max_steps: int | None = None,
        interrupt_before: Sequence[str] = (),
        run_id: str | None = None,
    ) -> WorkflowRun:
        """A pending run at the entry point (not started); pass it to :meth:`run_existing`."""
        unknown = [n for n in interrupt_before if n not in self.graph.nodes]
        if unknown:
            raise WorkflowError(f"interrupt_before names unknown node(s): {', '.join(unknown)}")
        if max_steps is not None and max_steps < 1:
            raise WorkflowError(f"max_steps must be at least 1, got {max_steps}")
        run = WorkflowRun(
            graph_id=self.graph_id,
            state=dict(initial_state or {}),
            max_steps=max_steps or self.graph.max_steps or settings.max_steps(),
            interrupt_before=list(interrupt_before),
            next_nodes=[self.graph.entry_point] if self.graph.entry_point else [],
        )
        if run_id:
            run.run_id = run_id
        return run

    def run(
        self,
        initial_state: Mapping[str, Any] | None = None,
        *,
        max_steps: int | None = None,
        interrupt_before: Sequence[str] = (),
    ) -> WorkflowRun:
        """Run the graph to completion (or pause, failure, cancellation); returns the run."""
        run = self.new_run(initial_state, max_steps=max_steps, interrupt_before=interrupt_before)
        return self.run_existing(run)

    async def arun(
        self,
        initial_state: Mapping[str, Any] | None = None,
        *,
        max_steps: int | None = None,
        interrupt_before: Sequence[str] = (),
    ) -> WorkflowRun:
        """Like :meth:`run`, on the running event loop (sync nodes go to threads)."""
        run = self.new_run(initial_state, max_steps=max_steps, interrupt_before=interrupt_before)
        return await self.arun_existing(run)

    def resume(
        self,
        run: WorkflowRun,
        state_patch: Mapping[str, Any] | None = None,
        *,
        max_steps: int | None = None,
    ) -> WorkflowRun:
        """Continue a paused, failed, cancelled or interrupted run from the step it stopped at.

        ``state_patch`` is merged into the state first (replacing keys, no reducers), so a person
        can correct the state before the failed or paused step runs again.
        """
        self._prepare_resume(run, state_patch, max_steps)
        return self.run_existing(run, resuming=True)

    async def aresume(
        self,
        run: WorkflowRun,
        state_patch: Mapping[str, Any] | None = None,
        *,
        max_steps: int | None = None,
    ) -> WorkflowRun:
        """Async :meth:`resume`."""
        self._prepare_resume(run, state_patch, max_steps)
        return await self.arun_existing(run, resuming=True)

    def cancel(self, run: WorkflowRun) -> None:
        """Stop ``run`` before its next step; it ends ``cancelled`` and can be resumed."""
        run.cancel()

    def stream(
        self,
        initial_state: Mapping[str, Any] | None = None,
        *,
        max_steps: int | None = None,
        interrupt_before: Sequence[str] = (),
        run: WorkflowRun | None = None,
    ) -> Iterator[Event]:
        """Run in a worker thread and yield its events as they happen.

        Closing the iterator early cancels the run before its next step.
        """
        if run is None:
            run = self.new_run(
                initial_state, max_steps=max_steps, interrupt_before=interrupt_before
            )
        events: queue.SimpleQueue[Event | None] = queue.SimpleQueue()
        inner = self.emit

        def emit(r: WorkflowRun, event: Event) -> None:
            if inner is not None:
                inner(r, event)
            events.put(event)

        worker = threading.Thread(
            target=self._run_quietly,
            args=(run, emit, events),
            name=f"wfengine-run-{run.run_id}",
            daemon=True,
        )
        worker.start()
        try:
            while (event := events.get()) is not None:
                yield event
        finally:
            if not run.status.is_final:
                run.cancel()
            worker.join()

    async def astream(
        self,
        initial_state: Mapping[str, Any] | None = None,
        *,
        max_steps: int | None = None,
        interrupt_before: Sequence[str] = (),
        run: WorkflowRun | None = None,
    ) -> AsyncIterator[Event]:
        """Run on the event loop and yield its events as they happen."""
        if run is None:
            run = self.new_run(
                initial_state, max_steps=max_steps, interrupt_before=interrupt_before
            )
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[Event | None] = asyncio.Queue()
        inner = self.emit

        def emit(r: WorkflowRun, event: Event) -> None:
            if inner is not None:
                inner(r, event)
            loop.call_soon_threadsafe(events.put_nowait, event)

        async def drive() -> None:
            try:
                await self.arun_existing(run, emit=emit)
            finally:
                loop.call_soon_threadsafe(events.put_nowait, None)

        task = asyncio.create_task(drive())
        try:
            while (event := await events.get()) is not None:
                yield event
        finally:
            if not task.done():
                run.cancel()
            await task

    # -- drivers -------------------------------------------------------------------------

    def run_existing(
        self, run: WorkflowRun, *, resuming: bool = False, emit: Emit | None = None
    ) -> WorkflowRun:
        """Drive ``run`` (new or prepared for resumption) in this thread until it stops."""
        if self._has_async:
            return _run_coroutine(self.arun_existing(run, resuming=resuming, emit=emit))
        ex = _Execution(self, run, emit if emit is not None else self.emit, resuming)
        try:
            ex.begin()
            simple = ex.emit is None and ex.checkpoint is None and not ex.joins
            while True:
                if simple:
                    ex.simple_steps()
                if (batch := ex.plan()) is None:
                    break
                if len(batch) == 1:
                    results = [self._call_sync(ex, self.graph.nodes[batch[0]])]
                else:
                    results = self._call_many_sync(ex, batch)
                ex.commit(batch, results)
        except KeyboardInterrupt:
            ex.stop(RunStatus.CANCELLED)
            ex.finish()
            raise
        except BaseException as exc:  # a bug in a hook or store: never leave a run "running"
            ex.fail(exc, node=None)
        ex.finish()
        return run

    async def arun_existing(
        self, run: WorkflowRun, *, resuming: bool = False, emit: Emit | None = None
    ) -> WorkflowRun:
        """Drive ``run`` on the running event loop until it stops."""
        ex = _Execution(self, run, emit if emit is not None else self.emit, resuming)
        try:
            ex.begin()
            while (batch := ex.plan()) is not None:
                calls = [self._call_async(ex, self.graph.nodes[name]) for name in batch]
                results = list(await asyncio.gather(*calls))
                ex.commit(batch, results)
        except (KeyboardInterrupt, asyncio.CancelledError):
            ex.stop(RunStatus.CANCELLED)
            ex.finish()
            raise
        except BaseException as exc:
            ex.fail(exc, node=None)
        ex.finish()
        return run

    def _run_quietly(self, run: WorkflowRun, emit: Emit, events: Any) -> None:
        try:
            self.run_existing(run, resuming=run.status != RunStatus.PENDING, emit=emit)
        except BaseException:  # already recorded on the run
            log.exception("run %s stopped with an error", run.run_id)
        finally:
            events.put(None)

    def _prepare_resume(
        self, run: WorkflowRun, state_patch: Mapping[str, Any] | None, max_steps: int | None
    ) -> None:
        if run.status == RunStatus.COMPLETED:
            raise WorkflowError(f"run {run.run_id} is already completed; nothing to resume")
        if state_patch:
            run.state.update(state_patch)
        if max_steps is not None:
            run.max_steps = max_steps
        run._cancel.clear()

    # -- node calls ----------------------------------------------------------------------

    def _pool_for(self) -> ThreadPoolExecutor:
        if self._pool is None:
            with self._pool_lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(
                        self.max_workers, thread_name_prefix="wfengine-node"
                    )
        return self._pool

    def _call_many_sync(self, ex: _Execution, batch: list[str]) -> list[_NodeResult]:
        pool = self._pool_for()
        futures = [pool.submit(self._call_sync, ex, self.graph.nodes[name]) for name in batch]
        return [f.result() for f in futures]

    def _call_sync(self, ex: _Execution, node: Node, attempt: int = 1) -> _NodeResult:
        """One node, all its attempts from ``attempt`` on, in this thread (or the pool, for a
        timeout)."""
        run = ex.run
        step = run.step + 1
        while True:
            inp = dict(run.state)
            start = time.perf_counter()
            if ex.emit is not None:
                ex.event(EventType.NODE_STARTED, node.name, state=inp, attempt=attempt)
            try:
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
                    return node.name, None, _Cancelled()
                attempt += 1
                continue
            ex.node_finished(node, step, attempt, start, update)
            return node.name, update, None

    async def _call_async(self, ex: _Execution, node: Node) -> _NodeResult:
        attempt = 1
        run = ex.run
        step = run.step + 1
        while True:
            inp = dict(run.state)
            start = time.perf_counter()
            if ex.emit is not None:
                ex.event(EventType.NODE_STARTED, node.name, state=inp, attempt=attempt)
            try:
                if node.is_async:
                    call = node.func(inp)
                elif node.timeout is not None:
                    call = asyncio.wrap_future(_start_in_thread(node.func, inp, node.name))
                else:
                    call = asyncio.get_running_loop().run_in_executor(
                        self._pool_for(), node.func, inp
                    )
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
                    return node.name, None, _Cancelled()
                attempt += 1
                continue
            ex.node_finished(node, step, attempt, start, update)
            return node.name, update, None


class _Cancelled(Exception):
    """A node's retries were abandoned because the run was cancelled."""


async def _cancelled_within(run: WorkflowRun, delay: float) -> bool:
    """Sleep ``delay`` seconds (a retry's backoff), waking early when ``run`` is cancelled;
    returns whether it was."""
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


def _run_coroutine(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run ``coro`` to completion from sync code, even inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    result: list[_T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coro))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, name="wfengine-async-run")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


class _Execution:
    """Routing, merging, status, checkpoints and events of one run being driven."""

    __slots__ = (
        "executor",
        "graph",
        "run",
        "emit",
        "store",
        "checkpoint",
        "resuming",
        "wall0",
        "perf0",
        "reducers",
        "joins",
        "log_start",
    )

    def __init__(
        self, executor: WorkflowExecutor, run: WorkflowRun, emit: Emit | None, resuming: bool
    ) -> None:
        self.executor = executor
        self.graph = executor.graph
        self.run = run
        self.emit = emit
        self.store = executor.store
        self.checkpoint = (
            executor.store.save_step
            if executor.store is not None and executor.store.durable
            else None
        )
        self.resuming = resuming
        self.wall0 = time.time()
        self.perf0 = time.perf_counter()
        self.reducers = self.graph.reducers
        self.joins = [(str(i), e) for i, e in enumerate(self.graph.edges) if e.is_join]
        self.log_start = len(run.logs)

    # -- the hot path --------------------------------------------------------------------

    def simple_steps(self) -> None:
        """Run consecutive simple steps inline: one sync node, no timeout, no interrupt.

        Only used when nothing observes the steps (no events, no checkpoints, no joins); it
        does what :meth:`plan`, ``_call_sync`` and :meth:`commit` do for such a step, without
        their generality, and hands anything else (failures included) back to them.
        """
        run = self.run
        if run.status != RunStatus.RUNNING or self.resuming:
            return
        state = run.state
        nodes = self.graph.nodes
        routes = self.graph._route_table()
        reducers = self.reducers
        logs = run.logs
        visited = run.visited_nodes
        cancel = run._cancel
        interrupts = run.interrupt_before
        limit = run.max_steps or settings.max_steps()
        perf = time.perf_counter
        offset = self.wall0 - self.perf0
        while True:
            batch = run.next_nodes
            if len(batch) != 1 or run.step >= limit or cancel.is_set():
                return
            name = batch[0]
            node = nodes[name]
            if node.timeout is not None or node.is_async or (interrupts and name in interrupts):
                return
            step = run.step + 1
            self.log_start = len(logs)
            start = perf()
            try:
                update = node.func(dict(state))
            except Exception as exc:
                delay = self.node_failed(node, step, 1, start, exc)
                if delay is None:
                    result: _NodeResult = (name, None, exc)
                elif cancel.wait(delay):
                    result = (name, None, _Cancelled())
                else:
                    result = self.executor._call_sync(self, node, 2)
                self.commit(batch, [result])
                return
            logs.append(
                LogEntry(name, step, 1, offset + start, (perf() - start) * 1000.0, "completed")
            )
            try:
                if update:
                    if type(update) is dict and not reducers:
                        for key, value in update.items():
                            if state.get(key, _MISSING) is not value:
                                state[key] = value
                    else:
                        merged = _filtered(update, state, reducers)
                        _apply(state, merged, reducers, False, [])
                route = routes.get(name)
                if route is None:
                    next_nodes: list[str] = []
                else:
                    targets = route.always
                    fired = False
                    for edge in route.conditional:
                        if edge.condition(state):  # type: ignore[misc]
                            targets = [*targets, edge.target]
                            fired = True
                    if not fired and route.default:
                        targets = [*targets, *route.default]
                    if len(targets) == 1:
                        next_nodes = [] if targets[0] == END else [targets[0]]
                    else:
                        next_nodes = list(dict.fromkeys(t for t in targets if t != END))
            except Exception as exc:
                self.fail(exc, node=name)
                return
            visited.append(name)
            run.step = step
            run.next_nodes = next_nodes

    # -- lifecycle -----------------------------------------------------------------------

    def begin(self) -> None:
        run = self.run
        run.status = RunStatus.RUNNING
        run.error = None
        run.finished = None
        if self.store is not None:
            self.store.save_run(run)
        if self.emit is not None:
            self.event(EventType.RUN_STARTED, None, resumed=self.resuming)

    def plan(self) -> list[str] | None:
        """The node set of the next step, or ``None`` when the run stops here."""
        run = self.run
        if run.status != RunStatus.RUNNING:
            return None
        if run._cancel.is_set():
            self.stop(RunStatus.CANCELLED)
            return None
        batch = run.next_nodes
        if not batch:
            run.status = RunStatus.COMPLETED
            return None
        limit = run.max_steps or settings.max_steps()
        if run.step >= limit:
            self.fail(
                StepLimitError(
                    f"step limit of {limit} reached after step {run.step}; the next nodes were "
                    f"{', '.join(batch)} (last run: {', '.join(run.visited_nodes[-3:])}). "
                    "Raise max_steps (per run, in the spec, or WFENGINE_MAX_STEPS) if the loop "
                    "is meant to go on."
                ),
                node=None,
            )
            return None
        if run.interrupt_before and not self.resuming:
            paused_at = [n for n in batch if n in run.interrupt_before]
            if paused_at:
                self.stop(RunStatus.PAUSED)
                return None
        self.resuming = False
        self.log_start = len(run.logs)
        return batch

    def commit(self, batch: list[str], results: list[_NodeResult]) -> None:
        """Merge the step's updates, choose the next nodes, checkpoint, emit."""
        run = self.run
        state = run.state
        for name, _update, error in results:
            if error is not None:
                if isinstance(error, _Cancelled):
                    self.stop(RunStatus.CANCELLED)
                else:
                    self.fail(error, node=name)
                return
        step = run.step + 1
        try:
            if len(results) == 1:
                merged = _filtered(results[0][1], state, self.reducers)
            else:
                merged = _merge_parallel(results, state, self.reducers)
        except WorkflowError as exc:
            self.fail(exc, node=batch[0] if len(batch) == 1 else None)
            return
        undo = {k: state.get(k, _MISSING) for k in merged} if self.checkpoint else None
        if merged:
            if self.reducers:
                _apply(state, merged, self.reducers, len(results) > 1, results)
            else:
                state.update(merged)
        try:
            next_nodes = self._route(batch, state)
        except Exception as exc:
            self._rollback(undo)
            self.fail(exc, node=None)
            return
        previous = (run.step, run.next_nodes, len(run.visited_nodes))
        run.visited_nodes.extend(batch)
        run.step = step
        run.next_nodes = next_nodes
        if self.checkpoint is not None:
            try:
                self.checkpoint(run, merged, run.logs[self.log_start :])
            except Exception as exc:
                run.step, run.next_nodes = previous[0], previous[1]
                del run.visited_nodes[previous[2] :]
                self._rollback(undo)
                self.fail(exc, node=None, where="checkpoint")
                return
        if self.emit is not None:
            self.event(EventType.STEP_FINISHED, None, update=merged, next_nodes=next_nodes)

    def _rollback(self, undo: dict[str, Any] | None) -> None:
        if undo is None:
            return
        state = self.run.state
        for key, value in undo.items():
            if value is _MISSING:
                state.pop(key, None)
            else:
                state[key] = value

    def _route(self, batch: list[str], state: Mapping[str, Any]) -> list[str]:
        graph = self.graph
        if len(batch) == 1 and not self.joins:
            targets = graph.get_next_nodes(batch[0], state)
            if len(targets) == 1:
                return [] if targets[0] == END else targets
        else:
            targets = []
            for name in batch:
                targets.extend(graph.get_next_nodes(name, state))
            for key, edge in self.joins:
                done = [n for n in batch if n in edge.sources]
                if not done:
                    continue
                progress = self.run.join_progress.setdefault(key, [])
                progress.extend(n for n in done if n not in progress)
                if len(progress) == len(edge.sources):
                    del self.run.join_progress[key]
                    if edge.condition is None or edge.condition(state):
                        targets.append(edge.target)
        return list(dict.fromkeys(t for t in targets if t != END))

    def stop(self, status: RunStatus) -> None:
        self.run.status = status

    def fail(self, exc: BaseException, *, node: str | None, where: str | None = None) -> None:
        run = self.run
        run.status = RunStatus.FAILED
        extra: dict[str, Any] = {"node": node, "step": run.step + 1}
        if where:
            extra["where"] = where
        run.error = error_info(exc, **extra)

    def finish(self) -> None:
        run = self.run
        run.finished = time.time()
        if self.store is not None:
            try:
                self.store.save_run(run)
            except Exception as exc:  # the run's own record failed: say so on the run
                log.error("could not save run %s: %s", run.run_id, exc)
                if run.error is None:
                    run.status = RunStatus.FAILED
                    run.error = error_info(exc, node=None, step=run.step, where="save_run")
        if self.emit is not None:
            self.event(EventType.RUN_FINISHED, None, status=run.status.value, error=run.error)

    # -- node attempts -------------------------------------------------------------------

    def node_finished(self, node: Node, step: int, attempt: int, start: float, update: Any) -> None:
        duration = time.perf_counter() - start
        self.run.logs.append(
            LogEntry(
                node.name,
                step,
                attempt,
                self.wall0 + (start - self.perf0),
                duration * 1000.0,
                "completed",
            )
        )
        if self.emit is not None:
            self.event(
                EventType.NODE_FINISHED,
                node.name,
                attempt=attempt,
                duration_ms=duration * 1000.0,
                update=update,
            )

    def node_failed(
        self, node: Node, step: int, attempt: int, start: float, exc: BaseException
    ) -> float | None:
        """Log a failed attempt; returns the delay before the next attempt, or ``None``."""
        duration = time.perf_counter() - start
        retry = node.retry
        will_retry = retry is not None and retry.should_retry(exc, attempt)
        info = error_info(exc)
        self.run.logs.append(
            LogEntry(
                node.name,
                step,
                attempt,
                self.wall0 + (start - self.perf0),
                duration * 1000.0,
                "retrying" if will_retry else "failed",
                info,
                None if will_retry else dict(self.run.state),
            )
        )
        if self.emit is not None:
            self.event(
                EventType.NODE_FAILED,
                node.name,
                attempt=attempt,
                error=info,
                will_retry=will_retry,
                duration_ms=duration * 1000.0,
                exc=exc,
            )
        return retry.delay(attempt) if will_retry and retry is not None else None

    def event(
        self,
        kind: EventType,
        node: str | None,
        *,
        state: dict[str, Any] | None = None,
        exc: BaseException | None = None,
        **data: Any,
    ) -> None:
        assert self.emit is not None
        step = self.run.step + 1 if kind in _IN_STEP else self.run.step
        self.emit(self.run, Event(kind, self.run.run_id, step, node, data, state=state, exc=exc))


_IN_STEP = frozenset({EventType.NODE_STARTED, EventType.NODE_FINISHED, EventType.NODE_FAILED})


def _filtered(
    update: Mapping[str, Any] | None, state: Mapping[str, Any], reducers: Mapping[str, Any]
) -> dict[str, Any]:
    """The keys an update really changes: a node may return the whole state it was given."""
    if not update:
        return {}
    if not isinstance(update, Mapping):
        raise WorkflowError(
            f"a node must return a mapping of changed keys or None, got {type(update).__name__}"
        )
    return {k: v for k, v in update.items() if _changes(k, v, state.get(k, _MISSING), reducers)}


def _changes(key: str, value: Any, current: Any, reducers: Mapping[str, Any]) -> bool:
    """Whether ``value`` returned for ``key`` is an update: not the very object the node was
    given. For a reducer key only containers count as given back (the whole state returned);
    an equal number or string is a real update (``add`` of ``1``)."""
    return value is not current or (key in reducers and not isinstance(value, _CONTAINERS))


_CONTAINERS = (list, dict, set)


def _merge_parallel(
    results: list[_NodeResult], state: Mapping[str, Any], reducers: Mapping[str, Any]
) -> dict[str, Any]:
    """Check that the nodes of one step agree on every key without a reducer."""
    merged: dict[str, Any] = {}
    writers: dict[str, str] = {}
    for name, update, _error in results:
        try:
            changes = _filtered(update, state, reducers)
        except WorkflowError as exc:
            raise WorkflowError(f"node '{name}': {exc}") from None
        for key, value in changes.items():
            if key in reducers:
                merged.setdefault(key, None)
                continue
            if key in writers and merged[key] is not value and merged[key] != value:
                raise StateConflictError(
                    f"nodes '{writers[key]}' and '{name}' both wrote key '{key}' in the same "
                    f"step with different values; give '{key}' a reducer (e.g. append, extend, "
                    "merge, add) or let one node own it"
                )
            writers.setdefault(key, name)
            merged[key] = value
    return merged


def _apply(
    state: dict[str, Any],
    merged: dict[str, Any],
    reducers: Mapping[str, Any],
    parallel: bool,
    results: list[_NodeResult],
) -> None:
    """Merge through reducers; in a parallel step each node's value is reduced in node order."""
    for key, value in merged.items():
        reducer = reducers.get(key)
        if reducer is None:
            state[key] = value
        elif not parallel:
            state[key] = reducer(state.get(key, _MISSING), value)
        else:
            before = state.get(key, _MISSING)
            for _name, update, _error in results:
                if update and key in update and _changes(key, update[key], before, reducers):
                    state[key] = reducer(state.get(key, _MISSING), update[key])
    # the merged update records the reduced values, which is what a store checkpoints
    for key in merged:
        if key in reducers:
            merged[key] = state[key]
