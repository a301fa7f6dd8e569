"""Turning a run's events into lifecycle hook calls, at the least cost per event.

The executor hands every event it builds to one callable, a :class:`LifecycleDispatch` that
:class:`wfengine.hooks.Hooks` builds. For a hook whose implementations are all plain (no
wrapper, no monitoring) it calls each implementation directly, with only the arguments it
asked for (pluggy's calling convention, without pluggy's per-call machinery); for any other
hook it calls through pluggy. Either way each implementation is isolated (an exception,
``SystemExit`` included, is logged and the run goes on), and ``wants`` says which event
types are needed, so the executor builds no others. With no implementation at all there is
no dispatcher, and the executor takes its fast path.

A hook that keeps failing does not flood the log: the first failure of each plugin, hook and
exception type is logged with its traceback, later ones only as a count (one line at the
10th, 100th, 1,000th, ... failure).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from operator import itemgetter
from typing import Any

import pluggy

from .run import Event, EventType, WorkflowRun

log = logging.getLogger("wfengine.plugins")

_Args = tuple[Any, ...]


def _run_args(run: WorkflowRun, event: Event) -> _Args:
    return (run,)


def _node_started_args(run: WorkflowRun, event: Event) -> _Args:
    return (run, event.node, event.state, event.data["attempt"])


def _node_finished_args(run: WorkflowRun, event: Event) -> _Args:
    data = event.data
    return (run, event.node, data["update"], data["duration_ms"] / 1000.0, data["attempt"])


def _node_failed_args(run: WorkflowRun, event: Event) -> _Args:
    data = event.data
    return (run, event.node, event.exc, data["attempt"], data["will_retry"])


def _node_progress_args(run: WorkflowRun, event: Event) -> _Args:
    data = event.data
    return (run, event.node, data["kind"], data["data"])


# per event type: the hook, its arguments in spec order, and how to get them from an event
_HOOKS: dict[EventType, tuple[str, tuple[str, ...], Callable[[WorkflowRun, Event], _Args]]] = {
    EventType.RUN_STARTED: ("wfengine_run_started", ("run",), _run_args),
    EventType.NODE_STARTED: (
        "wfengine_node_started",
        ("run", "node", "state", "attempt"),
        _node_started_args,
    ),
    EventType.NODE_FINISHED: (
        "wfengine_node_finished",
        ("run", "node", "update", "duration", "attempt"),
        _node_finished_args,
    ),
    EventType.NODE_FAILED: (
        "wfengine_node_failed",
        ("run", "node", "error", "attempt", "will_retry"),
        _node_failed_args,
    ),
    EventType.NODE_PROGRESS: (
        "wfengine_node_progress",
        ("run", "node", "kind", "data"),
        _node_progress_args,
    ),
    EventType.RUN_FINISHED: ("wfengine_run_finished", ("run",), _run_args),
}


def _caller(function: Callable[..., Any], spec: tuple[str, ...], wanted: tuple[str, ...]) -> Any:
    """Call ``function`` with the arguments it names, picked from a spec-ordered tuple."""
    if wanted == spec:
        return lambda args: function(*args)
    indexes = [spec.index(name) for name in wanted]
    if not indexes:
        return lambda args: function()
    if len(indexes) == 1:
        only = indexes[0]
        return lambda args: function(args[only])
    pick = itemgetter(*indexes)
    return lambda args: function(*pick(args))


class LifecycleDispatch:
    """Calls the lifecycle hook implementations, for events (``dispatch(run, event)``) or
    directly with a hook's arguments (the executor's way when nothing else needs events)."""

    def __init__(
        self,
        table: dict[EventType, tuple[Callable[..., _Args], list[Any]]],
        failures: HookFailures | None = None,
        via_pluggy: dict[EventType, Callable[[_Args], None]] | None = None,
    ) -> None:
        # a hook that needs pluggy's semantics has one caller: the whole pluggy call
        table = {
            kind: (
                build,
                [("<pluggy>", via_pluggy[kind])] if via_pluggy and kind in via_pluggy else callers,
            )
            for kind, (build, callers) in table.items()
        }
        self._table = table
        self.failures = failures if failures is not None else HookFailures()
        """How often each plugin's hook has failed (and logging them without flooding)."""
        self.wants = frozenset(table)
        """The event types some implementation needs; the executor builds no others."""
        empty: list[Any] = []
        self._run_started = table.get(EventType.RUN_STARTED, (None, empty))[1]
        self._node_started = table.get(EventType.NODE_STARTED, (None, empty))[1]
        self._node_finished = table.get(EventType.NODE_FINISHED, (None, empty))[1]
        self._node_failed = table.get(EventType.NODE_FAILED, (None, empty))[1]
        self._run_finished = table.get(EventType.RUN_FINISHED, (None, empty))[1]
        self._node_progress = table.get(EventType.NODE_PROGRESS, (None, empty))[1]

    def __call__(self, run: WorkflowRun, event: Event) -> None:
        entry = self._table.get(event.type)
        if entry is not None:
            build, callers = entry
            self._call_each(callers, build(run, event), event.type.value)

    def run_started(self, run: WorkflowRun) -> None:
        """Call ``wfengine_run_started`` implementations."""
        self._call_each(self._run_started, (run,), "run_started")

    def node_started(self, run: WorkflowRun, node: str, state: Any, attempt: int) -> None:
        """Call ``wfengine_node_started`` implementations."""
        self._call_each(self._node_started, (run, node, state, attempt), "node_started")

    def node_finished(
        self, run: WorkflowRun, node: str, update: Any, duration: float, attempt: int
    ) -> None:
        """Call ``wfengine_node_finished`` implementations."""
        self._call_each(
            self._node_finished, (run, node, update, duration, attempt), "node_finished"
        )

    def node_failed(
        self, run: WorkflowRun, node: str, error: BaseException, attempt: int, will_retry: bool
    ) -> None:
        """Call ``wfengine_node_failed`` implementations."""
        self._call_each(self._node_failed, (run, node, error, attempt, will_retry), "node_failed")

    def node_progress(self, run: WorkflowRun, node: str, kind: str, data: Any) -> None:
        """Call ``wfengine_node_progress`` implementations."""
        self._call_each(self._node_progress, (run, node, kind, data), "node_progress")

    def run_finished(self, run: WorkflowRun) -> None:
        """Call ``wfengine_run_finished`` implementations."""
        self._call_each(self._run_finished, (run,), "run_finished")

    def _call_each(self, callers: list[Any], args: _Args, hook: str) -> None:
        for plugin_name, call in callers:
            try:
                call(args)
            except (Exception, SystemExit) as exc:  # an observer never stops a run
                self.failures.record(plugin_name, f"wfengine_{hook}", exc)


class HookFailures:
    """Counts failures per (plugin, hook, exception type) and logs them sparingly: the
    first with its traceback, then one line at each power of ten."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[tuple[str, str, str], int] = {}

    def record(self, plugin: str, hook: str, exc: BaseException) -> None:
        """Count one failure of ``plugin``'s ``hook`` and log it if it is due."""
        key = (plugin, hook, type(exc).__name__)
        with self._lock:
            count = self.counts.get(key, 0) + 1
            self.counts[key] = count
        if count == 1:
            log.warning(
                "plugin '%s' failed in hook %s (ignored; later %s failures of this hook "
                "are only counted)",
                plugin,
                hook,
                key[2],
                exc_info=(type(exc), exc, exc.__traceback__),
            )
        elif _power_of_ten(count):
            log.warning(
                "plugin '%s' failed in hook %s %d times so far (%s: %s; traceback logged at "
                "the first failure)",
                plugin,
                hook,
                count,
                key[2],
                exc,
            )


def _power_of_ten(n: int) -> bool:
    while n >= 10 and n % 10 == 0:
        n //= 10
    return n == 1


def lifecycle_table(
    pm: pluggy.PluginManager,
) -> dict[EventType, tuple[Callable[..., _Args], list[Any]]]:
    """Per event type with implementations: how to build the hook's arguments, and a direct
    caller of each implementation (their original functions, in pluggy's order)."""
    table: dict[EventType, tuple[Callable[..., _Args], list[Any]]] = {}
    for kind, (hook_name, spec, build) in _HOOKS.items():
        impls = getattr(pm.hook, hook_name).get_hookimpls()
        if impls:
            # pluggy calls the last registered first; keep its order
            callers = [
                (
                    impl.plugin_name,
                    _caller(
                        getattr(impl.function, "__wrapped__", impl.function)
                        if getattr(impl.function, "__wfengine_isolated__", False)
                        else impl.function,
                        spec,
                        tuple(impl.argnames),
                    ),
                )
                for impl in reversed(impls)
                if not (impl.wrapper or impl.hookwrapper)
            ]
            table[kind] = (build, callers)
    return table
