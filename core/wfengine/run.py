"""Runs: one execution of a graph, its log entries, and the events it emits."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from os import urandom as _urandom
from typing import Any


class RunStatus(StrEnum):
    """Where a run is: ``pending`` (or ``queued``, for a worker to take: see
    :mod:`wfengine.queue`) → ``running`` → a final (or ``paused``) status."""

    __hash__ = str.__hash__  # as EventType's

    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        """True for ``completed``, ``failed`` and ``cancelled``."""
        return self in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED)

    @property
    def is_resumable(self) -> bool:
        """True for runs that ``resume`` can continue: all but completed ones (a run still
        ``running`` in the store was interrupted by a crash)."""
        return self != RunStatus.COMPLETED


def iso(ts: float | None) -> str | None:
    """An epoch timestamp as ISO-8601 UTC with microseconds (``2026-01-02T03:04:05.123456Z``)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str | None) -> float | None:
    """The inverse of :func:`iso`."""
    if text is None:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class LogEntry:
    """One node attempt: which node, step and attempt, when, how long, how it ended.

    ``status`` is ``completed``, ``failed`` (will not run again), ``retrying`` (failed, and
    another attempt follows), ``interrupted`` (it asked a question with ``interrupt()``: the
    run paused) or ``re-entered after answer`` (it runs again from its start, its question
    answered: code before ``interrupt()`` runs again). ``error`` holds ``type``, ``message``
    and ``traceback`` (an ``interrupted`` entry:
    ``question``); ``state_before`` the state the failed attempt was given; ``goto`` (on a
    ``completed`` entry) the next nodes a :class:`~wfengine.compose.Command` chose, as node
    paths (``END`` kept), which replay re-routes by.
    """

    __slots__ = (
        "node",
        "step",
        "attempt",
        "started",
        "duration_ms",
        "status",
        "error",
        "state_before",
        "goto",
    )

    def __init__(
        self,
        node: str,
        step: int,
        attempt: int,
        started: float,
        duration_ms: float,
        status: str,
        error: dict[str, Any] | None = None,
        state_before: dict[str, Any] | None = None,
        goto: list[str] | None = None,
    ) -> None:
        self.node = node
        self.step = step
        self.attempt = attempt
        self.started = started
        self.duration_ms = duration_ms
        self.status = status
        self.error = error
        self.state_before = state_before
        self.goto = goto

    @property
    def started_at(self) -> str:
        """Start time, ISO-8601 UTC."""
        return iso(self.started) or ""

    def to_dict(self) -> dict[str, Any]:
        """The entry as JSON data."""
        data: dict[str, Any] = {
            "node": self.node,
            "step": self.step,
            "attempt": self.attempt,
            "started_at": self.started_at,
            "duration_ms": round(self.duration_ms, 4),
            "status": self.status,
            "error": self.error,
        }
        if self.state_before is not None:
            data["state_before"] = self.state_before
        if self.goto is not None:
            data["goto"] = list(self.goto)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LogEntry:
        """Rebuild an entry from :meth:`to_dict` output."""
        return cls(
            data["node"],
            data["step"],
            data["attempt"],
            parse_iso(data["started_at"]) or 0.0,
            data["duration_ms"],
            data["status"],
            data.get("error"),
            data.get("state_before"),
            data.get("goto"),
        )

    def __repr__(self) -> str:
        return (
            f"LogEntry(node={self.node!r}, step={self.step}, attempt={self.attempt}, "
            f"status={self.status!r}, duration_ms={self.duration_ms:.3f})"
        )


def new_run_id() -> str:
    """A random (version 4) UUID as 32 hex digits: ``uuid.uuid4().hex`` at a quarter of its
    cost (a run's start is on the engine's per-run path)."""
    raw = bytearray(_urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # RFC 4122 variant
    return raw.hex()


@dataclass(eq=False)
class WorkflowRun:
    """One execution of a graph and everything it keeps.

    ``step`` counts completed steps; ``next_nodes`` is the node set the next step runs (empty
    when the run is over), so a stored run can be resumed from exactly there.
    """

    graph_id: str
    state: dict[str, Any] = field(default_factory=dict)
    run_id: str = field(default_factory=lambda: new_run_id())
    """A random (version 4) UUID as 32 hex digits."""
    status: RunStatus = RunStatus.PENDING
    visited_nodes: list[str] = field(default_factory=list)
    logs: list[LogEntry] = field(default_factory=list)
    error: dict[str, Any] | None = None
    step: int = 0
    next_nodes: list[str] = field(default_factory=list)
    join_progress: dict[str, list[str]] = field(default_factory=dict)
    """For each join edge (by index) the sources that have finished since it last fired."""
    max_steps: int | None = None
    interrupt_before: list[str] = field(default_factory=list)
    interrupt_after: list[str] = field(default_factory=list)
    """Nodes after whose step the run pauses (as ``interrupt_before`` does before them)."""
    questions: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The pending questions of a run paused by ``interrupt()``: per node, ``value`` (the
    question) and ``index`` (which of the node's questions, 0 for its first)."""
    answers: dict[str, list[Any]] = field(default_factory=dict)
    """The answers given so far to the ``interrupt()`` calls of nodes not yet completed, per
    node, in order (see :mod:`wfengine.interrupts`)."""
    budget: dict[str, float] = field(default_factory=dict)
    """Totals that pause the run when reached: ``steps``, ``seconds``, ``cost`` (see
    :mod:`wfengine.budget`)."""
    spent: dict[str, float] = field(default_factory=dict)
    """What a run with a budget has spent: ``seconds`` driving it, ``cost`` emitted."""
    pause_reason: str | None = None
    """Why a paused run paused when a budget did it (``budget: steps 100 of 100 spent``)."""
    cache_log: list[dict[str, Any]] = field(default_factory=list)
    """Each cache lookup of a cached node: ``node``, ``step``, ``result`` (``hit``, ``miss``,
    ``not cacheable``) and ``reason`` (see :mod:`wfengine.cache`)."""
    patches: list[dict[str, Any]] = field(default_factory=list)
    """The state patches given on resume (or fork), in order: ``{step, keys}``, the keys a
    patch replaced after step ``step`` (their values are that step's state; ``wf runs blame``
    tells these writes from the nodes')."""
    created: float = field(default_factory=time.time)
    finished: float | None = None
    graph_version: str | None = None
    """The version (sha256 hex) of the graph this run runs; see :mod:`wfengine.versions`."""
    logs_dropped: int = 0
    """How many of the oldest log entries were dropped to keep the log within the engine's
    ``max_log_entries`` (a durable store may still hold them)."""
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _stop_as: RunStatus | None = field(default=None, repr=False)

    @property
    def created_at(self) -> str:
        """Creation time, ISO-8601 UTC."""
        return iso(self.created) or ""

    @property
    def finished_at(self) -> str | None:
        """When the run reached a final or paused status, ISO-8601 UTC."""
        return iso(self.finished)

    @property
    def final_state(self) -> dict[str, Any]:
        """The state (final once the run has finished)."""
        return self.state

    # the cancel flag: only these methods touch it -------------------------------------

    def cancel(self) -> None:
        """Ask the run to stop before its next step; it ends ``cancelled``."""
        self._cancel.set()

    @property
    def cancel_requested(self) -> bool:
        """True once :meth:`cancel` was called (until :meth:`clear_cancel`)."""
        return self._cancel.is_set()

    def cancel_probe(self) -> Callable[[], bool]:
        """A function telling whether :meth:`cancel` was called (for the run loop's check
        before every step, without a property call)."""
        return self._cancel.is_set

    def wait_cancelled(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds (a retry's backoff), waking at once when the run is
        cancelled; returns whether it was."""
        return self._cancel.wait(timeout)

    def clear_cancel(self) -> None:
        """Forget an earlier cancel (or stop) request (before the run is resumed)."""
        self._stop_as = None
        self._cancel.clear()

    def stop_after_step(self, status: RunStatus = RunStatus.PAUSED) -> None:
        """Ask the run to stop after the step in flight without cancelling it: it is saved
        with ``status`` (``paused``, or ``queued`` for another worker to continue) and
        resumes from there. A retry waiting for its turn is given up (its step runs again
        on resume); a step whose node is in ``interrupt_before`` still pauses first."""
        if status not in (RunStatus.PAUSED, RunStatus.QUEUED):
            raise ValueError(f"a stopped run is saved paused or queued, not {status!r}")
        self._stop_as = status
        self._cancel.set()

    @property
    def stop_status(self) -> RunStatus | None:
        """The status :meth:`stop_after_step` asked for (``None``: none asked; a set cancel
        flag then means a real cancel)."""
        return self._stop_as

    def to_dict(self, *, logs: bool = True) -> dict[str, Any]:
        """The run as JSON-serialisable data (when its state is)."""
        data: dict[str, Any] = {
            "run_id": self.run_id,
            "graph_id": self.graph_id,
            "status": self.status.value,
            "state": self.state,
            "visited_nodes": list(self.visited_nodes),
            "step": self.step,
            "next_nodes": list(self.next_nodes),
            "join_progress": {k: list(v) for k, v in self.join_progress.items()},
            "error": self.error,
            "max_steps": self.max_steps,
            "interrupt_before": list(self.interrupt_before),
            "interrupt_after": list(self.interrupt_after),
            "questions": {k: dict(v) for k, v in self.questions.items()},
            "answers": {k: list(v) for k, v in self.answers.items()},
            "budget": dict(self.budget),
            "spent": dict(self.spent),
            "pause_reason": self.pause_reason,
            "cache_log": [dict(e) for e in self.cache_log],
            "created_at": self.created_at,
            "finished_at": self.finished_at,
        }
        if self.graph_version is not None:
            data["graph_version"] = self.graph_version
        if self.logs_dropped:
            data["logs_dropped"] = self.logs_dropped
        if self.patches:
            data["patches"] = [dict(p, keys=list(p["keys"])) for p in self.patches]
        if logs:
            data["logs"] = [entry.to_dict() for entry in self.logs]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WorkflowRun:
        """Rebuild a run from :meth:`to_dict` output."""
        return cls(
            graph_id=data["graph_id"],
            state=dict(data.get("state") or {}),
            run_id=data["run_id"],
            status=RunStatus(data["status"]),
            visited_nodes=list(data.get("visited_nodes") or []),
            logs=[LogEntry.from_dict(e) for e in data.get("logs") or []],
            error=data.get("error"),
            step=data.get("step", 0),
            next_nodes=list(data.get("next_nodes") or []),
            join_progress={k: list(v) for k, v in (data.get("join_progress") or {}).items()},
            max_steps=data.get("max_steps"),
            interrupt_before=list(data.get("interrupt_before") or []),
            interrupt_after=list(data.get("interrupt_after") or []),
            questions={k: dict(v) for k, v in (data.get("questions") or {}).items()},
            answers={k: list(v) for k, v in (data.get("answers") or {}).items()},
            budget=dict(data.get("budget") or {}),
            spent=dict(data.get("spent") or {}),
            pause_reason=data.get("pause_reason"),
            cache_log=[dict(e) for e in data.get("cache_log") or []],
            created=parse_iso(data.get("created_at")) or time.time(),
            finished=parse_iso(data.get("finished_at")),
            graph_version=data.get("graph_version"),
            logs_dropped=int(data.get("logs_dropped") or 0),
            patches=[dict(p, keys=list(p["keys"])) for p in data.get("patches") or []],
        )


class EventType(StrEnum):
    """The kinds of :class:`Event`; the lifecycle hooks are named after them."""

    # Enum hashes members in Python; the str hash is the same value class and runs in C,
    # which matters on the per-event path.
    __hash__ = str.__hash__

    RUN_STARTED = "run_started"
    NODE_STARTED = "node_started"
    NODE_FINISHED = "node_finished"
    NODE_FAILED = "node_failed"
    STEP_FINISHED = "step_finished"
    RUN_FINISHED = "run_finished"
    NODE_PROGRESS = "node_progress"


class Event:
    """Something that happened in a run; ``stream()``, hooks and the API all see these.

    ``data`` depends on the type: ``node_started`` has ``attempt``; ``node_finished`` has
    ``attempt``, ``duration_ms``, ``update`` (the keys it returned); ``node_failed`` has
    ``attempt``, ``error``, ``will_retry``; ``node_progress`` (a node's
    ``wfengine.emit(kind, data)``) has ``kind`` and ``data``; ``step_finished`` has ``update``
    (the merged update) and ``next_nodes``; ``run_finished`` has ``status`` and ``error``
    (and ``questions`` when a node asked). ``state`` (for ``node_started``: the state the
    node was given) and ``exc`` (for ``node_failed``: the exception) are for in-process
    observers and are not serialised.
    """

    __slots__ = ("type", "run_id", "step", "node", "data", "ts", "state", "exc")

    def __init__(
        self,
        type: EventType,
        run_id: str,
        step: int,
        node: str | None = None,
        data: dict[str, Any] | None = None,
        ts: float | None = None,
        state: dict[str, Any] | None = None,
        exc: BaseException | None = None,
    ) -> None:
        self.type = type
        self.run_id = run_id
        self.step = step
        self.node = node
        self.data = {} if data is None else data
        self.ts = time.time() if ts is None else ts
        self.state = state
        self.exc = exc

    def __repr__(self) -> str:
        return (
            f"Event({self.type.value}, run_id={self.run_id!r}, step={self.step}, "
            f"node={self.node!r})"
        )

    def to_dict(self) -> dict[str, Any]:
        """The event as JSON data (values in ``update`` as given: make them JSON-safe first)."""
        return {
            "type": self.type.value,
            "run_id": self.run_id,
            "step": self.step,
            "node": self.node,
            "ts": iso(self.ts),
            **self.data,
        }
