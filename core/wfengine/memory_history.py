"""The memory store's history of runs (the :class:`~wfengine.storage.HistoryStore`
capability): a snapshot at each ``save_run`` and one record per committed step, kept as
long as the store keeps the run (``max_runs``), for at most the run's last
``max_log_entries`` steps (as its log).

Recording is cheap so that it can be on by default: the executor appends one tuple per step
to :attr:`RunHistory.steps` (:meth:`~wfengine.storage.MemoryStore.step_recorder`), holding
the step's merged update by reference (values are not copied: as with the state itself, a
node must not mutate a value of the state in place). Keys that only grow (``append``,
``extend``, ``merge`` reducers) keep only what the step added (see :mod:`wfengine.growth`),
so a transcript of N messages costs O(N), not O(N^2).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .errors import RunNotFoundError, StoreError
from .growth import added, regrow, regrow_into
from .run import LogEntry, RunStatus, WorkflowRun

Snapshot = tuple[int, dict[str, Any], list[str], dict[str, Any], list[str]]
"""``(step, state, next_nodes, join_progress, visited)``."""

StepRecord = tuple[Any, ...]
"""One committed step, in one of two shapes:

* ``(step, node, update, next_nodes)``: a single-node step as the executor's lean path records
  it; ``node`` the node's name, ``update`` its merged update (a ``dict`` or ``None``);
* ``(step, nodes, update, next_nodes, join_progress, grown)``: ``nodes`` a list, ``update``
  the new values of replaced keys, ``join_progress`` a dict or ``None``, ``grown``
  ``{key: (kind, part)}`` (what the step added to growing keys) or ``None``.
"""


def step_record(
    step: int,
    nodes: Sequence[str],
    update: Mapping[str, Any] | None,
    next_nodes: Sequence[str],
    join_progress: Mapping[str, Sequence[str]] | None,
) -> StepRecord:
    """The record of a step from its merged ``update`` (a
    :class:`~wfengine.growth.StepUpdate` for growing keys keeps only what they gained)."""
    grown = getattr(update, "grown", None)
    parts = None
    if grown:
        assert update is not None
        parts = {k: (g[0], added(update[k], g)) for k, g in grown.items()}
        update = {k: v for k, v in update.items() if k not in grown}
    progress = {k: list(v) for k, v in join_progress.items()} if join_progress else None
    return (step, list(nodes), update, list(next_nodes), progress, parts)


class RunHistory:
    """One run's snapshots and step records (:data:`StepRecord`), guarded by ``lock`` (the
    store's) except for the executor's appends to :attr:`steps`, which only add at the end."""

    __slots__ = ("lock", "snapshots", "steps")

    def __init__(self, lock: threading.Lock | None = None) -> None:
        self.lock = lock if lock is not None else threading.Lock()
        self.snapshots: list[Snapshot] = []
        self.steps: list[StepRecord] = []
        """Appended to in place (the executor holds its ``append``); never replaced."""

    def saved(self, run: WorkflowRun) -> None:
        """``save_run`` (under the lock): a snapshot at ``run.step``; anything kept for
        later steps goes."""
        step = run.step
        steps = self.steps
        if steps and steps[-1][0] > step:
            steps[:] = [s for s in steps if s[0] <= step]
        snapshots = self.snapshots
        if snapshots and snapshots[-1][0] >= step:
            snapshots[:] = [s for s in snapshots if s[0] < step]
        snapshots.append(
            (
                step,
                dict(run.state),
                list(run.next_nodes),
                {k: list(v) for k, v in run.join_progress.items()},
                list(run.visited_nodes),
            )
        )

    def stepped(
        self, run: WorkflowRun, update: Mapping[str, Any], logs: Sequence[LogEntry]
    ) -> None:
        """``save_step`` (a run written step by step, e.g. ``wf runs import``): what step
        ``run.step`` changed, and where it left the run."""
        done = sum(1 for e in logs if e.status == "completed")
        visited = run.visited_nodes
        nodes = visited[len(visited) - done :]
        record = step_record(run.step, nodes, update, run.next_nodes, run.join_progress)
        if record[2] is update:  # not the executor's: the caller may reuse its mapping
            record = (*record[:2], dict(update), *record[3:])
        self.steps.append(record)

    def trim(self, keep_from: int, run_id: str) -> None:
        """Forget the steps up to ``keep_from`` (a snapshot there keeps later states)."""
        with self.lock:
            snapshots = self.snapshots
            if not self.steps or (snapshots and snapshots[0][0] >= keep_from):
                return
            try:
                state, nxt, progress, visited = self.position(keep_from, run_id)
            except StoreError:
                return
            kept = [s for s in snapshots if s[0] > keep_from]
            snapshots[:] = [(keep_from, state, nxt, progress, visited), *kept]
            steps = self.steps
            cut = 0
            while cut < len(steps) and steps[cut][0] <= keep_from:
                cut += 1
            del steps[:cut]

    def position(
        self, step: int, run_id: str
    ) -> tuple[dict[str, Any], list[str], dict[str, Any], list[str]]:
        """``(state, next_nodes, join_progress, visited)`` right after ``step``."""
        base = [s for s in self.snapshots if s[0] <= step]
        if not base:
            first = self.snapshots[0][0] if self.snapshots else None
            if first is not None and step < first:
                raise StoreError(
                    f"run {run_id} has no stored state at step {step}: the memory store keeps "
                    f"a run's last steps only (from step {first} on; as many as its log, "
                    "max_log_entries); use a durable store such as sqlite:///runs.db to keep "
                    "them all"
                )
            raise StoreError(f"run {run_id} has no stored state at step {step}")
        at, snap, nxt, progress, visited_at = base[-1]
        state = dict(snap)
        visited = list(visited_at)
        owned: set[str] = set()  # keys whose value this rebuild made (safe to grow in place)
        for item in list(self.steps):
            number = item[0]
            if number <= at or number > step:
                continue
            update = item[2]
            if update:
                state.update(update)
                owned.difference_update(update)
            if len(item) == 4:
                visited.append(item[1])
                at, nxt, progress = number, item[3], {}
                continue
            if item[5]:
                for key, (kind, part) in item[5].items():
                    if key in owned:
                        regrow_into(state, key, kind, part)
                    else:
                        state[key] = regrow(state.get(key), kind, part)
                        owned.add(key)
            visited.extend(item[1])
            at, nxt, progress = number, item[3], item[4] or {}
        if at != step:
            raise StoreError(f"run {run_id} has no step {step}; its last stored step is {at}")
        return state, list(nxt), {k: list(v) for k, v in progress.items()}, visited

    def public_steps(self) -> list[dict[str, Any]]:
        """The steps as :meth:`~wfengine.storage.HistoryStore.steps` gives them."""
        return [_public(item) for item in list(self.steps)]

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
            patches=inherited_patches(source.patches, step),
        )
        copy = RunHistory(self.lock)
        copy.snapshots = [s for s in self.snapshots if s[0] < step]
        copy.steps = [s for s in self.steps if s[0] <= step]
        copy.saved(fork)
        return fork, copy


def inherited_patches(patches: Iterable[Mapping[str, Any]], step: int) -> list[dict[str, Any]]:
    """The state patches a fork at ``step`` takes from its parent: those given up to it."""
    return [dict(p, keys=list(p["keys"])) for p in patches if p["step"] <= step]


def _public(item: StepRecord) -> dict[str, Any]:
    if len(item) == 4:
        return {
            "step": item[0],
            "nodes": [item[1]],
            "update": dict(item[2] or {}),
            "added": {},
            "next_nodes": list(item[3]),
        }
    return {
        "step": item[0],
        "nodes": list(item[1]),
        "update": dict(item[2] or {}),
        "added": {k: part for k, (_kind, part) in (item[5] or {}).items()},
        "next_nodes": list(item[3]),
    }


def missing(run_id: str) -> RunNotFoundError:
    """The error for a run the memory store does not have (or no longer has)."""
    return RunNotFoundError(f"run '{run_id}' not found in the memory store")
