"""The memory store's history of runs (the :class:`~wfengine.storage.HistoryStore`
capability): a snapshot at each ``save_run`` and one record per checkpointed step, kept as
long as the store keeps the run (``max_runs``)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import RunNotFoundError, StoreError
from .growth import added, regrow, regrow_into
from .run import LogEntry, RunStatus, WorkflowRun


class RunHistory:
    """One run's snapshots ``(step, state, next_nodes, join_progress, visited)`` and steps."""

    __slots__ = ("snapshots", "steps")

    def __init__(self) -> None:
        self.snapshots: list[tuple[int, dict[str, Any], list[str], dict[str, Any], list[str]]]
        self.snapshots = []
        self.steps: list[dict[str, Any]] = []

    def saved(self, run: WorkflowRun) -> None:
        """``save_run``: a snapshot at ``run.step``; anything kept for later steps goes."""
        self.steps = [s for s in self.steps if s["step"] <= run.step]
        self.snapshots = [s for s in self.snapshots if s[0] < run.step]
        self.snapshots.append(
            (
                run.step,
                dict(run.state),
                list(run.next_nodes),
                {k: list(v) for k, v in run.join_progress.items()},
                list(run.visited_nodes),
            )
        )

    def stepped(
        self, run: WorkflowRun, update: Mapping[str, Any], logs: Sequence[LogEntry]
    ) -> None:
        """``save_step``: what step ``run.step`` changed, and where it left the run."""
        grown = getattr(update, "grown", None) or {}
        done = sum(1 for e in logs if e.status == "completed")
        visited = run.visited_nodes
        self.steps.append(
            {
                "step": run.step,
                "nodes": list(visited[len(visited) - done :]),
                "update": {k: v for k, v in update.items() if k not in grown},
                "added": {k: added(update[k], g) for k, g in grown.items()},
                "kinds": {k: g[0] for k, g in grown.items()},
                "next_nodes": list(run.next_nodes),
                "join_progress": {k: list(v) for k, v in run.join_progress.items()},
            }
        )

    def position(
        self, step: int, run_id: str
    ) -> tuple[dict[str, Any], list[str], dict[str, Any], list[str]]:
        """``(state, next_nodes, join_progress, visited)`` right after ``step``."""
        base = [s for s in self.snapshots if s[0] <= step]
        if not base:
            raise StoreError(f"run {run_id} has no stored state at step {step}")
        at, snap, nxt, progress, visited_at = base[-1]
        state = dict(snap)
        visited = list(visited_at)
        owned: set[str] = set()  # keys whose value this rebuild made (safe to grow in place)
        for item in self.steps:
            if item["step"] <= at or item["step"] > step:
                continue
            state.update(item["update"])
            owned.difference_update(item["update"])
            for key, part in item["added"].items():
                kind = item["kinds"][key]
                if key in owned:
                    regrow_into(state, key, kind, part)
                else:
                    state[key] = regrow(state.get(key), kind, part)
                    owned.add(key)
            visited.extend(item["nodes"])
            at, nxt, progress = item["step"], item["next_nodes"], item["join_progress"]
        if at != step:
            raise StoreError(f"run {run_id} has no step {step}; its last stored step is {at}")
        return state, list(nxt), {k: list(v) for k, v in progress.items()}, visited

    def public_steps(self) -> list[dict[str, Any]]:
        """The steps as :meth:`~wfengine.storage.HistoryStore.steps` gives them."""
        return [
            {
                "step": s["step"],
                "nodes": list(s["nodes"]),
                "update": dict(s["update"]),
                "added": dict(s["added"]),
                "next_nodes": list(s["next_nodes"]),
            }
            for s in self.steps
        ]

    def fork(
        self, source: WorkflowRun, step: int, new_run_id: str | None
    ) -> tuple[WorkflowRun, RunHistory]:
        """A new pending run where ``source`` was after ``step``, with this history up to it."""
        state, next_nodes, progress, visited = self.position(step, source.run_id)
        fork = WorkflowRun(
            graph_id=source.graph_id,
            state=state,
            run_id=new_run_id or uuid.uuid4().hex,
            status=RunStatus.PENDING,
            visited_nodes=visited,
            step=step,
            next_nodes=next_nodes,
            join_progress=progress,
            max_steps=source.max_steps,
            interrupt_before=list(source.interrupt_before),
            graph_version=source.graph_version,
        )
        copy = RunHistory()
        copy.snapshots = [s for s in self.snapshots if s[0] < step]
        copy.steps = [s for s in self.steps if s["step"] <= step]
        copy.saved(fork)
        return fork, copy


def missing(run_id: str) -> RunNotFoundError:
    """The error for a run the memory store does not have (or no longer has)."""
    return RunNotFoundError(f"run '{run_id}' not found in the memory store")
