"""The executor: runs a graph step by step over a state dict.

A step runs the active node set; one node in a linear graph, several after a fan-out (sync
nodes on a thread pool, async ones on the event loop). Updates merge at the end of the step
in node order through each key's reducer; then every node's outgoing edges choose the next
active set. See DESIGN.md, "Execution model", and ``docs/architecture.md``.

Layers, each importing only the ones below it:

* :class:`WorkflowExecutor` (here): one graph's public drivers, ``run`` / ``arun`` /
  ``stream`` / ``resume`` / ``cancel``, and the runner its runs share;
* :class:`~wfengine.execution.Execution` (``execution.py``): one run's loop, planning,
  attempts and retries, hooks, merging, routing, checkpoints, limits;
* :class:`~wfengine.runner.NodeRunner` (``runner.py``): the seam where a node call runs
  (threads and asyncio today);
* :mod:`wfengine.state`: reducers, merging, the nodes' copy-on-write view of the state.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from . import settings
from .budget import check_budget
from .errors import WorkflowError
from .execution import Emit, Execution, error_info
from .graph import Graph
from .interrupts import NO_ANSWER, apply_answer
from .limits import RunLimits
from .paths import PathPolicy
from .registry import ToolRegistry
from .run import Event, RunStatus, WorkflowRun
from .runner import NodeRunner, ThreadRunner
from .storage import PendingWritesStore, Store
from .versions import GraphVersion

__all__ = ["Emit", "WorkflowExecutor", "error_info"]

log = logging.getLogger("wfengine.executor")

_T = TypeVar("_T")


class WorkflowExecutor:
    """Runs one graph; safe to use for many runs at once from many threads.

    ``emit`` receives every event (the engine turns them into lifecycle hook calls);
    ``store`` keeps the run (a durable store gets a checkpoint after every step); ``runner``
    runs the node calls (a :class:`~wfengine.runner.ThreadRunner` on ``pool`` by default).
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
        limits: RunLimits | None = None,
        path_policy: PathPolicy | None = None,
        tools: ToolRegistry | None = None,
        runner: NodeRunner | None = None,
    ) -> None:
        self.graph = graph
        self.warnings = graph.validate()
        self.graph_id = graph_id or graph.name
        self.emit = emit
        self.store = store
        self.pending_store = store if isinstance(store, PendingWritesStore) else None
        """The store, when it keeps pending writes (checked once: a protocol check is slow)."""
        self.runner: NodeRunner = runner or ThreadRunner(
            max_workers or settings.max_workers(), pool
        )
        self.limits = limits or RunLimits()
        self.path_policy = path_policy
        self.version: GraphVersion | None = None
        """The graph's version, set by the engine that built this executor."""
        self.lean = settings.lean_steps()
        """Whether single-node steps may take the lean path (``WFENGINE_LEAN_STEPS``, read
        once per executor)."""
        self.node_paths: dict[str, tuple[str, ...]] = {}
        """Node name -> the path keys its tool declared, when paths are confined."""
        if path_policy is not None and tools is not None:
            for node in graph.nodes.values():
                keys = tools.paths(node.tool) if node.tool else ()
                if keys:
                    self.node_paths[node.name] = keys

    # -- public API ----------------------------------------------------------------------

    def new_run(
        self,
        initial_state: Mapping[str, Any] | None = None,
        *,
        max_steps: int | None = None,
        interrupt_before: Sequence[str] = (),
        interrupt_after: Sequence[str] = (),
        run_id: str | None = None,
        budget: Mapping[str, float] | None = None,
    ) -> WorkflowRun:
        """A pending run at the entry point (not started); pass it to :meth:`run_existing`."""
        for option, names in (
            ("interrupt_before", interrupt_before),
            ("interrupt_after", interrupt_after),
        ):
            unknown = [n for n in names if n not in self.graph.nodes]
            if unknown:
                raise WorkflowError(
                    f"{option} names unknown node(s): {', '.join(unknown)} (the graph's nodes: "
                    f"{', '.join(self.graph.nodes)})"
                )
        _check_max_steps(max_steps)
        run = WorkflowRun(
            graph_id=self.graph_id,
            state=dict(initial_state or {}),
            max_steps=max_steps or self.graph.max_steps or settings.max_steps(),
            # a subgraph's name pauses before its first node (after: its exit node, named
            # as the subgraph)
            interrupt_before=[
                self.graph.resolve(n) for n in _union(self.graph.interrupt_before, interrupt_before)
            ],
            interrupt_after=_union(self.graph.interrupt_after, interrupt_after),
            budget={**self.graph.budget, **check_budget(budget)},
            next_nodes=[self.graph.resolve(self.graph.entry_point)]
            if self.graph.entry_point
            else [],
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
        interrupt_after: Sequence[str] = (),
    ) -> WorkflowRun:
        """Run the graph to completion (or pause, failure, cancellation); returns the run."""
        run = self.new_run(
            initial_state,
            max_steps=max_steps,
            interrupt_before=interrupt_before,
            interrupt_after=interrupt_after,
        )
        return self.run_existing(run)

    async def arun(
        self,
        initial_state: Mapping[str, Any] | None = None,
        *,
        max_steps: int | None = None,
        interrupt_before: Sequence[str] = (),
        interrupt_after: Sequence[str] = (),
    ) -> WorkflowRun:
        """Like :meth:`run`, on the running event loop (sync nodes go to threads)."""
        run = self.new_run(
            initial_state,
            max_steps=max_steps,
            interrupt_before=interrupt_before,
            interrupt_after=interrupt_after,
        )
        return await self.arun_existing(run)

    def resume(
        self,
        run: WorkflowRun,
        state_patch: Mapping[str, Any] | None = None,
        *,
        max_steps: int | None = None,
        answer: Any = NO_ANSWER,
    ) -> WorkflowRun:
        """Continue a paused, failed, cancelled or interrupted run from the step it stopped at.

        ``state_patch`` is merged into the state first (replacing keys, no reducers), so a person
        can correct the state before the failed or paused step runs again. ``answer`` answers
        the run's pending ``interrupt()`` question(s) (see :mod:`wfengine.interrupts`).
        """
        self._prepare_resume(run, state_patch, max_steps, answer)
        return self.run_existing(run, resuming=True)

    async def aresume(
        self,
        run: WorkflowRun,
        state_patch: Mapping[str, Any] | None = None,
        *,
        max_steps: int | None = None,
        answer: Any = NO_ANSWER,
    ) -> WorkflowRun:
        """Async :meth:`resume`."""
        self._prepare_resume(run, state_patch, max_steps, answer)
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
        resuming: bool | None = None,
    ) -> Iterator[Event]:
        """Run in a worker thread and yield its events as they happen.

        Closing the iterator early cancels the run before its next step. ``resuming``: the
        run continues a stopped one (``None``: when its status is not ``pending``).
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
            args=(run, emit, events, resuming),
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
        resuming: bool = False,
    ) -> AsyncIterator[Event]:
        """Run on the event loop and yield its events as they happen (``resuming``: as
        for :meth:`stream`)."""
        import asyncio  # not at the top: sync runs and `wf` never need it

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
                await self.arun_existing(run, resuming=resuming, emit=emit)
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

    def execution(
        self, run: WorkflowRun, *, resuming: bool = False, emit: Emit | None = None
    ) -> Execution:
        """The driver of one drive of ``run`` (new or prepared for resumption)."""
        return Execution(
            self.graph,
            run,
            runner=self.runner,
            emit=emit if emit is not None else self.emit,
            store=self.store,
            limits=self.limits,
            path_policy=self.path_policy,
            node_paths=self.node_paths,
            resuming=resuming,
            lean=self.lean,
            pending=self.pending_store,
        )

    def run_existing(
        self, run: WorkflowRun, *, resuming: bool = False, emit: Emit | None = None
    ) -> WorkflowRun:
        """Drive ``run`` (new or prepared for resumption) in this thread until it stops."""
        if self.graph.has_async_nodes():
            return _run_coroutine(self.arun_existing(run, resuming=resuming, emit=emit))
        return self.execution(run, resuming=resuming, emit=emit).drive()

    async def arun_existing(
        self, run: WorkflowRun, *, resuming: bool = False, emit: Emit | None = None
    ) -> WorkflowRun:
        """Drive ``run`` on the running event loop until it stops."""
        return await self.execution(run, resuming=resuming, emit=emit).adrive()

    def _run_quietly(
        self, run: WorkflowRun, emit: Emit, events: Any, resuming: bool | None = None
    ) -> None:
        if resuming is None:
            resuming = run.status != RunStatus.PENDING
        try:
            self.run_existing(run, resuming=resuming, emit=emit)
        except BaseException:  # already recorded on the run
            log.exception("run %s stopped with an error", run.run_id)
        finally:
            events.put(None)

    def _prepare_resume(
        self,
        run: WorkflowRun,
        state_patch: Mapping[str, Any] | None,
        max_steps: int | None,
        answer: Any = NO_ANSWER,
        budget: Mapping[str, float] | None = None,
    ) -> None:
        if not run.status.is_resumable:
            raise WorkflowError(f"run {run.run_id} is already completed; nothing to resume")
        if budget:
            run.budget.update(check_budget(budget))
        if answer is not NO_ANSWER:
            apply_answer(run.questions, run.answers, answer, run.run_id)
        if state_patch:
            run.state.update(state_patch)
            # history tells these writes from the nodes' (wf runs blame)
            run.patches.append({"step": run.step, "keys": list(state_patch)})
        if max_steps is not None:
            _check_max_steps(max_steps)
            run.max_steps = max_steps
        run.clear_cancel()


def _union(graphs: Sequence[str], runs: Sequence[str]) -> list[str]:
    """The graph's pause points and the run's own, each once, in order."""
    return list(dict.fromkeys([*graphs, *runs]))


def _check_max_steps(max_steps: int | None) -> None:
    """Refuse a step limit below 1 or beyond what any store can keep."""
    if max_steps is None:
        return
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise WorkflowError(f"max_steps must be an integer >= 1, got {max_steps!r}")
    if max_steps > settings.MAX_STEPS_CEILING:
        raise WorkflowError(
            f"max_steps must be at most {settings.MAX_STEPS_CEILING}, got {max_steps}"
        )


def _run_coroutine(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run ``coro`` to completion from sync code, even inside a running event loop."""
    import asyncio  # not at the top: sync runs and `wf` never need it

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
