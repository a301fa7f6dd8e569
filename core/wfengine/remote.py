"""Node calls that leave the process: what travels to a worker and what comes back.

The driver turns a :class:`~wfengine.runner.NodeCall` into a picklable :class:`RemoteCall`
(:func:`prepare`); a worker runs it with :func:`execute` and answers a
:class:`RemoteOutcome`, which the driver turns back into an
:class:`~wfengine.runner.Outcome`. Backends (``processes://``, ``dask://``) only move these
two objects; nothing else about a run leaves the driver.

* A node running a tool that an installed plugin provides travels by name: the worker looks
  it up among its own installed plugins (no code on the wire). Any other function (Python
  graphs, lambdas, tools of plugin objects passed to ``Engine(...)``) travels by
  cloudpickle.
* The worker computes the node's *update* before answering: a node that mutates its input
  and returns it sends back only the keys it changed (so reducers apply once, as on
  threads).
* A value that cannot be pickled is refused before anything is sent, naming its state key
  path (:class:`~wfengine.errors.UnpicklableStateError`).
* ``emitted`` carries what a node emits from inside (progress, questions: later issues) back
  to the driver.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import pickle
import socket
import threading
import traceback
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any, NamedTuple

import cloudpickle

from .errors import RemoteNodeError, UnpicklableStateError
from .interrupts import answers_done, answers_given
from .progress import collecting_into, stop_collecting
from .registry import ToolRegistry
from .runner import NodeCall, Outcome

__all__ = [
    "RemoteCall",
    "RemoteOutcome",
    "RemoteRunner",
    "driver_parts",
    "execute",
    "finish",
    "prepare",
    "runs_in_driver",
    "worker_name",
]

_MISSING = object()
PROTOCOL = pickle.HIGHEST_PROTOCOL


def _pickle(value: Any) -> bytes:
    """``value`` by cloudpickle (functions and classes by value when they must be)."""
    blob: bytes = cloudpickle.dumps(value, protocol=PROTOCOL)
    return blob


@dataclass(slots=True)
class RemoteCall:
    """One node attempt as it travels to a worker."""

    run_id: str
    step: int
    node: str
    attempt: int
    state: dict[str, Any]
    timeout: float | None
    resources: dict[str, Any] = field(default_factory=dict)
    tool: str | None = None
    """An installed tool's name: the worker calls its own ``tool(state, **params)``."""
    params: dict[str, Any] = field(default_factory=dict)
    func: bytes | None = None
    """The node's function by cloudpickle, when it is not an installed tool."""
    answers: list[Any] | None = None
    """Answers for the node's ``interrupt()`` calls (a resumed question), in order."""


@dataclass(slots=True)
class RemoteOutcome:
    """What a worker answers: the update or the error, how long the call took, where it ran."""

    update: Any
    error: BaseException | None
    duration: float
    worker: str
    emitted: list[Any] = field(default_factory=list)

    def to_outcome(self) -> Outcome:
        """The driver's :class:`~wfengine.runner.Outcome`."""
        return Outcome(self.update, self.error, self.duration, self.worker)


class FunctionCache:
    """Each node function pickled once (per runner), not once per call."""

    def __init__(self) -> None:
        self._blobs: dict[int, tuple[Any, bytes]] = {}

    def dumps(self, func: Any, node: str) -> bytes:
        """``func`` by cloudpickle (kept: the function object pins its id)."""
        hit = self._blobs.get(id(func))
        if hit is not None and hit[0] is func:
            return hit[1]
        try:
            blob = _pickle(func)
        except Exception as exc:
            raise UnpicklableStateError(
                f"node '{node}': its function {_name(func)} cannot be sent to a worker "
                f"({type(exc).__name__}: {exc}); mark the node local=True to run it in the "
                "driver",
                f"nodes.{node}",
            ) from None
        self._blobs[id(func)] = (func, blob)
        return blob


class DriverParts(NamedTuple):
    """A node function taken apart from what the driver wrapped it in for one call."""

    func: Any
    """The node's own function."""
    answers: list[Any] | None
    """Answers for its ``interrupt()`` calls (``interrupts.answering``)."""
    sink: Callable[[str, Any], None] | None
    """Where its ``emit()`` calls go (``progress.emitting``)."""
    cached: bool
    """It is looked up in the store's cache first (``cache.cached``)."""


def driver_parts(func: Any) -> DriverParts:
    """``func`` without the driver's per-call wrappers, and what they carried."""
    answers = sink = None
    cached = False
    while True:
        if getattr(func, "wfengine_cached", False):
            cached = True
        elif hasattr(func, "wfengine_answers"):
            answers = list(func.wfengine_answers)
        elif hasattr(func, "wfengine_sink"):
            sink = func.wfengine_sink
        else:
            return DriverParts(func, answers, sink, cached)
        func = func.__wrapped__


def runs_in_driver(call: NodeCall) -> bool:
    """Whether a remote backend runs ``call`` in the driver anyway: a ``local`` node, or one
    whose results are cached (the cache lives in the driver's store)."""
    return bool(call.node.local) or driver_parts(call.node.func).cached


def finish(outcome: RemoteOutcome, call: NodeCall) -> Outcome:
    """The driver's :class:`~wfengine.runner.Outcome` of a remote call, after handing what
    the node emitted on the worker to the call's ``emit()`` sink, in order."""
    if outcome.emitted:
        sink = driver_parts(call.node.func).sink
        if sink is not None:
            for kind, data in outcome.emitted:
                sink(kind, data)
    return outcome.to_outcome()


def prepare(
    call: NodeCall, installed_tools: frozenset[str], functions: FunctionCache
) -> RemoteCall:
    """The :class:`RemoteCall` of ``call``; raises :class:`UnpicklableStateError` when a
    state value cannot travel."""
    node = call.node
    parts = driver_parts(node.func)
    state = dict(call.state)
    tool = node.tool if node.tool is not None and node.tool in installed_tools else None
    remote = RemoteCall(
        call.run_id,
        call.step,
        node.name,
        call.attempt,
        state,
        call.timeout,
        dict(getattr(node, "resources", None) or {}),
        tool,
        dict(node.params) if tool is not None else {},
        None if tool is not None else functions.dumps(parts.func, node.name),
        parts.answers,
    )
    return remote


def dumps(remote: RemoteCall) -> bytes:
    """``remote`` as bytes for the wire; a state value that cannot be pickled is an
    :class:`UnpicklableStateError` naming its key path."""
    try:
        return _pickle(remote)
    except Exception as exc:
        where = _unpicklable_path(remote.state, "state") or "state"
        raise UnpicklableStateError(
            f"node '{remote.node}': {where} cannot be sent to a worker process "
            f"({type(exc).__name__}: {exc}); keep such values out of the state (pass a path "
            "or a name instead) or mark the node local=True",
            where,
        ) from None


def _unpicklable_path(value: Any, where: str, depth: int = 0) -> str | None:
    """The deepest key path under ``where`` whose value does not pickle."""
    try:
        _pickle(value)
        return None
    except Exception:
        pass
    if depth < 20:
        if isinstance(value, Mapping):
            for key, item in value.items():
                found = _unpicklable_path(item, f"{where}.{key}", depth + 1)
                if found is not None:
                    return found
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                found = _unpicklable_path(item, f"{where}[{index}]", depth + 1)
                if found is not None:
                    return found
    return where


def worker_name() -> str:
    """``host:pid`` of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def execute(remote: RemoteCall, tools: Callable[[], ToolRegistry] | None = None) -> RemoteOutcome:
    """Run ``remote`` here (on a worker) and say what came of it; never raises.

    ``tools`` gives this worker's installed tools (for a call that names one).
    """
    start = perf_counter()
    state = remote.state
    emitted: list[tuple[str, Any]] = []
    collecting = collecting_into(emitted)
    answering = answers_given(remote.answers) if remote.answers is not None else None
    try:
        before = dict(state)
        if remote.tool is not None:
            if tools is None:
                raise LookupError("this worker has no plugins loaded to find tools in")
            registry = tools()
            if remote.tool not in registry:
                raise LookupError(
                    f"tool '{remote.tool}' is not installed on worker {worker_name()} "
                    "(install the plugin that provides it where the workers run)"
                )
            result = registry.get(remote.tool)(state, **remote.params)
        else:
            result = pickle.loads(remote.func or b"")(state)
        if inspect.isawaitable(result):  # an async node: this worker's own event loop
            result = asyncio.run(_awaited(result))
        if result is state:  # mutate-and-return: send only what changed
            result = {k: v for k, v in state.items() if before.get(k, _MISSING) is not v}
    except Exception as exc:
        failed = _travelling(exc)
        return RemoteOutcome(None, failed, perf_counter() - start, worker_name(), emitted)
    finally:
        if answering is not None:
            answers_done(answering)
        stop_collecting(collecting)
    return RemoteOutcome(result, None, perf_counter() - start, worker_name(), emitted)


async def _awaited(pending: Any) -> Any:
    return await pending


def _travelling(exc: BaseException) -> BaseException:
    """``exc`` if it pickles (with its traceback text as ``remote_traceback``), else a
    :class:`RemoteNodeError` naming its type."""
    text = "".join(traceback.format_exception(exc))
    try:
        exc.remote_traceback = text  # type: ignore[attr-defined]
        pickle.loads(_pickle(exc))
        return exc
    except Exception:
        return RemoteNodeError(_name(type(exc)), str(exc), text)


def outcome_bytes(outcome: RemoteOutcome, node: str) -> bytes:
    """``outcome`` for the wire; an update that cannot travel back becomes the error."""
    try:
        return _pickle(outcome)
    except Exception as exc:
        where = _unpicklable_path(outcome.update, "update") or "update"
        failed = RemoteOutcome(
            None,
            RemoteNodeError(
                type(exc).__name__,
                f"node '{node}': {where} cannot be sent back from worker {outcome.worker}: {exc}",
            ),
            outcome.duration,
            outcome.worker,
        )
        return _pickle(failed)


def _name(obj: Any) -> str:
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None) or type(obj).__qualname__
    return f"{module}.{qualname}" if module and module != "builtins" else str(qualname)


class RemoteRunner:
    """What every remote backend's :class:`~wfengine.runner.NodeRunner` shares: nodes that
    run in the driver (:func:`runs_in_driver`) go to a ``ThreadRunner``; the others are
    prepared and pickled once (:func:`prepare`, :func:`dumps`; an unpicklable value is the
    call's outcome, not an exception) and handed to :meth:`send`, which a backend implements.
    """

    inline_sync = False

    def __init__(self, installed_tools: frozenset[str], max_workers: int) -> None:
        from .runner import ThreadRunner

        self.installed_tools = installed_tools
        self._local = ThreadRunner(max_workers)
        self._functions = FunctionCache()
        self._functions_lock = threading.Lock()

    def send(self, remote: RemoteCall, payload: bytes, call: NodeCall) -> Future[Outcome]:
        """Start the call on a worker; the future completes with its outcome."""
        raise NotImplementedError

    def call(self, call: NodeCall) -> Outcome:
        """Run ``call`` remotely and wait (a node that runs in the driver: in this thread)."""
        if runs_in_driver(call):
            return self._local.call(call)
        return self.submit(call).result()

    def submit(self, call: NodeCall) -> Future[Outcome]:
        """Start ``call``; the future completes with its outcome."""
        if runs_in_driver(call):
            return self._local.submit(call)
        start = perf_counter()
        try:
            with self._functions_lock:
                remote = prepare(call, self.installed_tools, self._functions)
            payload = dumps(remote)
        except UnpicklableStateError as exc:
            refused: Future[Outcome] = Future()
            refused.set_result(Outcome(None, exc, perf_counter() - start, "driver"))
            return refused
        return self.send(remote, payload, call)

    async def acall(self, call: NodeCall) -> Outcome:
        """Await ``call``'s outcome without blocking the event loop."""
        if runs_in_driver(call):
            return await self._local.acall(call)
        return await asyncio.wrap_future(self.submit(call))

    def close(self) -> None:
        """Release the driver-side threads (a backend closes its workers too)."""
        self._local.close()
