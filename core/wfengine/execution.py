"""One run being driven: planning steps, merging updates, routing, status, events.

:class:`Execution` holds everything about a run's progress that does not depend on *how*
node calls are made (that is :mod:`wfengine.calls`), so a step's calls can later be handed to
another backend while routing and merging stay here (DESIGN.md, "Scale-out").
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from . import settings
from .errors import StateConflictError, StepLimitError, WorkflowError
from .graph import END, Node
from .lifecycle import LifecycleDispatch
from .limits import StateMeter, StateTooLargeError
from .run import Event, EventType, LogEntry, RunStatus, WorkflowRun
from .state import _MISSING

if TYPE_CHECKING:
    from .executor import WorkflowExecutor

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


class Execution:
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
        "wants",
        "on_node_started",
        "hooks",
        "meter",
        "node_paths",
        "retries_left",
        "max_logs",
    )

    def __init__(
        self, executor: WorkflowExecutor, run: WorkflowRun, emit: Emit | None, resuming: bool
    ) -> None:
        self.executor = executor
        self.graph = executor.graph
        self.run = run
        self.emit = emit
        wants = () if emit is None else getattr(emit, "wants", tuple(EventType))
        self.wants = frozenset(wants)
        self.on_node_started = EventType.NODE_STARTED in self.wants
        # lifecycle hooks alone are called directly, without building events
        self.hooks = emit if isinstance(emit, LifecycleDispatch) else None
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
        limits = executor.limits
        self.meter: StateMeter | None = None  # set in begin(), from the state it starts with
        self.node_paths = executor.node_paths
        self.retries_left = limits.max_retries_per_run
        self.max_logs = limits.max_log_entries

    # -- the hot path --------------------------------------------------------------------

    def simple_steps(self) -> None:
        """Run consecutive simple steps inline: one sync node, no timeout, no interrupt.

        Used when no checkpoint, join or ``step_finished`` consumer needs the general path
        (lifecycle hooks alone do not); it does what :meth:`plan`,
        :meth:`NodeCalls.call_sync <wfengine.calls.NodeCalls.call_sync>` and :meth:`commit` do
        for such a step, without their generality, and hands anything else (failures
        included) back to them.
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
        on_started = self.on_node_started
        on_finished = EventType.NODE_FINISHED in self.wants
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
            inp = dict(state)
            start = perf()
            if on_started:
                self.node_started(name, inp, 1)
            try:
                update = node.func(inp)
            except Exception as exc:
                delay = self.node_failed(node, step, 1, start, exc)
                if delay is None:
                    result: NodeResult = (name, None, exc)
                elif cancel.wait(delay):
                    result = (name, None, Cancelled())
                else:
                    result = self.executor.calls.call_sync(self, node, 2)
                self.commit(batch, [result])
                return
            if on_finished:
                self.node_finished(node, step, 1, start, update)
            else:
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
            if len(logs) > self.max_logs:
                self.trim_logs()

    # -- lifecycle -----------------------------------------------------------------------

    def begin(self) -> None:
        run = self.run
        run.status = RunStatus.RUNNING
        run.error = None
        run.finished = None
        cap = self.executor.limits.max_state_bytes
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
        if self.hooks is not None:
            self.hooks.run_started(run)
        elif EventType.RUN_STARTED in self.wants:
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

    def commit(self, batch: list[str], results: list[NodeResult]) -> None:
        """Merge the step's updates, choose the next nodes, checkpoint, emit."""
        run = self.run
        state = run.state
        for name, _update, error in results:
            if error is not None:
                if isinstance(error, Cancelled):
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
        meter = self.meter
        undo = (
            {k: state.get(k, _MISSING) for k in merged}
            if self.checkpoint is not None or meter is not None
            else None
        )
        if merged:
            if self.reducers:
                _apply(state, merged, self.reducers, len(results) > 1, results)
            else:
                state.update(merged)
            if meter is not None and (too_big := meter.update(state, merged)) is not None:
                self._rollback(undo)
                self.fail(too_big, node=batch[0] if len(batch) == 1 else None)
                return
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
        if len(run.logs) > self.max_logs:
            self.trim_logs()
        if EventType.STEP_FINISHED in self.wants:
            self.event(EventType.STEP_FINISHED, None, update=merged, next_nodes=next_nodes)

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

    def check_paths(self, node: Node, state: Mapping[str, Any]) -> None:
        """Refuse a call of ``node`` whose declared path values lie outside the allowed roots."""
        policy = self.executor.path_policy
        if policy is not None:
            policy.check(node.name, self.node_paths[node.name], state, node.params)

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
        if self.hooks is not None:
            self.hooks.run_finished(run)
        elif EventType.RUN_FINISHED in self.wants:
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
        if self.hooks is not None:
            self.hooks.node_finished(self.run, node.name, update, duration, attempt)
        elif EventType.NODE_FINISHED in self.wants:
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
        if will_retry:
            if self.retries_left <= 0:
                will_retry = False
                exc.add_note(
                    "not retried: this run's retry budget of "
                    f"{self.executor.limits.max_retries_per_run} attempts (max_retries_per_run) "
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

    def node_started(self, name: str, state: dict[str, Any], attempt: int) -> None:
        """Tell the observers a node attempt begins (call only when ``on_node_started``)."""
        if self.hooks is not None:
            self.hooks.node_started(self.run, name, state, attempt)
        else:
            self.event(EventType.NODE_STARTED, name, state=state, attempt=attempt)

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
        step = self.run.step if node is None else self.run.step + 1  # node events: in-step
        self.emit(self.run, Event(kind, self.run.run_id, step, node, data, state=state, exc=exc))


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
    results: list[NodeResult], state: Mapping[str, Any], reducers: Mapping[str, Any]
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
            if key in writers and not _same(merged[key], value):
                raise StateConflictError(
                    f"nodes '{writers[key]}' and '{name}' both wrote key '{key}' in the same "
                    f"step with different values; give '{key}' a reducer (e.g. append, extend, "
                    "merge, add) or let one node own it"
                )
            writers.setdefault(key, name)
            merged[key] = value
    return merged


def _same(first: Any, second: Any) -> bool:
    """Whether two nodes wrote the same value (values whose ``==`` is not a plain truth value,
    like arrays, count as different)."""
    if first is second:
        return True
    try:
        return bool(first == second)
    except Exception:
        return False


def _apply(
    state: dict[str, Any],
    merged: dict[str, Any],
    reducers: Mapping[str, Any],
    parallel: bool,
    results: list[NodeResult],
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
