"""One run being driven: plan a step, hand its node calls to the runner, merge, route.

:class:`Execution` is the driver of one run. It owns everything about the run's progress:
planning (cancel, step limit, interrupts), each node's attempts with their retries, the
lifecycle hooks and events, path checks, merging the updates, routing, checkpoints and run
limits. *Where* a node's function runs is the :class:`~wfengine.runner.NodeRunner`'s
business, behind one seam: the driver hands it a :class:`~wfengine.runner.NodeCall` and gets
back an :class:`~wfengine.runner.Outcome` (see ``docs/architecture.md``).

One loop serves every run: a single-node step is one call in the calling thread; the nodes
of a multi-node step are submitted together and their futures collected, retries included;
:meth:`Execution.adrive` is the same loop on an event loop.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import replace
from queue import Empty, SimpleQueue
from time import perf_counter
from typing import Any

from . import settings
from .budget import add_cost, exceeded
from .cache import cached
from .compose import Command, Router, Send, sends_of
from .errors import StepLimitError, WorkflowError
from .graph import END, Graph, Node
from .growth import growing_keys, step_update
from .interrupts import NodeInterrupt, answering, question_info
from .lifecycle import LifecycleDispatch
from .limits import RunLimits, StateMeter, StateTooLargeError
from .memory_history import RunHistory
from .paths import PathPolicy
from .progress import Sink, emitting
from .run import Event, EventType, LogEntry, RunStatus, WorkflowRun
from .runner import NodeCall, NodeRunner, Outcome, new
from .state import MISSING, StateView, apply_changes, changes, merge_parallel, merge_update
from .storage import CacheStore, PendingWritesStore, Store

log = logging.getLogger("wfengine.executor")

Emit = Callable[[WorkflowRun, Event], None]
"""Receives every event of a run, in order; must not raise (wrap observers that might)."""

NodeResult = tuple[str, Mapping[str, Any] | None, BaseException | None]
"""``(node name, update, error)`` of one node's call, all attempts done."""


class Cancelled(Exception):
    """A node's retries were abandoned because the run was cancelled."""


def error_info(exc: BaseException, **extra: Any) -> dict[str, Any]:
    """An exception as JSON data: ``type``, ``message``, ``traceback`` and ``extra`` fields."""
    notes = getattr(exc, "__notes__", None)
    message = str(exc)
    if notes:
        message = f"{message} ({'; '.join(str(n) for n in notes)})"
    return {
        "type": type(exc).__name__,
        "message": message,
        "traceback": "".join(traceback.format_exception(exc)),
        **extra,
    }


_RUNNING = RunStatus.RUNNING  # an enum member's lookup is not free, and plan() runs per step

_POLL = 0.05
"""Seconds between looks at the cancel flag while retries wait beside running nodes."""


class Execution:
    """The driver of one run: planning, attempts and retries, hooks, merging, routing,
    checkpoints and limits. Node calls go through ``runner``."""

    __slots__ = (
        "graph",
        "nodes",
        "base_nodes",
        "on_progress",
        "cost_lock",
        "seconds0",
        "routes",
        "run",
        "emit",
        "store",
        "runner",
        "checkpoint",
        "resuming",
        "wall0",
        "perf0",
        "reducers",
        "growing",
        "joins",
        "cancelled",
        "lean_ok",
        "log_start",
        "wants",
        "on_node_started",
        "on_node_finished",
        "on_step_finished",
        "hooks",
        "limits",
        "meter",
        "path_policy",
        "node_paths",
        "retries_left",
        "max_logs",
        "view",
        "goto",
        "sent",
        "pending",
        "restore",
        "restored",
        "recorder",
    )

    def __init__(
        self,
        graph: Graph,
        run: WorkflowRun,
        *,
        runner: NodeRunner,
        emit: Emit | None = None,
        store: Store | None = None,
        limits: RunLimits | None = None,
        path_policy: PathPolicy | None = None,
        node_paths: Mapping[str, tuple[str, ...]] | None = None,
        resuming: bool = False,
        lean: bool | None = None,
        pending: PendingWritesStore | None = None,
    ) -> None:
        self.graph = graph
        self.nodes = graph.nodes
        self.routes = graph._route_table()
        self.run = run
        self.emit = emit
        self.runner = runner
        wants = () if emit is None else getattr(emit, "wants", tuple(EventType))
        self.wants = frozenset(wants)
        self.on_node_started = EventType.NODE_STARTED in self.wants
        self.on_node_finished = EventType.NODE_FINISHED in self.wants
        self.on_step_finished = EventType.STEP_FINISHED in self.wants
        self.on_progress = EventType.NODE_PROGRESS in self.wants
        self.base_nodes = self.nodes
        self.cost_lock = threading.Lock()
        self.seconds0 = 0.0  # seconds spent driving the run before this drive (budgets)
        """The nodes as called when no answer is due (with their ``emit()`` sink, when some
        consumer wants ``node_progress``)."""
        # lifecycle hooks alone are called directly, without building events
        self.hooks = emit if isinstance(emit, LifecycleDispatch) else None
        self.store = store
        self.checkpoint = store.save_step if store is not None and store.durable else None
        self.recorder: RunHistory | None = None
        """Where the store wants the steps recorded (set in :meth:`begin`; see
        :meth:`~wfengine.storage.MemoryStore.step_recorder`)."""
        self.resuming = resuming
        self.wall0 = time.time()
        self.perf0 = perf_counter()
        self.reducers = graph.reducers
        self.growing = growing_keys(graph.reducers)
        self.joins = graph.join_edges()
        self.cancelled = run.cancel_probe()
        self.lean_ok = lean  # None: WFENGINE_LEAN_STEPS decides when asked
        self.log_start = len(run.logs)
        self.limits = limits = limits or RunLimits()
        self.meter: StateMeter | None = None  # set in begin(), from the state it starts with
        self.path_policy = path_policy
        self.node_paths = node_paths if path_policy is not None and node_paths else {}
        self.retries_left = limits.max_retries_per_run
        self.max_logs = limits.max_log_entries
        self.pending = pending
        """Where finished calls of a step that has not committed are kept (when the store
        can: the executor checks that once, not per drive)."""
        self.restore = False  # the first step of a resumed drive restores pending writes
        self.restored = False  # this step restored some
        self.goto: dict[str, list[str]] = {}
        """This step's node-chosen targets (:class:`~wfengine.compose.Command`), by node."""
        self.sent: dict[str, list[str]] = {}
        """This step's router dispatch nodes -> the nodes their copies ran (whose edges are
        the join; see :class:`~wfengine.compose.Router`)."""
        self.view = StateView()
        """The nodes' view of the state (set in :meth:`begin`); see :class:`StateView`."""

    # -- the loop ------------------------------------------------------------------------

    def drive(self) -> WorkflowRun:
        """Drive the run in this thread until it stops; returns it."""
        try:
            self.begin()
            lean = self.lean()  # after begin(): it sets the state meter
            while (batch := self.plan()) is not None:
                if len(batch) == 1:
                    if lean:
                        self.lean_steps(batch)
                    else:
                        self.commit(batch, self.directed([self.attempts(batch[0])]))
                else:
                    self.commit(batch, self.directed(self.attempts_parallel(batch)))
        except KeyboardInterrupt:
            self.stop(RunStatus.CANCELLED)
            self.finish()
            raise
        except BaseException as exc:  # a bug in a hook or store: never leave a run "running"
            self.fail(exc, node=None)
        self.finish()
        return self.run

    async def adrive(self) -> WorkflowRun:
        """Drive the run on the running event loop until it stops; returns it."""
        import asyncio  # not at the top: sync runs and `wf` never need it

        try:
            self.begin()
            while (batch := self.plan()) is not None:
                if len(batch) == 1:
                    results = [await self.aattempts(batch[0], shared=True)]
                else:
                    kept = self.kept()
                    calls = [
                        self.aattempts(name, shared=False, key=name, kept=kept) for name in batch
                    ]
                    results = list(await asyncio.gather(*calls))
                self.commit(batch, await self.adirected(results))
        except (KeyboardInterrupt, asyncio.CancelledError):
            self.stop(RunStatus.CANCELLED)
            self.finish()
            raise
        except BaseException as exc:
            self.fail(exc, node=None)
        self.finish()
        return self.run

    # -- planning ------------------------------------------------------------------------

    def begin(self) -> None:
        run = self.run
        run.status = RunStatus.RUNNING
        run.error = None
        run.finished = None
        self.view = StateView(run.state)
        run.questions = {}  # asked again by a node that gets no answer this time
        run.pause_reason = None
        self.seconds0 = run.spent.get("seconds", 0.0)
        # a runtime Protocol's isinstance() is slow: only for a graph with cached nodes
        if self.graph.has_cached_nodes() and isinstance(self.store, CacheStore):
            self.cache_nodes(self.store)
        if self.on_progress or "cost" in run.budget:
            self.progress_nodes()
        if run.answers:
            self.answer_nodes()
        cap = self.limits.max_state_bytes
        if cap is not None:
            self.meter = StateMeter(cap, run.state)
            if self.meter.total > cap:
                self.fail(
                    StateTooLargeError(
                        f"the run's state is about {self.meter.total:,} bytes, over this "
                        f"engine's limit of {cap:,} (max_state_bytes)"
                    ),
                    node=None,
                )
        if self.store is not None:
            self.store.save_run(run)
            recorder = getattr(self.store, "step_recorder", None)
            if recorder is not None:
                self.recorder = recorder(run)
        if self.hooks is not None:
            self.hooks.run_started(run)
        elif EventType.RUN_STARTED in self.wants:
            self.event(EventType.RUN_STARTED, None, resumed=self.resuming)

    def plan(self) -> list[str] | None:
        """The node set of the next step, or ``None`` when the run stops here."""
        run = self.run
        if run.status is not _RUNNING:
            return None
        stop_as = None
        if self.cancelled():
            stop_as = run.stop_status
            if stop_as is None:
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
        if run.budget:
            reason = exceeded(
                run.budget,
                run.step,
                self.seconds0 + perf_counter() - self.perf0,
                run.spent.get("cost", 0.0),
            )
            if reason is not None:
                run.pause_reason = reason
                self.stop(RunStatus.PAUSED)
                return None
        if run.interrupt_before and not self.resuming:
            paused_at = [n for n in batch if n in run.interrupt_before]
            if paused_at:
                self.stop(RunStatus.PAUSED)
                return None
        if stop_as is not None:  # stop_after_step(): resumable from here
            self.stop(stop_as)
            return None
        self.restore = self.resuming  # only this step may restore pending writes
        self.resuming = False
        self.log_start = len(run.logs)
        if run.answers:
            self.log_reentries(batch)
        return batch

    # -- questions from inside nodes (see wfengine.interrupts) ---------------------------

    def answer_nodes(self) -> None:
        """Give the nodes with answers (``run.answers``) a function that hands them over."""
        nodes = dict(self.base_nodes)
        for name, given in self.run.answers.items():
            node = nodes.get(name)
            if node is not None:
                nodes[name] = replace(node, func=answering(node.func, given))
        self.nodes = nodes

    def log_reentries(self, batch: list[str]) -> None:
        """Log that the answered nodes of ``batch`` run again from their start."""
        run = self.run
        for name in batch:
            if name in run.answers:
                log.warning(
                    "run %s: node %s re-entered after answer (code before interrupt() runs again)",
                    run.run_id,
                    name,
                )
                run.logs.append(
                    LogEntry(name, run.step + 1, 1, time.time(), 0.0, "re-entered after answer")
                )

    def asked(self, questions: dict[str, NodeInterrupt]) -> None:
        """Pause the run with the questions its nodes asked (the step is not committed)."""
        self.run.questions = {name: question_info(exc) for name, exc in questions.items()}
        self.stop(RunStatus.PAUSED)

    def answered(self, batch: list[str]) -> None:
        """Forget the answers of the nodes of a committed step (they completed)."""
        run = self.run
        for name in batch:
            if run.answers.pop(name, None) is not None:
                self.nodes[name] = self.base_nodes[name]

    # -- live output from inside nodes (see wfengine.progress) ---------------------------

    def progress_nodes(self) -> None:
        """Give every node a function that sends its ``emit()`` calls to the consumers."""
        self.nodes = self.base_nodes = {
            name: replace(node, func=emitting(node.func, self.sink(name)))
            for name, node in self.base_nodes.items()
        }

    # -- cached nodes (see wfengine.cache) -----------------------------------------------

    def cache_nodes(self, store: CacheStore) -> None:
        """Give every node with a cache policy a function that looks up ``store`` first."""
        nodes = dict(self.base_nodes)
        for name, node in nodes.items():
            if node.cache is not None:
                func = cached(node, node.cache, store, self.run.graph_id, self.cache_record)
                nodes[name] = replace(node, func=func)
        self.nodes = self.base_nodes = nodes

    def cache_record(self, info: dict[str, Any]) -> None:
        """Keep one cache lookup on the run, log it, and tell ``node_progress`` consumers."""
        run = self.run
        info["step"] = run.step + 1
        run.cache_log.append(info)
        log.info("run %s: node %s: %s", run.run_id, info["node"], info["reason"])
        if self.on_progress:
            self.progress(info["node"], "cache", dict(info))

    def sink(self, name: str) -> Sink:
        """Where node ``name``'s ``emit(kind, data)`` calls go (from the node's thread)."""

        def progress(kind: str, data: Any) -> None:
            self.progress(name, kind, data)

        return progress

    def progress(self, name: str, kind: str, data: Any) -> None:
        """Tell the observers what node ``name`` emitted (a remote backend's driver side
        calls this for each item a worker collected)."""
        if kind == "cost":
            with self.cost_lock:
                add_cost(self.run.spent, data, name)
        if not self.on_progress:
            return
        if self.hooks is not None:
            self.hooks.node_progress(self.run, name, kind, data)
        else:
            self.event(EventType.NODE_PROGRESS, name, kind=kind, data=data)

    # -- node attempts: the driver's side of the seam ------------------------------------

    def attempts(self, name: str, first: tuple[float, Outcome] | None = None) -> NodeResult:
        """Every attempt of node ``name`` (retries included), each one handed to the runner's
        :meth:`~wfengine.runner.NodeRunner.call`; ``first``: the start and outcome of a first
        attempt already made (by :meth:`lean_steps`)."""
        node = self.nodes[name]
        run = self.run
        step = run.step + 1
        attempt = 1
        # a node with a timeout may outlive its call: it gets a view of its own
        view = self.view if node.timeout is None else StateView(run.state)
        while True:
            if first is not None:
                start, outcome = first
                first = None
            else:
                if self.on_node_started:
                    self.node_started(name, view, attempt)
                call = new(NodeCall, (run.run_id, step, node, attempt, view, node.timeout))
                start = perf_counter()
                refused = self._refused(call) if name in self.node_paths else None
                outcome = self.runner.call(call) if refused is None else refused
            update = outcome.update
            if update is view or view._layer:
                update = self._taken(update, view)
            if outcome.error is None:
                if self.on_node_finished:
                    self.node_finished(name, step, attempt, start, outcome.duration, update)
                else:  # what node_finished() logs, without the call
                    run.logs.append(
                        LogEntry(
                            name,
                            step,
                            attempt,
                            self.wall0 + (start - self.perf0),
                            outcome.duration * 1000.0,
                            "completed",
                        )
                    )
                return name, update, None
            delay = self.node_failed(node, step, attempt, start, outcome.duration, outcome.error)
            if delay is None:
                return name, None, outcome.error
            if run.wait_cancelled(delay):
                return name, None, Cancelled()
            attempt += 1

    def lean(self) -> bool:
        """Whether single-node steps may take :meth:`lean_steps`: nothing needs what only
        :meth:`commit` does (the state meter, joins, ``step_finished`` events, path checks),
        and ``WFENGINE_LEAN_STEPS`` does not turn it off (the test suite runs once each
        way)."""
        return (
            self.meter is None
            and not self.joins
            and not self.on_step_finished
            and not self.node_paths
            and not self.run.answers
            and not self.run.interrupt_after
            and (settings.lean_steps() if self.lean_ok is None else self.lean_ok)
        )

    def lean_steps(self, batch: list[str]) -> None:
        """Run consecutive single-node steps from ``batch`` on, in one frame.

        The same planning (:meth:`plan`), node calls (the runner's ``call``), retries
        (:meth:`attempts`), merging (:func:`~wfengine.state.changes`,
        :func:`~wfengine.state.apply_changes`) and routing (:meth:`targets`) as the general
        loop, with :meth:`commit`'s checkpoint (a durable store's ``save_step``, undone when
        it fails) and without its meter and join bookkeeping, which :meth:`lean` has ruled
        out. Returns at a multi-node step or when the run stops.
        """
        run = self.run
        state = run.state
        view = self.view
        nodes = self.nodes
        reducers = self.reducers
        routes = self.routes
        goto = self.goto  # a Command's choice (one dict, kept): the general targets()
        logs = run.logs
        visited = run.visited_nodes
        call_node = self.runner.call
        inline = getattr(self.runner, "inline_sync", False)
        wall = self.wall0 - self.perf0
        on_started = self.on_node_started
        on_finished = self.on_node_finished
        max_logs = self.max_logs
        recorder = self.recorder
        checkpoint = self.checkpoint
        growing = self.growing if recorder is not None or checkpoint is not None else None
        undo: dict[str, Any] | None = None  # a checkpoint's: what the step replaced
        if recorder is not None:  # a step's columns (see RunHistory), appended in this order
            record_node = recorder.nodes.append
            record_update = recorder.updates.append
            record_next = recorder.nexts.append
        cancelled = self.cancelled
        limit = run.max_steps or settings.max_steps()
        quick = not run.budget and not run.interrupt_before and not run.answers
        while True:
            name = batch[0]
            node = nodes[name]
            step = run.step + 1
            if node.timeout is not None:  # its own view: the general attempts()
                result = self.attempts(name)
                update = result[1]
                if result[2] is not None or (update is not None and type(update) is not dict):
                    self.commit(batch, self.directed([result]))  # an error, a Command, Sends
                    return
            else:
                if on_started:
                    self.node_started(name, view, 1)
                start = perf_counter()
                error: BaseException | None
                if inline and not node.is_async:
                    # the runner declared its call of a sync node in this thread to be just
                    # func(state): make it here, without building the call and the outcome
                    try:
                        update = node.func(view)
                        error = None
                    except Exception as exc:
                        update, error = None, exc
                    duration = perf_counter() - start
                else:
                    outcome = call_node(new(NodeCall, (run.run_id, step, node, 1, view, None)))
                    update, error, duration = outcome.update, outcome.error, outcome.duration
                if error is not None:
                    result = self.attempts(
                        name, (start, new(Outcome, (None, error, duration, "caller")))
                    )
                    self.commit(batch, self.directed([result]))  # failed, or a later attempt
                    return
                if update is view or view._layer:
                    update = self._taken(update, view)
                if on_finished:
                    self.node_finished(name, step, 1, start, duration, update)
                else:
                    logs.append(
                        LogEntry(name, step, 1, wall + start, duration * 1000.0, "completed")
                    )
                if update is not None and type(update) is not dict:  # a Command, Sends
                    self.commit(batch, self.directed([(name, update, None)]))
                    return
            merged = None
            if update:
                if checkpoint is not None:  # to undo the step if it cannot be stored
                    undo = before = {k: state.get(k, MISSING) for k in update}
                elif growing:  # what they held before: the record keeps only what they gained
                    before = {k: state.get(k, MISSING) for k in update if k in growing}
                try:
                    merged = merge_update(state, update, reducers, view)
                except WorkflowError as exc:
                    self.fail(exc, node=name)
                    return
            route = routes.get(name)
            if route is not None and route.fixed is not None and not goto:
                hop: Sequence[str] = route.fixed  # what targets() gives, without the call
                next_nodes = list(hop)
            else:
                try:
                    next_nodes = self.targets(name, state, last=True)
                except Exception as exc:
                    if checkpoint is not None and merged:
                        self._rollback(undo)
                    self.fail(exc, node=None)
                    return
                hop = next_nodes
            visited.append(name)
            run.step = step
            previous = run.next_nodes
            run.next_nodes = next_nodes
            if checkpoint is not None:
                saved = merged or {}
                if growing and merged:
                    saved = step_update(merged, before, growing)
                try:
                    checkpoint(run, saved, logs[self.log_start :])
                except Exception as exc:
                    run.step, run.next_nodes = step - 1, previous
                    del visited[-1]
                    if merged:
                        self._rollback(undo)
                    self.fail(exc, node=None, where="checkpoint")
                    return
            if recorder is not None:
                if growing and merged:
                    recorder.add_grown(step, name, merged, before, growing, hop)
                else:
                    record_node(name)
                    record_update(merged)
                    record_next(hop)
            if len(logs) > max_logs:
                self.trim_logs()
            if len(next_nodes) != 1:
                return
            if quick and step < limit and not cancelled():
                # what plan() does when no budget, pause point or limit is in the way
                self.restore = False
                self.log_start = len(logs)
                batch = next_nodes
                continue
            planned = self.plan()
            if planned is None:
                return
            batch = planned

    def attempts_parallel(self, batch: list[str]) -> list[NodeResult]:
        """The attempts of a multi-node step: every call submitted to the runner at once, each
        node retried on its own schedule; results in node order."""
        return self.attempts_many([(name, None, name) for name in batch], None)

    def attempts_many(
        self, tasks: list[tuple[str, Mapping[str, Any] | None, str]], max_parallel: int | None
    ) -> list[NodeResult]:
        """The attempts of several node calls side by side: ``tasks`` are ``(node, overlay,
        key)`` (a :class:`~wfengine.compose.Send` copy sees the state overlaid with its item;
        ``key`` names the call among the step's pending writes: each finished call's update
        is kept in a :class:`~wfengine.storage.PendingWritesStore`, and the first step of a
        resumed drive restores those instead of calling again), at most
        ``max_parallel`` in flight (``None``: as many as the runner's workers), each retried
        on its own schedule; every call finishes before this returns; results in task
        order. No thread per task: a bounded window of futures, topped up as they finish."""
        run = self.run
        step = run.step + 1
        results: list[NodeResult | None] = [None] * len(tasks)
        running: dict[Future[Outcome], tuple[int, Node, int, StateView, float]] = {}
        retries: list[tuple[float, int, int]] = []  # (when, task index, attempt)
        nodes = self.nodes
        state = run.state
        submit_call = self.runner.submit
        on_started = self.on_node_started
        paths = self.node_paths
        if max_parallel is None:  # as many as the runner has workers, not one per task
            max_parallel = getattr(self.runner, "max_workers", None) or 16
        cap = max_parallel
        pending = self.pending
        kept = self.kept()
        if kept:
            for index, (name, _overlay, key) in enumerate(tasks):
                if key in kept:
                    results[index] = (name, kept[key], None)
                    self.restored = True
        # tasks not yet started, in order
        waiting = iter([i for i, r in enumerate(results) if r is None])
        finished: SimpleQueue[Future[Outcome]] = SimpleQueue()  # futures, as they complete

        def submit(index: int, attempt: int) -> None:
            name, overlay, _key = tasks[index]
            node = nodes[name]
            view = StateView(state)  # calls of one step run side by side: one view each
            if overlay:
                dict.update(view, overlay)
            if on_started:
                self.node_started(name, view, attempt)
            call = new(NodeCall, (run.run_id, step, node, attempt, view, node.timeout))
            start = perf_counter()
            refused = self._refused(call) if name in paths else None
            if refused is None:
                future = submit_call(call)
            else:
                future = Future()
                future.set_result(refused)
            running[future] = (index, node, attempt, view, start)
            future.add_done_callback(finished.put)

        def top_up() -> None:
            while len(running) + len(retries) < cap:
                index = next(waiting, None)
                if index is None or run.cancel_requested:
                    return
                submit(index, 1)

        top_up()
        while running or retries:
            now = perf_counter()
            if running:
                timeout = (
                    max(0.0, min(min(r[0] for r in retries) - now, _POLL)) if retries else None
                )
                try:
                    done = [finished.get(timeout=timeout)]
                except Empty:
                    done = []
                while not finished.empty():
                    done.append(finished.get_nowait())
                kept_now: dict[str, Any] = {}  # saved together: one store write per wakeup
                for future in done:
                    index, node, attempt, view, start = running.pop(future)
                    outcome = future.result()
                    update = self._taken(outcome.update, view)
                    if outcome.error is None:
                        self.node_finished(
                            node.name, step, attempt, start, outcome.duration, update
                        )
                        results[index] = (node.name, update, None)
                        kept_now[tasks[index][2]] = update
                        continue
                    delay = self.node_failed(
                        node, step, attempt, start, outcome.duration, outcome.error
                    )
                    if delay is None:
                        results[index] = (node.name, None, outcome.error)
                    else:
                        retries.append((perf_counter() + delay, index, attempt + 1))
                if pending is not None and kept_now:
                    self.keep(pending, step, kept_now)
            else:  # only retries wait: sleep until the first is due, or the run is cancelled
                run.wait_cancelled(max(0.0, min(r[0] for r in retries) - now))
            if retries:
                now = perf_counter()
                cancelled = run.cancel_requested
                for item in [r for r in retries if cancelled or r[0] <= now]:
                    retries.remove(item)
                    if cancelled:
                        results[item[1]] = (tasks[item[1]][0], None, Cancelled())
                    else:
                        submit(item[1], item[2])
            top_up()
        return [
            r if r is not None else (tasks[i][0], None, Cancelled()) for i, r in enumerate(results)
        ]

    def kept(self) -> dict[str, Any]:
        """The pending writes of this step, when it is the first step of a resumed drive."""
        if self.pending is None or not self.restore:
            return {}
        return self.pending.get_pending_writes(self.run.run_id, self.run.step + 1)

    def keep(self, pending: PendingWritesStore, step: int, writes: Mapping[str, Any]) -> None:
        """Save finished calls' updates as pending writes; a store that cannot keep them
        only costs those calls running again on resume."""
        try:
            pending.save_pending_writes(self.run.run_id, step, writes)
        except Exception as exc:
            log.warning("could not keep %s (step %d): %s", ", ".join(writes), step, exc)

    # -- what a node may return besides an update: Command and Send ----------------------

    def directed(self, results: list[NodeResult]) -> list[NodeResult]:
        """``results`` with every :class:`~wfengine.compose.Command` and list of
        :class:`~wfengine.compose.Send` taken apart: a command's targets go to
        :attr:`goto`, its update stays; the sends' copies run now (:meth:`attempts_many`)
        and their results follow their sender's."""
        out: list[NodeResult] = []
        for result, sends in self._taken_apart(results):
            out.append(result)
            if sends:
                name = result[0]
                tasks = [(s.node, s.item, _copy_key(name, i, s)) for i, s in enumerate(sends)]
                out.extend(self.attempts_many(tasks, self.nodes[name].max_parallel))
        return out

    def _taken_apart(
        self, results: list[NodeResult]
    ) -> Iterator[tuple[NodeResult, list[Any] | None]]:
        """Each result with a Command or sends taken apart (:meth:`_direction`): the result
        to keep, and the sends whose copies follow it (``None``: none)."""
        for result in results:
            name, update, error = result
            if error is not None or update is None or type(update) is dict:
                yield result, None
                continue
            try:
                update, sends = self._direction(name, update)
            except WorkflowError as exc:
                yield (name, None, exc), None
                continue
            yield (name, update, None), sends

    async def adirected(self, results: list[NodeResult]) -> list[NodeResult]:
        """:meth:`directed` on the event loop: the copies of async nodes are awaited, bounded
        by the sender's ``max_parallel``."""
        import asyncio

        out: list[NodeResult] = []
        for result, sends in self._taken_apart(results):
            out.append(result)
            if sends:
                name = result[0]
                limit = asyncio.Semaphore(self.nodes[name].max_parallel or len(sends))
                kept = self.kept()

                async def copy(
                    send: Any, key: str, limit: asyncio.Semaphore = limit, kept: Any = kept
                ) -> NodeResult:
                    async with limit:
                        return await self.aattempts(
                            send.node, shared=False, overlay=send.item, key=key, kept=kept
                        )

                out.extend(
                    await asyncio.gather(
                        *(copy(s, _copy_key(name, i, s)) for i, s in enumerate(sends))
                    )
                )
        return out

    def _direction(self, name: str, update: Any) -> tuple[Any, list[Any] | None]:
        """A node's :class:`~wfengine.compose.Command` or sends as ``(update, sends)``;
        records the command's targets; checks every target is among the node's routes (by
        the names its own graph knows them, inside a subgraph)."""
        node = self.nodes[name]
        sends = sends_of(update)
        if sends is not None:
            update = None
        elif isinstance(update, Command):
            names, sends = update.targets()
            if names is not None:
                goto = [self._route(node, target, "returned Command(goto=") for target in names]
                self.goto[name] = goto
                self.record_goto(name, goto)
            update = update.update
        else:
            return update, None  # not a directive: changes() says what is wrong with it
        route = self.routes.get(name)
        if route is not None and route.dispatch is not None and sends is not None:
            self.sent[name] = [
                self._route(node, target, "sent to Send(")
                for target in route.dispatch.sent_nodes(sends)
            ]
        if sends and node.route_map is not None:
            sends = [Send(self._route(node, s.node, "sent to Send("), s.item) for s in sends]
        else:
            for send in sends or ():
                self._route(node, send.node, "sent to Send(")
        for send in sends or ():
            target = self.nodes[send.node]
            if target.subgraph is not None or send.node != self.graph.resolve(send.node):
                raise WorkflowError(
                    f"node '{name}' sent to subgraph '{send.node}': map copies run single "
                    "nodes; map over a node that runs the subgraph's work instead"
                )
        return update, sends

    def record_goto(self, name: str, goto: list[str]) -> None:
        """Keep a Command's chosen next nodes on node ``name``'s completed log entry of this
        step (``LogEntry.goto``): replay re-routes by them."""
        logs = self.run.logs
        for index in range(len(logs) - 1, self.log_start - 1, -1):
            entry = logs[index]
            if entry.node == name and entry.status == "completed":
                entry.goto = list(goto)
                return

    def _route(self, node: Node, target: str, how: str) -> str:
        """The node path of ``target``, one of ``node``'s routes; a clear error otherwise."""
        graph = self.graph
        mapped = node.route_map
        if mapped is not None:
            found = mapped.get(target)
            if found is not None:
                return found
        elif target in node.routes:
            return graph.resolve(target)
        known = ", ".join(mapped or node.routes) or "none declared"
        local = node.name.rsplit("/", 1)[-1]
        raise WorkflowError(
            f"node '{node.name}' {how}{target!r}), which is not among its routes ({known}); "
            f"declare it: add_node('{local}', ..., routes=[...]) or spec 'routes:'"
        )

    async def aattempts(
        self,
        name: str,
        *,
        shared: bool,
        overlay: Mapping[str, Any] | None = None,
        key: str | None = None,
        kept: Mapping[str, Any] | None = None,
    ) -> NodeResult:
        """Every attempt of node ``name``, each awaited through the runner's
        :meth:`~wfengine.runner.NodeRunner.acall`; ``shared``: the only node of its step;
        ``key``: the call's name among the step's pending writes (``kept``: those restored)."""
        if key is not None and kept and key in kept:
            self.restored = True
            return name, kept[key], None
        node = self.nodes[name]
        run = self.run
        step = run.step + 1
        attempt = 1
        view = self.view if shared and node.timeout is None else StateView(run.state)
        if overlay:
            dict.update(view, overlay)
        while True:
            if self.on_node_started:
                self.node_started(name, view, attempt)
            call = new(NodeCall, (run.run_id, step, node, attempt, view, node.timeout))
            start = perf_counter()
            outcome = self._refused(call) if name in self.node_paths else None
            if outcome is None:
                outcome = await self.runner.acall(call)
            update = self._taken(outcome.update, view)
            if outcome.error is None:
                self.node_finished(name, step, attempt, start, outcome.duration, update)
                if key is not None and self.pending is not None:
                    self.keep(self.pending, step, {key: update})
                return name, update, None
            delay = self.node_failed(node, step, attempt, start, outcome.duration, outcome.error)
            if delay is None:
                return name, None, outcome.error
            if await _cancelled_within(run, delay):
                return name, None, Cancelled()
            attempt += 1

    def _refused(self, call: NodeCall) -> Outcome | None:
        """The failed outcome of a call whose declared paths lie outside the allowed roots
        (the runner never sees it), else ``None``."""
        try:
            self.check_paths(call.node, call.state)
        except Exception as exc:
            return new(Outcome, (None, exc, 0.0, "driver"))
        return None

    def check_paths(self, node: Node, state: Mapping[str, Any]) -> None:
        """Refuse a call of ``node`` whose declared path values lie outside the allowed roots."""
        policy = self.path_policy
        if policy is not None:
            policy.check(node.name, self.node_paths[node.name], state, node.params)

    @staticmethod
    def _taken(update: Any, view: StateView) -> Any:
        """The update to merge: what the node wrote when it returned its view; the node's
        writes to its view are then undone (the view is the committed state again)."""
        if view._layer:
            if update is view:
                update = view.written()
            elif type(update) is Command and update.update is view:  # Command(update=state)
                update = Command(update.goto, view.written())
            view.undo()
        elif update is view:
            return None
        return update

    # -- merging and routing -------------------------------------------------------------

    @classmethod
    def router(cls, graph: Graph, run: WorkflowRun) -> Execution:
        """An execution that only routes (:meth:`route`, :meth:`targets`) over ``run``'s
        ``join_progress``: for replaying a recorded run against a graph
        (:mod:`wfengine.replay`), with exactly the engine's routing."""
        self = cls.__new__(cls)
        self.graph = graph
        self.nodes = graph.nodes
        self.routes = graph._route_table()
        self.joins = graph.join_edges()
        self.run = run
        self.goto = {}  # a replay sets the recorded Command choices (LogEntry.goto)
        self.sent = {}
        return self

    def commit(self, batch: list[str], results: list[NodeResult]) -> None:
        """Merge the step's updates, choose the next nodes, checkpoint, emit."""
        run = self.run
        state = run.state
        reducers = self.reducers
        parallel = len(results) > 1
        self.restore = False
        questions: dict[str, NodeInterrupt] = {}
        for name, _update, error in results:
            if isinstance(error, NodeInterrupt):
                questions[name] = error
            elif error is not None:
                self.goto.clear()
                self.sent.clear()
                if isinstance(error, Cancelled):
                    self.stop(run.stop_status or RunStatus.CANCELLED)
                else:
                    self.fail(error, node=name)
                return
        if questions:
            self.goto.clear()
            self.sent.clear()
            self.asked(questions)
            return
        try:
            if parallel:
                updates = [(name, update) for name, update, _error in results]
                merged = merge_parallel(updates, state, reducers)
            else:
                merged = changes(results[0][1], state, reducers)
        except WorkflowError as exc:
            self.fail(exc, node=None if parallel else batch[0])
            return
        checkpoint = self.checkpoint
        meter = self.meter
        recorder = self.recorder
        undo = (
            {k: state.get(k, MISSING) for k in merged}
            if checkpoint is not None or meter is not None
            else None
        )
        growing = self.growing if checkpoint is not None or recorder is not None else None
        before = (
            undo
            if undo is not None or not growing
            else {k: state.get(k, MISSING) for k in merged if k in growing}
        )
        if merged:
            apply_changes(state, merged, reducers, updates if parallel else (), self.view)
            if meter is not None and (too_big := meter.update(state, merged)) is not None:
                self._rollback(undo)
                self.fail(too_big, node=None if parallel else batch[0])
                return
        try:
            if self.sent:  # a router's dispatch: the nodes its copies ran route on
                next_nodes = self.route(self.routing(batch), state)
            elif parallel or self.joins:
                next_nodes = self.route(batch, state)
            else:
                next_nodes = self.targets(batch[0], state, last=True)
        except Exception as exc:
            self._rollback(undo)
            self.fail(exc, node=None)
            return
        visited = run.visited_nodes
        previous = (run.step, run.next_nodes, len(visited))
        if len(results) == len(batch) and not self.restored:
            visited.extend(batch)
        else:  # map copies, or calls restored from pending writes: the calls made here
            visited.extend(e.node for e in run.logs[self.log_start :] if e.status == "completed")
            self.restored = False
        run.step += 1
        run.next_nodes = next_nodes
        saved = step_update(merged, before or {}, growing) if growing else merged
        if checkpoint is not None:
            try:
                checkpoint(run, saved, run.logs[self.log_start :])
            except Exception as exc:
                run.step, run.next_nodes = previous[0], previous[1]
                del visited[previous[2] :]
                self._rollback(undo)
                self.fail(exc, node=None, where="checkpoint")
                return
        if recorder is not None:
            nodes = visited[previous[2] :]
            recorder.add(run.step, nodes, saved, next_nodes, run.join_progress)
        if run.answers:
            self.answered(batch)
        if len(run.logs) > self.max_logs:
            self.trim_logs()
        if self.on_step_finished:
            self.event(EventType.STEP_FINISHED, None, update=merged, next_nodes=next_nodes)
        if next_nodes and run.interrupt_after and any(n in run.interrupt_after for n in batch):
            self.stop(RunStatus.PAUSED)

    def routing(self, batch: list[str]) -> list[str]:
        """``batch`` with each router dispatch node replaced by the nodes its copies ran
        (their edges are the join), as routing sees the step."""
        sent = self.sent
        nodes: list[str] = []
        for name in batch:
            nodes.extend(sent.pop(name, (name,)))
        sent.clear()
        return list(dict.fromkeys(nodes))

    def route(self, batch: list[str], state: Mapping[str, Any]) -> list[str]:
        """The next step's nodes after ``batch`` ran, given the merged ``state``."""
        if len(batch) == 1 and not self.joins:
            return self.targets(batch[0], state, last=True)
        targets: list[str] = []
        for name in batch:
            targets.extend(self.targets(name, state, last=False))
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

    def targets(self, name: str, state: Mapping[str, Any], *, last: bool) -> list[str]:
        """The targets of ``name``'s single-source edges (``last``: without ``END``, without
        repeats, as the next step's nodes)."""
        if self.goto and name in self.goto:  # a Command chose: its targets replace the edges
            chosen = self.goto.pop(name)
            return list(dict.fromkeys(t for t in chosen if t != END)) if last else chosen
        route = self.routes.get(name)
        if route is None:
            return []
        if last and route.fixed is not None:
            return list(route.fixed)
        targets = route.always
        if route.conditional:
            fired = False
            for edge in route.conditional:
                holds = edge.condition(state)  # type: ignore[misc]
                if holds:
                    if holds is not True and type(holds) is list and type(holds[0]) is Send:
                        raise _sends_from_condition(name, edge.target)
                    targets = [*targets, edge.target]
                    fired = True
            if not fired and route.default:
                targets = [*targets, *route.default]
        elif route.default:
            targets = [*targets, *route.default]
        if route.router is not None:
            targets = [*targets, *self.routed(route.router, state)]
        if not last:
            return targets
        if len(targets) == 1:
            target = targets[0]
            return [] if target == END else [target]
        return list(dict.fromkeys(t for t in targets if t != END))

    def routed(self, router: Router, state: Mapping[str, Any]) -> list[str]:
        """Where ``router`` sends the run from ``state``: the node paths it names, and its
        dispatch node when it returned sends (the copies run there, in the next step)."""
        names, sends = router.decide(state)
        dispatch = self.graph.nodes[router.dispatch]
        targets = [self._router_target(router, dispatch, name, "returned ") for name in names]
        if sends is not None:
            for send in sends:
                self._router_target(router, dispatch, send.node, "sent to Send(")
            targets.append(router.dispatch)
        return targets

    def _router_target(self, router: Router, dispatch: Node, target: str, how: str) -> str:
        """The node path of ``target``, one of ``router``'s declared targets; a clear error
        naming the node and the target otherwise."""
        mapped = dispatch.route_map
        if mapped is not None:
            found = mapped.get(target)
            if found is not None:
                return found
        elif target in router.targets:
            return self.graph.resolve(target)
        local = router.source.rsplit("/", 1)[-1]
        closing = ")" if how.endswith("(") else ""
        raise WorkflowError(
            f"router {router.name} of node '{router.source}' {how}{target!r}{closing}, which "
            f"is not among its targets ({', '.join(router.targets)}); declare it: "
            f"add_router('{local}', ..., targets=[...])"
        )

    def _rollback(self, undo: dict[str, Any] | None) -> None:
        if undo is None:
            return
        state = self.run.state
        for key, value in undo.items():
            if value is MISSING:
                state.pop(key, None)
            else:
                state[key] = value
        self.view.sync(state, undo)

    # -- status and log ------------------------------------------------------------------

    def trim_logs(self) -> None:
        """Drop the oldest log entries beyond ``max_log_entries`` (between steps only)."""
        run = self.run
        excess = len(run.logs) - self.max_logs
        if excess > 0:
            # drop a tenth more than needed, so a long run trims now and then, not every step
            excess = min(len(run.logs), excess + self.max_logs // 10)
            del run.logs[:excess]
            run.logs_dropped += excess
            self.log_start = len(run.logs)
            if self.recorder is not None:  # the history keeps as many steps as the log
                self.recorder.trim(run.step - self.max_logs, run.run_id)

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
        if run.budget:  # time paused does not count: only the drives add up
            run.spent["seconds"] = self.seconds0 + perf_counter() - self.perf0
        if self.store is not None:
            try:
                self.store.save_run(run)
            except Exception as exc:  # the run's own record failed: say so on the run
                log.error("could not save run %s: %s", run.run_id, exc)
                if run.error is None:
                    run.status = RunStatus.FAILED
                    run.error = error_info(exc, node=None, step=run.step, where="save_run")
        if self.hooks is not None:
            self.hooks.run_finished(run)
        elif EventType.RUN_FINISHED in self.wants:
            extra: dict[str, Any] = {}
            if run.questions:
                extra["questions"] = run.questions
            if run.pause_reason:
                extra["pause_reason"] = run.pause_reason
            self.event(
                EventType.RUN_FINISHED, None, status=run.status.value, error=run.error, **extra
            )

    # -- observers -----------------------------------------------------------------------

    def node_started(self, name: str, state: dict[str, Any], attempt: int) -> None:
        """Tell the observers a node attempt begins (call only when ``on_node_started``)."""
        if self.hooks is not None:
            self.hooks.node_started(self.run, name, state, attempt)
        else:  # an event is read later, maybe in another thread: it gets a snapshot
            self.event(EventType.NODE_STARTED, name, state=dict(state), attempt=attempt)

    def node_finished(
        self, name: str, step: int, attempt: int, start: float, duration: float, update: Any
    ) -> None:
        """Log a completed attempt and tell the observers (a :class:`Command`'s update, no
        update for sends: observers see mappings)."""
        self.run.logs.append(
            LogEntry(
                name,
                step,
                attempt,
                self.wall0 + (start - self.perf0),
                duration * 1000.0,
                "completed",
            )
        )
        if not self.on_node_finished:
            return
        if update is not None and type(update) is not dict:
            update = update.update if isinstance(update, Command) else _mapping_or_none(update)
        if self.hooks is not None:
            self.hooks.node_finished(self.run, name, update, duration, attempt)
        else:
            self.event(
                EventType.NODE_FINISHED,
                name,
                attempt=attempt,
                duration_ms=duration * 1000.0,
                update=update,
            )

    def node_failed(
        self,
        node: Node,
        step: int,
        attempt: int,
        start: float,
        duration: float,
        exc: BaseException,
    ) -> float | None:
        """Log a failed attempt; returns the delay before the next attempt, or ``None``."""
        if isinstance(exc, NodeInterrupt):  # a question, not a failure: never retried
            self.run.logs.append(
                LogEntry(
                    node.name,
                    step,
                    attempt,
                    self.wall0 + (start - self.perf0),
                    duration * 1000.0,
                    "interrupted",
                    {
                        "type": "NodeInterrupt",
                        "message": f"asked a question: {exc.value!r}",
                        "question": question_info(exc),
                    },
                )
            )
            return None
        retry = node.retry
        will_retry = retry is not None and retry.should_retry(exc, attempt)
        if will_retry:
            if self.retries_left <= 0:
                will_retry = False
                exc.add_note(
                    "not retried: this run's retry budget of "
                    f"{self.limits.max_retries_per_run} attempts (max_retries_per_run) "
                    "is spent"
                )
            else:
                self.retries_left -= 1
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
        if self.hooks is not None:
            self.hooks.node_failed(self.run, node.name, exc, attempt, will_retry)
        elif EventType.NODE_FAILED in self.wants:
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
        etype: EventType,
        /,
        node: str | None,
        *,
        state: dict[str, Any] | None = None,
        exc: BaseException | None = None,
        **data: Any,
    ) -> None:
        assert self.emit is not None
        step = self.run.step if node is None else self.run.step + 1  # node events: in-step
        self.emit(self.run, Event(etype, self.run.run_id, step, node, data, state=state, exc=exc))


def _sends_from_condition(name: str, target: str) -> WorkflowError:
    """The error for an edge condition that returned sends (a condition holds or not)."""
    return WorkflowError(
        f"the condition of edge {name} -> {target} returned Send objects; an edge condition "
        f"says only whether the edge fires. Route with sends by a router: "
        f"add_router('{name.rsplit('/', 1)[-1]}', func, targets=[...])"
    )


def _mapping_or_none(update: Any) -> Any:
    """What observers see of an update that is not a dict: a mapping as it is, else ``None``
    (a list of sends)."""
    return update if isinstance(update, Mapping) else None


async def _cancelled_within(run: WorkflowRun, delay: float) -> bool:
    """Sleep ``delay`` seconds (a retry's backoff), waking early when ``run`` is cancelled;
    returns whether it was."""
    import asyncio

    deadline = perf_counter() + delay
    while not run.cancel_requested:
        remaining = deadline - perf_counter()
        if remaining <= 0:
            return False
        await asyncio.sleep(min(remaining, _POLL))
    return True


def _copy_key(sender: str, index: int, send: Any) -> str:
    """The task of a :class:`~wfengine.compose.Send` copy (its pending write's key):
    ``sender[index]>node``."""
    return f"{sender}[{index}]>{send.node}"
