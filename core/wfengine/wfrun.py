"""Portable runs: ``wf runs export ID -o run.wfrun`` and ``wf runs import run.wfrun``.

A ``.wfrun`` file is a small SQLite database (format version 1, or 2 when a log entry carries
a Command's ``goto``, which wfengine before 2 cannot read)::

    meta   (key, value)        format, format_version, wfengine and plugin versions, exported_at
    run    (data)              the run: ids, status, times, error, options, final position,
                               state patches given on resume (with their values)
    graph  (data)              its graph version {version, name, kind, spec}, if the store had it
    steps  (step, nodes, next_nodes, update, added)   what each step changed (tagged JSON)
    logs   (seq, entry)        every log entry
    initial(state)             the state before step 1

Values are tagged JSON (:mod:`wfengine.codec`), so dates, decimals, sets... come back as
they were. Export reads the store's :class:`~wfengine.storage.HistoryStore` capability;
import writes through the plain :class:`~wfengine.storage.Store` protocol (``save_run``,
then ``save_step`` for every step, then the final ``save_run``), so any store can take a run
and one with history answers ``state_at`` for it as the source did.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from .codec import decode, encode
from .errors import StoreError
from .growth import MERGE, TAIL, StepUpdate, regrow
from .history import history_store
from .run import LogEntry, RunStatus, WorkflowRun
from .storage import Store, VersionedStore
from .version import __version__

FORMAT = "wfrun"
FORMAT_VERSION = 2
"""The newest format this wfengine reads; a file is written with the oldest that holds it."""
_PACKAGES = ("wfengine", "wfengine-sqlite", "wfengine-jsonlog", "wfengine-dataquality")

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE run (data TEXT NOT NULL);
CREATE TABLE graph (data TEXT NOT NULL);
CREATE TABLE initial (state TEXT NOT NULL);
CREATE TABLE steps (step INTEGER PRIMARY KEY, nodes TEXT NOT NULL, next_nodes TEXT NOT NULL,
                    "update" TEXT NOT NULL, added TEXT NOT NULL);
CREATE TABLE logs (seq INTEGER PRIMARY KEY, entry TEXT NOT NULL);
"""


class WfrunError(StoreError):
    """A ``.wfrun`` file cannot be written or read (the message says which and why)."""


def export_run(store: Store, run_id: str, path: str | Path) -> Path:
    """Write run ``run_id`` of ``store`` to the ``.wfrun`` file ``path`` (replaced if there)."""
    history = history_store(store)
    run = store.get_run(run_id)
    if run is None:
        from .errors import RunNotFoundError

        raise RunNotFoundError(f"run '{run_id}' not found")
    steps = history.steps(run_id)
    initial = history.state_at(run_id, 0)
    graph = None
    if run.graph_version and isinstance(store, VersionedStore):
        graph = store.get_graph_version(run.graph_version)
    target = Path(path)
    if target.exists():
        target.unlink()
    conn = sqlite3.connect(target)
    try:
        with conn:
            conn.executescript(_SCHEMA)
            meta = {
                "format": FORMAT,
                "format_version": "2" if any(e.goto is not None for e in run.logs) else "1",
                "wfengine": __version__,
                "packages": encode(_package_versions()),
                "exported_at": str(time.time()),
            }
            conn.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
            data = _run_data(run)
            data["patches"] = [  # the values of a patch are those of its step's state
                {"step": p["step"], "keys": list(p["keys"]), "values": _patched(history, run, p)}
                for p in run.patches
            ]
            conn.execute("INSERT INTO run VALUES (?)", (encode(data, "run"),))
            if graph is not None:
                conn.execute("INSERT INTO graph VALUES (?)", (encode(graph, "graph"),))
            conn.execute("INSERT INTO initial VALUES (?)", (encode(initial),))
            conn.executemany(
                "INSERT INTO steps VALUES (?, ?, ?, ?, ?)",
                [
                    (
                        s["step"],
                        encode(s["nodes"]),
                        encode(s["next_nodes"]),
                        encode(s["update"]),
                        encode(s.get("added", {})),
                    )
                    for s in steps
                ],
            )
            conn.executemany(
                "INSERT INTO logs VALUES (?, ?)",
                [(seq, encode(_entry(e), "log")) for seq, e in enumerate(run.logs)],
            )
    finally:
        conn.close()
    return target


def read_run(path: str | Path) -> dict[str, Any]:
    """The contents of a ``.wfrun`` file: ``{meta, run, graph, initial, steps, logs}``."""
    source = Path(path)
    if not source.is_file():
        raise WfrunError(f"{source}: no such file (export one with: wf runs export ID -o FILE)")
    try:
        conn = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            if meta.get("format") != FORMAT:
                raise WfrunError(f"{source} is not a .wfrun file (no 'wfrun' format mark)")
            if int(meta.get("format_version", 0)) > FORMAT_VERSION:
                raise WfrunError(
                    f"{source} has .wfrun format version {meta['format_version']}, newer than "
                    f"this wfengine reads ({FORMAT_VERSION}); upgrade wfengine"
                )
            graph = conn.execute("SELECT data FROM graph").fetchone()
            data = {
                "meta": meta,
                "run": decode(conn.execute("SELECT data FROM run").fetchone()[0]),
                "graph": decode(graph[0]) if graph else None,
                "initial": decode(conn.execute("SELECT state FROM initial").fetchone()[0]),
                "steps": [
                    {
                        "step": step,
                        "nodes": decode(nodes),
                        "next_nodes": decode(nxt),
                        "update": decode(update),
                        "added": decode(added),
                    }
                    for step, nodes, nxt, update, added in conn.execute(
                        'SELECT step, nodes, next_nodes, "update", added FROM steps ORDER BY step'
                    )
                ],
                "logs": [
                    LogEntry(*decode(text))
                    for (text,) in conn.execute("SELECT entry FROM logs ORDER BY seq")
                ],
            }
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise WfrunError(f"{source} is not a readable .wfrun file: {exc}") from None
    return data


def import_run(store: Store, path: str | Path, *, run_id: str | None = None) -> WorkflowRun:
    """Load the run in ``path`` into ``store`` (under its own id, or ``run_id``); refused
    when the store already has a run with that id."""
    data = read_run(path)
    fields = data["run"]
    new_id = run_id or fields["run_id"]
    if store.get_run(new_id) is not None:
        raise WfrunError(
            f"the store already has a run {new_id}; delete it first or import under another "
            "id (--run-id)"
        )
    if data["graph"] is not None and isinstance(store, VersionedStore):
        store.save_graph_version(data["graph"])
    steps = data["steps"]
    logs: list[LogEntry] = data["logs"]
    run = WorkflowRun(
        graph_id=fields["graph_id"],
        state=dict(data["initial"]),
        run_id=new_id,
        status=RunStatus.RUNNING,
        next_nodes=list(steps[0]["nodes"]) if steps else list(fields["next_nodes"]),
        max_steps=fields["max_steps"],
        interrupt_before=list(fields["interrupt_before"]),
        created=fields["created"],
        graph_version=fields["graph_version"],
    )
    patches: dict[int, list[dict[str, Any]]] = {}
    for patch in fields.get("patches") or []:  # (files written before patches: none)
        patches.setdefault(patch["step"], []).append(patch)
    _patch(run, patches.pop(0, []))  # its values are in the initial state already
    store.save_run(run)
    for item in steps:
        grown: dict[str, tuple[str, Any]] = {}
        for key, part in item["added"].items():
            kind = TAIL if isinstance(part, list) else MERGE
            before = run.state.get(key)
            grown[key] = (TAIL, len(before or [])) if kind == TAIL else (MERGE, list(part))
            run.state[key] = regrow(before, kind, part)
        run.state.update(item["update"])
        run.step = item["step"]
        run.visited_nodes.extend(item["nodes"])
        run.next_nodes = list(item["next_nodes"])
        mine = [e for e in logs if e.step == run.step]
        run.logs.extend(mine)
        changed = {**item["update"], **{k: run.state[k] for k in grown}}
        store.save_step(run, StepUpdate(changed, grown) if grown else changed, mine)
        if run.step in patches:  # given on resume after this step: part of its state
            _patch(run, patches.pop(run.step))
            store.save_run(run)
    run.logs = list(logs)
    run.status = RunStatus(fields["status"])
    run.error = fields["error"]
    run.finished = fields["finished"]
    run.next_nodes = list(fields["next_nodes"])
    run.join_progress = {k: list(v) for k, v in fields["join_progress"].items()}
    store.save_run(run)
    return run


def _patched(history: Any, run: WorkflowRun, patch: Mapping[str, Any]) -> dict[str, Any]:
    """The values a state patch set: its keys in the state of its step."""
    state = history.state_at(run.run_id, patch["step"])
    return {k: state[k] for k in patch["keys"] if k in state}


def _patch(run: WorkflowRun, patches: list[dict[str, Any]]) -> None:
    """Apply exported state patches to ``run`` and record them on it."""
    for patch in patches:
        run.state.update(patch.get("values") or {})
        run.patches.append({"step": patch["step"], "keys": list(patch["keys"])})


def _run_data(run: WorkflowRun) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "graph_id": run.graph_id,
        "status": run.status.value,
        "created": run.created,
        "finished": run.finished,
        "error": run.error,
        "max_steps": run.max_steps,
        "interrupt_before": list(run.interrupt_before),
        "graph_version": run.graph_version,
        "step": run.step,
        "next_nodes": list(run.next_nodes),
        "join_progress": {k: list(v) for k, v in run.join_progress.items()},
    }


def _entry(entry: LogEntry) -> list[Any]:
    return [
        entry.node,
        entry.step,
        entry.attempt,
        entry.started,
        entry.duration_ms,
        entry.status,
        entry.error,
        *([None, entry.goto] if entry.goto is not None else []),
    ]


def _package_versions() -> dict[str, str]:
    found = {}
    for name in _PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found
