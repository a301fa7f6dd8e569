"""Pydantic models of every request and response body (they make the OpenAPI schema)."""

from __future__ import annotations

import logging
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..run import RunStatus, WorkflowRun
from .jsonsafe import jsonable

log = logging.getLogger("wfengine.server")

GraphId = Field(
    min_length=1, max_length=256, description="A registered workflow name or a stored graph id"
)


# -- errors ----------------------------------------------------------------------------------


class ErrorInfo(BaseModel):
    """What went wrong: a machine-readable type, a message for people, and details."""

    type: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorResponse(BaseModel):
    """The body of every error response."""

    error: ErrorInfo


# -- graphs ----------------------------------------------------------------------------------


class GraphSpecIn(BaseModel):
    """A declarative graph spec (see DESIGN.md): nodes name registered tools, edges name
    conditions as data. Fields not listed here are passed to the spec loader as given."""

    model_config = ConfigDict(extra="allow")

    name: str | None = Field(default=None, min_length=1, max_length=256)
    entry: str = Field(min_length=1, max_length=256, description="The node a run starts at")
    description: str | None = None
    max_steps: int | None = Field(default=None, ge=1)
    reducers: dict[str, str] | None = None
    nodes: dict[str, Any] = Field(description="Node name -> {tool, params, retry, timeout}")
    edges: list[Any] = Field(default_factory=list, description="{from, to, when, default}")

    def to_spec(self) -> dict[str, Any]:
        """The spec as the loader takes it (only the fields the client sent)."""
        return self.model_dump(exclude_unset=True)


class EdgeOut(BaseModel):
    """An edge: its source(s), target, condition label and whether it is the default."""

    model_config = ConfigDict(populate_by_name=True)

    from_: list[str] = Field(alias="from")
    to: str
    condition: str | None = None
    default: bool = False


class GraphCreated(BaseModel):
    """A stored graph: its id, name, node names and edges."""

    graph_id: str
    name: str
    nodes: list[str]
    edges: list[EdgeOut]


class GraphSummary(BaseModel):
    """One stored graph in a listing."""

    graph_id: str
    name: str
    version: Any = None
    created_at: str | None = None


class GraphList(BaseModel):
    """Stored graphs, newest first."""

    graphs: list[GraphSummary]


class GraphOut(BaseModel):
    """A graph's spec: as stored, or (for a workflow) as its graph describes itself."""

    graph_id: str
    kind: Literal["stored", "workflow"]
    spec: dict[str, Any]


class MermaidOut(BaseModel):
    """A graph as Mermaid flowchart text."""

    graph_id: str
    mermaid: str


# -- runs ------------------------------------------------------------------------------------


class RunRequest(BaseModel):
    """Start a run of a stored graph or registered workflow."""

    graph_id: str = GraphId
    initial_state: dict[str, Any] = Field(default_factory=dict)
    wait: bool = Field(
        default=True,
        description="true: answer when the run stops; false: "
        "answer 202 at once and run in the background",
    )
    queue: bool = Field(
        default=False,
        description="true: store the run as queued for a worker (`wf worker`) and answer 202 "
        "at once; needs a store that queues runs; not with wait: true (422)",
    )
    max_steps: int | None = Field(default=None, ge=1)
    interrupt_before: list[str] = Field(default_factory=list, max_length=1000)
    interrupt_after: list[str] = Field(default_factory=list, max_length=1000)
    budget: dict[str, float] | None = Field(
        default=None,
        description="Totals that pause (not fail) the run when reached: steps, seconds, cost",
    )

    def run_options(self) -> dict[str, Any]:
        """The keywords ``Engine.run`` / ``start`` / ``submit`` take from this request."""
        return {
            "max_steps": self.max_steps,
            "interrupt_before": self.interrupt_before,
            "interrupt_after": self.interrupt_after,
            "budget": self.budget,
        }


class ResumeRequest(BaseModel):
    """Continue a paused, failed or cancelled run, optionally patching its state first."""

    state_patch: dict[str, Any] | None = None
    wait: bool = False
    max_steps: int | None = Field(default=None, ge=1)
    answer: Any = Field(
        default=None,
        description="The answer to the run's pending interrupt() question ({node: answer} "
        "for several); leave it out to resume without one (null is an answer)",
    )
    budget: dict[str, float] | None = Field(
        default=None,
        description="New totals for the run's budget (steps, seconds, cost)",
    )


class LogEntryOut(BaseModel):
    """One node attempt."""

    node: str
    step: int
    attempt: int
    started_at: str
    duration_ms: float
    status: str
    error: dict[str, Any] | None = None
    state_before: dict[str, Any] | None = None
    goto: list[str] | None = Field(
        default=None, description="The next nodes a Command chose (completed entries)"
    )


class RunResult(BaseModel):
    """A run that has stopped (completed, failed, paused or cancelled)."""

    run_id: str
    graph_id: str
    status: RunStatus
    final_state: dict[str, Any]
    logs: list[LogEntryOut]
    visited_nodes: list[str]
    step: int
    error: dict[str, Any] | None = None
    questions: dict[str, Any] = Field(
        default_factory=dict,
        description="A paused run's pending interrupt() questions, per node: value, index",
    )
    pause_reason: str | None = Field(
        default=None, description="Why a run paused when its budget did it"
    )

    @staticmethod
    def data(run: WorkflowRun, tracebacks: bool = False) -> dict[str, Any]:
        """The result of ``run`` as plain data in this model's shape, built without
        validation (the hot path of ``POST /graph/run``; a test checks it validates).

        Errors carry type and message; their tracebacks only with ``tracebacks`` (the
        operator's ``expose_tracebacks``). A failed run's traceback goes to the server log
        here, where the run that just stopped is answered.
        """
        if run.error is not None:
            log_failed_run(run)
        logs = [entry.to_dict() for entry in run.logs]
        if not tracebacks:
            for entry in logs:
                if entry["error"] is not None:
                    entry["error"] = client_error(entry["error"])
        return {
            "run_id": run.run_id,
            "graph_id": run.graph_id,
            "status": run.status.value,
            "final_state": run.state,
            "logs": logs,
            "visited_nodes": run.visited_nodes,
            "step": run.step,
            "error": run.error if tracebacks else client_error(run.error),
            "questions": run.questions,
            "pause_reason": run.pause_reason,
        }


class RunAccepted(BaseModel):
    """A run going on in the background; follow it at ``/graph/state/{run_id}`` or
    ``/ws/runs/{run_id}``."""

    run_id: str
    graph_id: str
    status: RunStatus


class RunStateOut(BaseModel):
    """Where a run is: status, the node(s) it runs next, its state and history."""

    run_id: str
    graph_id: str
    status: RunStatus
    current_nodes: list[str]
    state: dict[str, Any]
    visited_nodes: list[str]
    step: int
    error: dict[str, Any] | None = None
    created_at: str
    finished_at: str | None = None
    questions: dict[str, Any] = Field(
        default_factory=dict,
        description="A paused run's pending interrupt() questions, per node: value, index",
    )
    pause_reason: str | None = Field(
        default=None, description="Why a run paused when its budget did it"
    )

    @classmethod
    def of(cls, run: WorkflowRun, tracebacks: bool = False) -> RunStateOut:
        """The state of ``run`` (its error's traceback only with ``tracebacks``)."""
        return cls(
            run_id=run.run_id,
            graph_id=run.graph_id,
            status=run.status,
            current_nodes=list(run.next_nodes),
            state=jsonable(dict(run.state)),  # a snapshot: a running run changes it
            visited_nodes=list(run.visited_nodes),
            step=run.step,
            error=jsonable(run.error if tracebacks else client_error(run.error)),
            created_at=run.created_at,
            finished_at=run.finished_at,
            questions=jsonable(dict(run.questions)),
            pause_reason=run.pause_reason,
        )


class RunLogs(BaseModel):
    """The log entries of a run, one per node attempt."""

    run_id: str
    logs: list[LogEntryOut]


class RunSummary(BaseModel):
    """One run in a listing (no state, no logs)."""

    run_id: str
    graph_id: str
    status: RunStatus
    step: int
    error: dict[str, Any] | None = None
    created_at: str
    finished_at: str | None = None
    questions: dict[str, Any] = Field(
        default_factory=dict,
        description="A paused run's pending interrupt() questions, per node: value, index",
    )
    pause_reason: str | None = Field(
        default=None, description="Why a run paused when its budget did it"
    )

    @classmethod
    def of(cls, run: WorkflowRun) -> RunSummary:
        """``run`` as a listing shows it (its error without the traceback)."""
        return cls(
            run_id=run.run_id,
            graph_id=run.graph_id,
            status=run.status,
            step=run.step,
            error=jsonable(client_error(run.error)),
            created_at=run.created_at,
            finished_at=run.finished_at,
            questions=jsonable(dict(run.questions)),
            pause_reason=run.pause_reason,
        )


class RunPage(BaseModel):
    """A page of runs, newest first; pass ``next_cursor`` as ``cursor`` for the next."""

    runs: list[RunSummary]
    next_cursor: str | None = None


class CancelResult(BaseModel):
    """A cancelled run (a running one stops before its next step)."""

    run_id: str
    status: RunStatus
    cancel_requested: bool


def log_entries(run: WorkflowRun, tracebacks: bool = False) -> list[LogEntryOut]:
    """The run's log entries as response models (tracebacks only with ``tracebacks``)."""
    entries = []
    for entry in list(run.logs):
        data = jsonable(entry.to_dict())
        if not tracebacks and data.get("error") is not None:
            data["error"] = client_error(data["error"])
        entries.append(LogEntryOut(**data))
    return entries


def client_error(error: dict[str, Any] | None) -> dict[str, Any] | None:
    """A run's or attempt's error as clients see it: everything but the traceback (which
    names the server's files and code); ``None`` stays ``None``."""
    if error is None or "traceback" not in error:
        return error
    return {key: value for key, value in error.items() if key != "traceback"}


def log_failed_run(run: WorkflowRun) -> None:
    """Put a stopped run's error, with its traceback, in the server log."""
    error = run.error or {}
    log.warning(
        "run %s of graph %s %s: %s: %s\n%s",
        run.run_id,
        run.graph_id,
        run.status.value,
        error.get("type"),
        error.get("message"),
        error.get("traceback") or "(no traceback)",
    )


# -- registries ------------------------------------------------------------------------------


class RegistryEntryOut(BaseModel):
    """A registered tool, condition strategy or workflow, and the plugin it came from."""

    name: str
    description: str
    plugin: str


class ToolList(BaseModel):
    """Registered tools."""

    tools: list[RegistryEntryOut]


class ConditionList(BaseModel):
    """Registered condition strategies."""

    conditions: list[RegistryEntryOut]


class WorkflowList(BaseModel):
    """Registered workflows (runnable by name as a ``graph_id``)."""

    workflows: list[RegistryEntryOut]


class PluginOut(BaseModel):
    """A loaded plugin."""

    name: str
    module: str
    distribution: str | None = None
    version: str | None = None
    hooks: list[str]
    builtin: bool


class PluginFailureOut(BaseModel):
    """A plugin that was skipped, and why."""

    name: str
    error: str
    stage: str


class PluginList(BaseModel):
    """Loaded plugins and those that failed to load."""

    plugins: list[PluginOut]
    failures: list[PluginFailureOut]


class Health(BaseModel):
    """The server is up."""

    status: Literal["ok"] = "ok"
    version: str
