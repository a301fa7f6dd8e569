"""A run's past, read through a store's :class:`~wfengine.storage.HistoryStore` capability:
its steps with their timing, the state at any step, diffs, the writes of a key (blame).

The CLI (``wf runs history/show --step/diff/blame/fork``) and the REST routes use these
functions, so every store with the capability answers the same way, and a store without it
gets one clear error (:class:`HistoryUnsupportedError`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from .errors import HistoryUnsupportedError, StoreError
from .run import WorkflowRun
from .storage import HistoryStore, Store


def history_store(store: Store) -> HistoryStore:
    """``store`` as a :class:`HistoryStore`, or a clear error naming the store and a way out."""
    if isinstance(store, HistoryStore):
        return store
    url = getattr(store, "url", type(store).__name__)
    raise HistoryUnsupportedError(
        f"the store {url} keeps no history of runs (state at each step, diffs, blame, "
        "forks); use a store that does, e.g. --store sqlite:///runs.db"
    )


def step_rows(store: Store, run: WorkflowRun) -> list[dict[str, Any]]:
    """One row per committed step of ``run``: ``{step, nodes, changed, next_nodes, attempts,
    duration_ms, started_at}`` (``changed``: the keys it wrote; ``attempts``: the most
    attempts a node of it took; timing from the run's log, ``None`` where it was trimmed)."""
    steps = history_store(store).steps(run.run_id)
    timing: dict[int, list[Any]] = {}
    for entry in run.logs:
        found = timing.setdefault(entry.step, [0, 0.0, entry.started_at])
        found[0] = max(found[0], entry.attempt)
        found[1] += entry.duration_ms
    rows = []
    for item in steps:
        attempts, duration, started = timing.get(item["step"], [None, None, None])
        rows.append(
            {
                "step": item["step"],
                "nodes": list(item["nodes"]),
                "changed": sorted([*item["update"], *item.get("added", {})]),
                "next_nodes": list(item["next_nodes"]),
                "attempts": attempts,
                "duration_ms": round(duration, 4) if duration is not None else None,
                "started_at": started,
            }
        )
    return rows


def diff_states(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """Key by key: ``{added: {k: v}, removed: {k: v}, changed: {k: {before, after}}}``."""
    return {
        "added": {k: after[k] for k in after if k not in before},
        "removed": {k: before[k] for k in before if k not in after},
        "changed": {
            k: {"before": before[k], "after": after[k]}
            for k in after
            if k in before and not _equal(before[k], after[k])
        },
    }


def diff_steps(store: Store, run_id: str, start: int, end: int) -> dict[str, Any]:
    """How the state of run ``run_id`` changed from after step ``start`` to after ``end``."""
    history = history_store(store)
    return {
        "run_id": run_id,
        "from": start,
        "to": end,
        **diff_states(history.state_at(run_id, start), history.state_at(run_id, end)),
    }


def diff_runs(store: Store, first: str, second: str) -> dict[str, Any]:
    """Where two runs part: the first step whose nodes or resulting state differ, with the
    state diff there (``step`` is ``None`` when every step both have agrees)."""
    history = history_store(store)
    a, b = history.steps(first), history.steps(second)
    for mine, theirs in zip(a, b, strict=False):
        number = mine["step"]
        if mine["nodes"] != theirs["nodes"] or not _equal(
            history.state_at(first, number), history.state_at(second, number)
        ):
            return {
                "runs": [first, second],
                "step": number,
                "nodes": [mine["nodes"], theirs["nodes"]],
                **diff_states(history.state_at(first, number), history.state_at(second, number)),
            }
    result: dict[str, Any] = {"runs": [first, second], "step": None, "steps": [len(a), len(b)]}
    if len(a) != len(b):
        result["step"] = min(len(a), len(b)) + 1
    return result


def blame(store: Store, run: WorkflowRun, key: str) -> list[dict[str, Any]]:
    """Every write of ``key`` in ``run``, in order: ``{step, nodes, how, patch, attempt,
    started_at, digest, value}``.

    ``how``: ``set``, ``added`` for what a step added to a growing key, or ``patched`` for a
    state patch given on resume or fork after step ``step`` (``patch`` is then ``True`` and
    ``nodes`` empty: no node wrote it; see ``run.patches``). ``attempt`` and ``started_at``:
    of the step's completed attempt, from the run's log, ``None`` where trimmed (and for a
    patch). ``digest``: sha256 of the value as JSON, first 12 hex digits."""
    history = history_store(store)
    done = {e.step: e for e in run.logs if e.status == "completed"}
    patched: dict[int, int] = {}  # step -> how many patches then wrote the key
    for patch in run.patches:
        if key in patch["keys"]:
            patched[patch["step"]] = patched.get(patch["step"], 0) + 1
    writes: list[dict[str, Any]] = []

    def patches_at(step: int) -> None:
        try:
            value = history.state_at(run.run_id, step).get(key)
        except StoreError:  # a step whose state the store no longer keeps
            value = None
        for _ in range(patched.pop(step)):
            writes.append(
                {
                    "step": step,
                    "nodes": [],
                    "how": "patched",
                    "patch": True,
                    "attempt": None,
                    "started_at": None,
                    "digest": digest(value),
                    "value": value,
                }
            )

    for item in history.steps(run.run_id):
        for early in sorted(s for s in patched if s < item["step"]):
            patches_at(early)
        for how, part in (("set", item["update"]), ("added", item.get("added", {}))):
            if key in part:
                entry = done.get(item["step"])
                writes.append(
                    {
                        "step": item["step"],
                        "nodes": list(item["nodes"]),
                        "how": how,
                        "patch": False,
                        "attempt": entry.attempt if entry else None,
                        "started_at": entry.started_at if entry else None,
                        "digest": digest(part[key]),
                        "value": part[key],
                    }
                )
    for late in sorted(patched):
        patches_at(late)
    return writes


def digest(value: Any) -> str:
    """A short, stable digest of a value (sha256 of its canonical JSON; repr where not JSON)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # values whose == is not a plain truth value (arrays)
        return a is b
