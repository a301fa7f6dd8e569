"""The memory store's history of runs (the :class:`~wfengine.storage.HistoryStore`
capability): a snapshot at each ``save_run`` and each committed step, kept as
long as the store keeps the run (``max_runs``), for at most the run's last
``max_log_entries`` steps (as its log).

Recording is cheap so that it can be on by default: the executor appends a step's node,
merged update and next nodes to the columns of a :class:`RunHistory`
(:meth:`~wfengine.storage.MemoryStore.step_recorder`), the update by reference (nothing is
copied: as with the state itself, a node must not mutate a value of the state in place,
nor the dict it returned). Keys that only grow (``append``, ``extend``, ``merge``
reducers) keep only what the step added (see :mod:`wfengine.growth`), so a transcript of N
messages costs O(N), not O(N^2).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .errors import RunNotFoundError, StoreError
from .growth import added, regrow, regrow_into, split_growth
from .run import LogEntry, RunStatus, WorkflowRun

Snapshot = tuple[int, dict[str, Any], list[str], dict[str, Any], list[str]]
"""``(step, state, next_nodes, join_progress, visited)``."""


class RunHistory:
    """One run's snapshots and committed steps, guarded by ``lock`` (the store's) except for
    the executor's appends, which only add at the end.

    Steps are kept in columns (no object per step but what the step made): step
    ``first + i`` ran :attr:`nodes` ``[i]`` (a node's name, or a list of names), merged
    :attr:`updates` ``[i]`` (a mapping or ``None``; for growing keys only what they gained,
    in :attr:`extras`) and left the run before :attr:`nexts` ``[i]``. A driver records a
    single-node step by appending to ``nodes``, ``updates`` and ``nexts``, in that order
    (readers count ``nexts``); any other step through :meth:`add`.
    """

    __slots__ = ("extras", "first", "lock", "nexts", "nodes", "snapshots", "updates")

    def __init__(self, lock: threading.Lock | None = None) -> None:
        self.lock = lock if lock is not None else threading.Lock()
        self.snapshots: list[Snapshot] = []
        self.first = 1
        """The step number of the first kept step."""
        self.nodes: list[Any] = []
        self.updates: list[Mapping[str, Any] | None] = []
        self.nexts: list[Sequence[str]] = []
        self.extras: dict[int, tuple[dict[str, list[str]] | None, dict[str, Any] | None]] = {}
        """Step -> ``(join_progress, grown)`` where either is not empty (``grown``:
        ``{key: (kind, part)}``, what the step added to growing keys)."""

    def add(
        self,
        step: int,
        nodes: str | Sequence[str],
        update: Mapping[str, Any] | None,
        next_nodes: Sequence[str],
        join_progress: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """Record step ``step`` from its merged ``update`` (a
        :class:`~wfengine.growth.StepUpdate` for growing keys keeps only what they gained)."""
        if step != self.first + len(self.nexts):  # not the next step: start again from it
            self._clear(step)
        grown = getattr(update, "grown", None)
        parts = None
        if grown:
            assert update is not None
            parts = {k: (g[0], added(update[k], g)) for k, g in grown.items()}
            update = {k: v for k, v in update.items() if k not in grown}
        progress = {k: list(v) for k, v in join_progress.items()} if join_progress else None
        if parts or progress:
            self.extras[step] = (progress, parts)
        self.nodes.append(nodes if type(nodes) is str or len(nodes) != 1 else nodes[0])
        self.updates.append(update)
        self.nexts.append(list(next_nodes))

    def add_grown(
        self,
        step: int,
        node: str,
        merged: Mapping[str, Any],
        before: Mapping[str, Any],
        kinds: Mapping[str, str],
        next_nodes: Sequence[str],
    ) -> None:
        """Record single-node step ``step`` whose ``merged`` update may have grown keys of
        ``kinds`` from their values ``before`` it (the executor's lean path)."""
        if step != self.first + len(self.nexts):
            self._clear(step)
        replaced, gained = split_growth(merged, before, kinds)
        if gained:
            self.extras[step] = (None, gained)
        self.nodes.append(node)
        self.updates.append(replaced)
        self.nexts.append(next_nodes)

    def _clear(self, first: int) -> None:
        """Forget every step; the next one kept is ``first``."""
        del self.nodes[:], self.updates[:], self.nexts[:]
        self.extras.clear()
        self.first = first

    def saved(self, run: WorkflowRun) -> None:
        """``save_run`` (under the lock): a snapshot at ``run.step``; anything kept for
        later steps goes."""
        step = run.step
        keep = step - self.first + 1  # the steps up to run.step
        if keep < 0 or keep > len(self.nexts):  # before the kept ones, or after a gap
            self._clear(step + 1)
        elif keep < len(self.nexts):
            del self.nodes[keep:], self.updates[keep:], self.nexts[keep:]
            for late in [k for k in self.extras if k > step]:
                del self.extras[late]
        snapshots = self.snapshots
        if snapshots and snapshots[-1][0] >= step:
            if len(snapshots) == 1 or snapshots[-2][0] < step:
                snapshots.pop()  # the common case: saved again at the same step
            else:
                snapshots[:] = [s for s in snapshots if s[0] < step]
        progress = run.join_progress
        snapshots.append(
            (
                step,
                dict(run.state),
                list(run.next_nodes),
                {k: list(v) for k, v in progress.items()} if progress else {},
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
        if type(update) is dict:  # the caller may reuse its mapping
            update = dict(update)
        self.add(run.step, nodes, update, run.next_nodes, run.join_progress)

    def trim(self, keep_from: int, run_id: str) -> None:
        """Forget the steps up to ``keep_from`` (a snapshot there keeps later states)."""
        with self.lock:
            cut = keep_from - self.first + 1
            if cut <= 0 or cut > len(self.nexts):
                return
            try:
                state, nxt, progress, visited = self.position(keep_from, run_id)
            except StoreError:
                return
            kept = [s for s in self.snapshots if s[0] > keep_from]
            self.snapshots[:] = [(keep_from, state, nxt, progress, visited), *kept]
            del self.nodes[:cut], self.updates[:cut], self.nexts[:cut]
            for early in [k for k in self.extras if k <= keep_from]:
                del self.extras[early]
            self.first = keep_from + 1

    def _rows(self) -> list[tuple[int, Any, Any, Any, Any]]:
        """The kept steps as ``(step, nodes, update, next_nodes, extras)``."""
        count = len(self.nexts)  # appended last: the other columns have as many
        first, extras = self.first, self.extras
        return [
            (first + i, n, u, x, extras.get(first + i))
            for i, n, u, x in zip(
                range(count),
                self.nodes[:count],
                self.updates[:count],
                self.nexts[:count],
                strict=True,
            )
        ]

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
        at, snap, nxt_at, progress, visited_at = base[-1]
        nxt: Sequence[str] = nxt_at
        if at < step and at + 1 < self.first:
            raise StoreError(
                f"run {run_id} has no stored state at step {step} (its steps from {at + 1} "
                "on are not kept)"
            )
        state = dict(snap)
        visited = list(visited_at)
        owned: set[str] = set()  # keys whose value this rebuild made (safe to grow in place)
        first = self.first
        count = len(self.nexts)
        start = at + 1 - first
        stop = min(step - first + 1, count)
        extras = self.extras
        for index in range(max(start, 0), stop):
            number = first + index
            update = self.updates[index]
            if update:
                state.update(update)
                owned.difference_update(update)
            extra = extras.get(number)
            if extra is not None:
                if extra[1]:
                    for key, (kind, part) in extra[1].items():
                        if key in owned:
                            regrow_into(state, key, kind, part)
                        else:
                            state[key] = regrow(state.get(key), kind, part)
                            owned.add(key)
                progress = extra[0] or {}
            else:
                progress = {}
            nodes = self.nodes[index]
            if type(nodes) is str:
                visited.append(nodes)
            else:
                visited.extend(nodes)
            at, nxt = number, self.nexts[index]
        if at != step:
            raise StoreError(f"run {run_id} has no step {step}; its last stored step is {at}")
        return state, list(nxt), {k: list(v) for k, v in progress.items()}, visited

    def public_steps(self) -> list[dict[str, Any]]:
        """The steps as :meth:`~wfengine.storage.HistoryStore.steps` gives them."""
        return [
            {
                "step": number,
                "nodes": [nodes] if type(nodes) is str else list(nodes),
                "update": dict(update or {}),
                "added": {
                    k: part for k, (_kind, part) in ((extra or (None, None))[1] or {}).items()
                },
                "next_nodes": list(nxt),
            }
            for number, nodes, update, nxt, extra in self._rows()
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
            patches=inherited_patches(source.patches, step),
        )
        copy = RunHistory(self.lock)
        copy.snapshots = [s for s in self.snapshots if s[0] < step]
        keep = max(0, min(step - self.first + 1, len(self.nexts)))
        copy.first = self.first
        copy.nodes = self.nodes[:keep]
        copy.updates = self.updates[:keep]
        copy.nexts = self.nexts[:keep]
        copy.extras = {k: v for k, v in self.extras.items() if k <= step}
        copy.saved(fork)
        return fork, copy


def inherited_patches(patches: Iterable[Mapping[str, Any]], step: int) -> list[dict[str, Any]]:
    """The state patches a fork at ``step`` takes from its parent: those given up to it."""
    return [dict(p, keys=list(p["keys"])) for p in patches if p["step"] <= step]


def missing(run_id: str) -> RunNotFoundError:
    """The error for a run the memory store does not have (or no longer has)."""
    return RunNotFoundError(f"run '{run_id}' not found in the memory store")
