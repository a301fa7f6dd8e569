"""What stores keeping runs as rows of an SQL database share (wfengine-sqlite and
wfengine-postgres): the text of a snapshot row and of log entries, rebuilding a run's
position from its snapshot and step rows, the ``list_runs`` filters and cursors. Only the SQL
dialect differs between them, so the statements' placeholders and the JSON lookup of the
error are the caller's.

A position is rebuilt from the latest snapshot at or before a step plus the step rows after
it (see ``docs/stores.md``): each step row holds what the step changed (``changes``, tagged
JSON), what keys that only grow added (``grown``, :mod:`wfengine.growth`), the nodes it ran
and the position after it.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from json.encoder import encode_basestring_ascii as _json_str
from typing import Any, NamedTuple

from .codec import TAG, _dumps, _quote, _Unstorable, decode, encode, to_data
from .errors import InvalidQueryError, StoreError
from .growth import TAIL, added, regrow_into
from .memory_history import inherited_patches
from .run import LogEntry, RunStatus, WorkflowRun, iso

Position = tuple[int, dict[str, Any], list[str], dict[str, list[str]], list[str]]
"""``(step, state, next_nodes, join_progress, visited_nodes)``."""

PEOPLE_FIELDS = (
    "interrupt_after",
    "questions",
    "answers",
    "budget",
    "spent",
    "pause_reason",
    "cache_log",
    "patches",
)
"""The run's fields kept together in one tagged-JSON object (table ``run_people``): people in
the loop, caching, and the state patches given on resume (a reader that does not know a field
ignores it, so a field joins without a schema version)."""

SNAPSHOT_EVERY = 1000
"""A step also writes a full snapshot when at least this many steps were stored since the
last one, and they hold at least :data:`SNAPSHOT_RATIO` times its bytes: rebuilding a state
then replays a bounded part of the run, and snapshots cost a bounded part of its storage."""
SNAPSHOT_RATIO = 4

CACHE_COLUMNS = "key, graph_id, node, parts, created, ttl"
"""The ``node_cache`` columns :func:`cache_entry` reads, in its order (then ``value``)."""

SNAPSHOT_COLUMNS = "step, state, next_nodes, join_progress, visited"
"""The snapshot columns :func:`rebuild_position` reads, in its order."""
STEP_COLUMNS = "step, nodes, next_nodes, join_progress, changes, grown"
"""The step columns :func:`rebuild_position` reads, in its order."""

_LIKE_SPECIAL = re.compile(r"[\\%_]")


def rebuild_position(
    snapshot: Sequence[Any] | None,
    steps: Iterable[Sequence[Any]],
    *,
    step: int | None,
    run_id: str,
    where: str,
) -> Position:
    """The position after ``step`` (``None``: the last step in ``steps``) from the snapshot
    row at or before it (:data:`SNAPSHOT_COLUMNS`, ``None`` when there is none) and the step
    rows after the snapshot up to ``step`` in order (:data:`STEP_COLUMNS`). ``where`` names
    the store in errors (a missing step, no state at ``step``)."""
    if snapshot is None:
        if step is not None:
            raise StoreError(f"run {run_id} has no stored state at step {step}")
        at, state, nxt, progress, visited = 0, {}, "[]", None, []
    else:
        at, state_text, nxt, progress, visited_text = snapshot
        state = decode(state_text)
        visited = json.loads(visited_text)
    for number, nodes, next_text, progress_text, changes, grown in steps:
        if number != at + 1:
            raise StoreError(
                f"run {run_id}: step {at + 1} is missing from {where} (found step {number} next)"
            )
        state.update(decode(changes))
        if grown is not None:
            for key, (kind, part) in decode(grown).items():
                regrow_into(state, key, kind, part)  # the decoded values are ours
        visited.extend(json.loads(nodes))
        at, nxt, progress = number, next_text, progress_text
    if step is not None and at != step:
        raise StoreError(f"run {run_id} has no step {step}; its last stored step is {at}")
    return at, state, json.loads(nxt), json.loads(progress) if progress else {}, visited


def run_filters(
    *,
    mark: str,
    search_sql: str,
    graph_id: str | None = None,
    status: str | None = None,
    created_after: float | None = None,
    created_before: float | None = None,
    search: str | None = None,
    cursor: str | None = None,
) -> tuple[list[str], list[Any]]:
    """The ``WHERE`` conditions and their arguments of a ``list_runs`` call on a ``runs``
    table (columns ``graph_id``, ``status``, ``created``, ``run_id``): ``mark`` is the
    dialect's placeholder (``?``, ``%s``), ``search_sql`` the condition matching ``search``
    with three placeholders, each given the escaped ``LIKE`` pattern (the run id, the error
    type, the error message; ``\\`` escapes)."""
    where: list[str] = []
    args: list[Any] = []
    if graph_id is not None:
        where.append(f"graph_id = {mark}")
        args.append(graph_id)
    if status is not None:
        where.append(f"status = {mark}")
        args.append(getattr(status, "value", status))
    if created_after is not None:
        where.append(f"created >= {mark}")
        args.append(created_after)
    if created_before is not None:
        where.append(f"created < {mark}")
        args.append(created_before)
    if search:
        pattern = "%" + _LIKE_SPECIAL.sub(r"\\\g<0>", search) + "%"
        where.append(search_sql)
        args += [pattern, pattern, pattern]
    if cursor:
        created, run_id = parse_cursor(cursor)
        where.append(f"(created < {mark} OR (created = {mark} AND run_id < {mark}))")
        args += [created, created, run_id]
    return where, args


def check_limit(limit: int | None) -> None:
    """Refuse a ``list_runs`` limit below 1."""
    if limit is not None and limit < 1:
        raise InvalidQueryError(f"limit must be at least 1, got {limit}")


def cursor_after(created: float, run_id: str) -> str:
    """The opaque cursor of the page after the run (``created``, ``run_id``): stable while
    runs are added, as pages are ordered newest first by those two."""
    return f"{created!r}~{run_id}"


def parse_cursor(cursor: str) -> tuple[float, str]:
    """``(created, run_id)`` of a cursor :func:`cursor_after` made."""
    created, sep, run_id = cursor.partition("~")
    try:
        if not sep:
            raise ValueError
        return float(created), run_id
    except ValueError:
        raise InvalidQueryError(
            f"invalid list_runs cursor {cursor!r}; pass back the cursor a previous call returned"
        ) from None


def snapshot_row(run: WorkflowRun) -> tuple[Any, ...]:
    """``(step, state, next_nodes, join_progress, visited)`` of a snapshot of ``run``."""
    return (
        run.step,
        encode(run.state),
        _dumps(list(run.next_nodes)),
        _dumps(run.join_progress) if run.join_progress else None,
        _dumps(list(run.visited_nodes)),
    )


def logs_text(logs: Sequence[LogEntry]) -> str:
    """A step's log entries as stored: a JSON list of :func:`entry_row` lists."""
    if len(logs) == 1:  # the usual step: one node, one attempt; written directly (2x faster)
        e = logs[0]
        started, duration = e.started, e.duration_ms
        if (
            e.error is None
            and e.state_before is None
            and e.goto is None
            and started - started == 0.0  # finite: repr() is then valid JSON
            and duration - duration == 0.0
            and type(e.step) is int
            and type(e.attempt) is int
        ):
            return (
                f"[[{_json_str(e.node)},{e.step},{e.attempt},{started!r},{duration!r},"
                f"{_json_str(e.status)}]]"
            )
    return _dumps([entry_row(e) for e in logs])


def entry_row(entry: LogEntry) -> list[Any]:
    """A log entry as stored (times as the exact floats)."""
    item: list[Any] = [
        entry.node,
        entry.step,
        entry.attempt,
        entry.started,
        entry.duration_ms,
        entry.status,
    ]
    if entry.error is not None or entry.state_before is not None or entry.goto is not None:
        item.append(loose_data(entry.error))
        state = None
        if entry.state_before is not None:
            try:
                state = to_data(entry.state_before)
            except (_Unstorable, RecursionError):
                pass  # the state the attempt saw held something unstorable: keep the rest
        if state is not None or entry.goto is not None:
            item.append(state)
        if entry.goto is not None:
            item.append(list(entry.goto))
    return item


def loose_data(value: Any) -> Any:
    """Error details as tagged JSON data; anything unstorable in them becomes its repr."""
    try:
        return to_data(value)
    except (_Unstorable, RecursionError):
        return json.loads(json.dumps(value, default=repr))


def run_row(run: WorkflowRun) -> tuple[Any, ...]:
    """The ``runs`` row of ``run`` as the stores upsert it: ``run_id, graph_id, status,
    created, finished, error, max_steps, interrupt_before, graph_version``."""
    return (
        run.run_id,
        run.graph_id,
        RunStatus(run.status).value,
        run.created,
        run.finished,
        _dumps(loose_data(run.error)) if run.error is not None else None,
        run.max_steps,
        _dumps(list(run.interrupt_before)),
        run.graph_version,
    )


def people_data(run: WorkflowRun) -> str | None:
    """The tagged JSON of ``run``'s :data:`PEOPLE_FIELDS` that are set, or ``None``."""
    people = {f: getattr(run, f) for f in PEOPLE_FIELDS if getattr(run, f)}
    return encode(people) if people else None


def run_from_row(
    row: Sequence[Any], position: Position, people: str | None, logs: list[LogEntry]
) -> WorkflowRun:
    """The run a ``runs`` row (``pk, run_id, graph_id, status, created, finished, error,
    max_steps, interrupt_before, graph_version``), its position, its :func:`people_data`
    and its log entries make."""
    _pk, run_id, graph_id, status, created, finished, error, max_steps, interrupt, version = row
    step, state, next_nodes, join_progress, visited = position
    found = decode(people) if people else {}
    return WorkflowRun(
        graph_id=graph_id,
        state=state,
        run_id=run_id,
        status=RunStatus(status),
        visited_nodes=visited,
        logs=logs,
        error=decode(error) if error is not None else None,
        step=step,
        next_nodes=next_nodes,
        join_progress=join_progress,
        max_steps=max_steps,
        interrupt_before=json.loads(interrupt),
        interrupt_after=list(found.get("interrupt_after", [])),
        questions=dict(found.get("questions", {})),
        answers=dict(found.get("answers", {})),
        budget=dict(found.get("budget", {})),
        spent=dict(found.get("spent", {})),
        pause_reason=found.get("pause_reason"),
        cache_log=list(found.get("cache_log", [])),
        patches=list(found.get("patches", [])),
        created=created,
        finished=finished,
        graph_version=version,
    )


class StepTexts(NamedTuple):
    """The stored text of one step: what goes in its row besides the run's key and number."""

    nodes: str
    next_nodes: str
    join_progress: str | None
    changes: str
    log_seq: int
    log_count: int
    logs: str
    grown: str | None


class StepRows:
    """What a SQL store keeps in its process to write step rows cheaply: the JSON text of
    node-name lists (a graph has few distinct ones), and per run the steps and bytes stored
    since its last snapshot, to decide when a step also writes a full snapshot
    (:data:`SNAPSHOT_EVERY`, :data:`SNAPSHOT_RATIO`)."""

    def __init__(self) -> None:
        self._names: dict[tuple[str, ...], str] = {}
        self._since: dict[str, list[int]] = {}
        """run_id -> [steps, bytes] stored since its last snapshot, and that snapshot's bytes."""

    def names_text(self, names: Sequence[str]) -> str:
        """JSON text of a list of node names (cached)."""
        key = tuple(names)
        text = self._names.get(key)
        if text is None:
            if len(self._names) > 4096:
                self._names.clear()
            text = self._names[key] = _dumps(list(key))
        return text

    def texts(
        self, run: WorkflowRun, update: Mapping[str, Any], logs: Sequence[LogEntry]
    ) -> StepTexts:
        """The text of step ``run.step``: ``update`` what it changed (a
        :class:`~wfengine.growth.StepUpdate` for keys that grew: only what they added is
        kept), ``logs`` its log entries. Raises ``UnstorableValueError`` for a value that
        cannot be stored."""
        grown = getattr(update, "grown", None)  # a wfengine.growth.StepUpdate
        if grown:
            changes = encode({k: v for k, v in update.items() if k not in grown})
            grown_part: str | None = grown_text(update, grown)
        else:
            changes = encode(update)
            grown_part = None
        # each node of the step logged exactly one completed attempt, and the executor has
        # appended the step's nodes (in step order) to visited_nodes
        done = 0
        for entry in logs:
            if entry.status == "completed":
                done += 1
        visited = run.visited_nodes
        return StepTexts(
            self.names_text(visited[len(visited) - done :]),
            self.names_text(run.next_nodes),
            _dumps(run.join_progress) if run.join_progress else None,
            changes,
            run.logs_dropped + len(run.logs) - len(logs),
            len(logs),
            logs_text(logs),
            grown_part,
        )

    def snapshot_due(self, run: WorkflowRun, step: StepTexts) -> tuple[Any, ...] | None:
        """Count ``step`` against its run; the :func:`snapshot_row` to write with it when a
        snapshot is due, else ``None`` (call :meth:`snapshotted` once it is written)."""
        since = self._since.get(run.run_id)
        if since is None:
            since = self._since[run.run_id] = [0, 0, 0]
        since[0] += 1
        since[1] += len(step.changes) + len(step.logs) + (len(step.grown) if step.grown else 0)
        if since[0] >= SNAPSHOT_EVERY and since[1] >= SNAPSHOT_RATIO * since[2]:
            return snapshot_row(run)
        return None

    def snapshotted(self, run_id: str, snapshot: tuple[Any, ...] | None) -> None:
        """``snapshot`` of the run was written (by a step, or by ``save_run``): count from
        there; ``None``: the run stopped, forget it."""
        if snapshot is None:
            self._since.pop(run_id, None)
        else:
            self._since[run_id] = [0, 0, len(snapshot[1]) + len(snapshot[4])]


def cache_entry(row: Sequence[Any], *, with_value: bool = False) -> dict[str, Any]:
    """A cache entry from a ``node_cache`` row (:data:`CACHE_COLUMNS`, then ``value`` when
    ``with_value``)."""
    entry = {
        "key": row[0],
        "graph_id": row[1],
        "node": row[2],
        "parts": decode(row[3]),
        "created": row[4],
        "ttl": row[5],
    }
    if with_value:
        entry["update"] = decode(row[6])
    return entry


def grown_text(update: Mapping[str, Any], grown: Mapping[str, Any]) -> str:
    """What a step added to its growing keys, as stored: ``{key: [kind, part]}`` as tagged
    JSON, each part encoded on its own (an error names the key and, for a list, where its
    new items start: ``state["messages"][41:][0]...``)."""
    items = []
    for key, growth in grown.items():
        if type(key) is not str or key == TAG:  # not a plain JSON key: the general form
            return encode({k: [g[0], added(update[k], g)] for k, g in grown.items()})
        kind, arg = growth
        value = added(update[key], growth)
        try:
            part = encode(value)
        except StoreError:  # again, with the path named
            encode(value, f"state[{_quote(key)}]" + (f"[{arg}:]" if kind == TAIL else ""))
            raise
        items.append(f"{_json_str(key)}:[{_json_str(kind)},{part}]")
    return "{" + ",".join(items) + "}"


class Fork(NamedTuple):
    """What a store writes to fork a run (:meth:`~wfengine.storage.HistoryStore.fork_run`)."""

    run: WorkflowRun
    """The new pending run, where the source was after the step."""
    run_row: tuple[Any, ...]
    """Its ``runs`` row: ``run_id, graph_id, status, created, finished, error, max_steps,
    interrupt_before, parent_run_id, parent_step, graph_version``."""
    snapshot: tuple[Any, ...]
    """Its snapshot row at the step (:data:`SNAPSHOT_COLUMNS`)."""
    people: str | None
    """Its :data:`PEOPLE_FIELDS` data: the state patches it inherits, or ``None``."""


def fork_of(
    row: Sequence[Any], position: Position, people: str | None, new_run_id: str | None
) -> Fork:
    """The fork of the run in ``row`` (a ``runs`` row as :func:`run_from_row` reads it) at
    ``position`` (its step), with ``people`` the source's :func:`people_data`: the state
    patches it got up to that step come along (their values are in the state)."""
    at, state, next_nodes, join_progress, visited = position
    patches = inherited_patches(decode(people).get("patches", []) if people else [], at)
    fork = WorkflowRun(
        graph_id=row[2],
        state=state,
        run_id=new_run_id or uuid.uuid4().hex,
        status=RunStatus.PENDING,
        visited_nodes=visited,
        step=at,
        next_nodes=next_nodes,
        join_progress=join_progress,
        max_steps=row[7],
        interrupt_before=json.loads(row[8]),
        graph_version=row[9],
        patches=patches,
    )
    run_row = (
        fork.run_id,
        fork.graph_id,
        fork.status.value,
        fork.created,
        None,
        None,
        fork.max_steps,
        row[8],
        row[1],
        at,
        fork.graph_version,
    )
    return Fork(
        fork,
        run_row,
        snapshot_row(fork),
        encode({"patches": patches}) if patches else None,
    )


def graph_row(graph_id: str, spec: Mapping[str, Any]) -> tuple[Any, ...]:
    """The ``graphs`` row of a spec: ``graph_id, name, version, spec, created``."""
    data = dict(spec)
    return (
        graph_id,
        str(data.get("name", graph_id)),
        encode(data.get("version", 1), "spec"),
        encode(data, "spec"),
        time.time(),
    )


def graph_listed(row: Sequence[Any]) -> dict[str, Any]:
    """A ``list_graphs`` entry from a ``graph_id, name, version, created`` row."""
    graph_id, name, version, created = row
    return {
        "graph_id": graph_id,
        "name": name,
        "version": decode(version),
        "created_at": iso(created),
    }


def version_row(version: Mapping[str, Any]) -> tuple[Any, ...]:
    """The ``graph_versions`` row of a graph version: ``version, name, kind, spec, created``."""
    spec = version.get("spec")
    return (
        str(version["version"]),
        str(version["name"]),
        str(version["kind"]),
        encode(spec, "spec") if spec is not None else None,
        time.time(),
    )


def version_of(row: Sequence[Any]) -> dict[str, Any]:
    """A graph version from a ``version, name, kind, spec`` row."""
    return {
        "version": row[0],
        "name": row[1],
        "kind": row[2],
        "spec": decode(row[3]) if row[3] is not None else None,
    }


STEP_SUMMARY_COLUMNS = "step, nodes, changes, next_nodes, grown"
"""The step columns :func:`step_summary` reads, in its order."""


def step_summary(row: Sequence[Any]) -> dict[str, Any]:
    """A ``HistoryStore.steps`` entry, ``{step, nodes, update, added, next_nodes}``, from a
    step row (:data:`STEP_SUMMARY_COLUMNS`)."""
    step, nodes, changes, nxt, grown = row
    return {
        "step": step,
        "nodes": json.loads(nodes),
        "update": decode(changes),
        "added": {k: part for k, (_kind, part) in decode(grown).items()} if grown else {},
        "next_nodes": json.loads(nxt),
    }
