"""Stores keep graph specs and runs. The protocol, and the built-in in-memory store.

A backend is chosen by URL (``memory://``, ``sqlite:///path.db``); plugins add schemes through
``wfengine_register_stores``. A *durable* store gets a checkpoint after every step
(:meth:`Store.save_step`), so a run interrupted by a crash resumes from its last completed step.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from .errors import HistoryUnsupportedError, StoreError
from .memory_feed import MemoryEventFeed
from .memory_history import RunHistory, missing
from .queue import MemoryQueue
from .run import LogEntry, RunStatus, WorkflowRun


@runtime_checkable
class Store(Protocol):
    """What the engine needs of a storage backend.

    ``durable`` tells the executor to call :meth:`save_step` after every step; a store that
    keeps runs only in memory sets it to ``False`` and the executor skips the call.
    """

    durable: bool

    def save_graph(self, graph_id: str, spec: Mapping[str, Any]) -> None:
        """Store (or replace) a graph spec under ``graph_id``."""

    def get_graph(self, graph_id: str) -> dict[str, Any] | None:
        """The spec stored under ``graph_id``, or ``None``."""

    def list_graphs(self) -> list[dict[str, Any]]:
        """Every stored graph as ``{graph_id, name, version, created_at}``, newest first."""

    def save_run(self, run: WorkflowRun) -> None:
        """Store the whole run (status, state, position, error, logs); insert or replace."""

    def save_step(
        self, run: WorkflowRun, update: Mapping[str, Any], logs: Sequence[LogEntry]
    ) -> None:
        """Checkpoint step ``run.step``: its merged ``update``, its log entries and the run's
        new position (``state``, ``next_nodes``, ``join_progress``), in one transaction.

        Raise (and store nothing) when a value cannot be stored; the run then fails cleanly.
        """

    def get_run(self, run_id: str) -> WorkflowRun | None:
        """The run with this id (with its logs), or ``None``."""

    def list_runs(
        self,
        *,
        graph_id: str | None = None,
        status: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        logs: bool = True,
        created_after: float | None = None,
        created_before: float | None = None,
        search: str | None = None,
    ) -> tuple[list[WorkflowRun], str | None]:
        """Runs newest first, filtered; returns the page and the cursor of the next page.

        ``created_after`` / ``created_before`` bound the creation time (epoch seconds,
        inclusive / exclusive); ``search`` keeps runs whose id, error type or error message
        contains it, ignoring case (:func:`run_matches_search`).

        With ``logs=False`` a store may leave the runs' ``logs`` empty (a listing does not
        need them, and a long run has one entry per node attempt)."""

    def delete_run(self, run_id: str) -> bool:
        """Delete a run and its steps; ``True`` when it existed."""

    def prune(
        self,
        *,
        older_than: float | None = None,
        keep_last: int | None = None,
        status: str | None = None,
    ) -> int:
        """Delete final runs created more than ``older_than`` seconds ago, or beyond the newest
        ``keep_last``, optionally only those with ``status``; returns how many were deleted.
        Runs still running or paused are kept unless ``status`` names their status."""

    def close(self) -> None:
        """Release connections and files."""


@runtime_checkable
class VersionedStore(Protocol):
    """The optional capability of keeping graph versions (``docs/stores.md``).

    A version is a mapping ``{version, name, kind, spec}`` (see :mod:`wfengine.versions`),
    kept once under its ``version`` hash. A store without it still runs and resumes graphs,
    by their ids only.
    """

    def save_graph_version(self, version: Mapping[str, Any]) -> None:
        """Keep ``version`` under its hash (saving it again does nothing)."""

    def get_graph_version(self, version: str) -> dict[str, Any] | None:
        """The version stored under this hash, or ``None``."""


@runtime_checkable
class HistoryStore(Protocol):
    """The optional capability of reading a run's past (``docs/stores.md``); the engine's
    :mod:`wfengine.history` (and ``wf runs history/diff/blame/fork``) builds on it."""

    def state_at(self, run_id: str, step: int) -> dict[str, Any]:
        """The state right after step ``step`` (0: the initial state)."""

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        """Every committed step in order: ``{step, nodes, update, added, next_nodes}``
        (``update``: new values of replaced keys; ``added``: what the step added to keys
        that only grow, see :mod:`wfengine.growth`)."""

    def fork_run(self, run_id: str, step: int, *, new_run_id: str | None = None) -> WorkflowRun:
        """A new pending run starting where ``run_id`` was after ``step``, linked to it."""


@runtime_checkable
class PendingWritesStore(Protocol):
    """The optional capability of keeping the finished branches of a step that has not
    committed (``docs/stores.md``, "Pending writes").

    While a step with several node calls runs (parallel branches, map copies), the driver
    saves each call's update as it finishes (the calls that finished together in one write),
    under ``task`` (the node's name; a map copy's
    is ``sender[index]>node``). When the step fails or the process dies, resuming that step
    restores the saved updates and runs only the calls that did not finish. Updates of
    steps up to ``run.step`` are stale; a store may drop them whenever it likes.
    """

    def save_pending_writes(self, run_id: str, step: int, writes: Mapping[str, Any]) -> None:
        """Keep ``writes`` (``{task: update}``, an update being a mapping or ``None``) of step
        ``step``, in one write (a task saved again replaces its update)."""

    def get_pending_writes(self, run_id: str, step: int) -> dict[str, Any]:
        """The updates kept for step ``step`` of the run, by task."""


@runtime_checkable
class CacheStore(Protocol):
    """The optional capability of keeping node results for caching (``docs/caching.md``).

    An entry is a mapping ``{key, graph_id, node, parts, update, created, ttl}``: ``key``
    the hash of ``parts`` (what the result depends on; see :mod:`wfengine.cache`),
    ``update`` what the node returned. A store without it runs cached nodes uncached.
    """

    def get_cache_entry(self, key: str) -> dict[str, Any] | None:
        """The entry under ``key`` (a copy), or ``None``."""

    def latest_cache_entry(self, graph_id: str, node: str) -> dict[str, Any] | None:
        """The newest entry of ``node`` in ``graph_id`` (to explain a miss), or ``None``."""

    def put_cache_entry(self, entry: Mapping[str, Any]) -> None:
        """Keep ``entry`` under its ``key`` (replacing one there)."""

    def list_cache_entries(self, graph_id: str | None = None) -> list[dict[str, Any]]:
        """The entries (newest first, without ``update``), of one graph or all."""

    def clear_cache(self, graph_id: str | None = None) -> int:
        """Forget the entries of one graph or all; returns how many."""


@runtime_checkable
class QueueStore(Protocol):
    """The optional capability of handing queued runs to workers (``docs/stores.md``,
    "Queued runs"; :mod:`wfengine.queue` tells the whole story).

    A run is queued by saving it with status ``queued``. Leases are in seconds; a store
    measures them on its own clock where it has one.
    """

    def claim_run(self, worker: str, lease: float = ...) -> str | None:
        """Atomically lease to ``worker`` the oldest ``queued`` run, or a ``queued`` or
        ``running`` run whose lease expired, marking it ``running``; its id, or ``None``.
        Two callers (threads, processes, machines) never get the same run."""

    def heartbeat(self, run_id: str, worker: str, lease: float = ...) -> bool:
        """Extend ``worker``'s lease on the run to ``lease`` seconds from now; ``False`` when
        ``worker`` no longer holds it (reclaimed, released, deleted)."""

    def release_run(self, run_id: str, worker: str, *, requeue: bool = False) -> None:
        """End ``worker``'s claim (nothing when it holds none); ``requeue``: a run not yet
        final goes back to ``queued``."""

    def request_cancel(self, run_id: str) -> bool:
        """Cancel the run: one nobody holds (queued, paused, crashed) is ``cancelled`` at
        once; a claimed one is flagged for its worker. ``False`` when it had already ended;
        :class:`~wfengine.errors.RunNotFoundError` when there is no such run."""

    def cancel_requested(self, run_id: str) -> bool:
        """Whether a cancel was asked for the claimed run ``run_id``."""

    def claim_of(self, run_id: str) -> str | None:
        """The worker holding a live claim on the run (its lease not run out), or ``None``:
        ``resume`` refuses a run a worker is driving."""


@runtime_checkable
class EventFeed(Protocol):
    """The optional capability of carrying run events between processes (``docs/stores.md``,
    "Event feeds"): a worker publishes its runs' events, and every server's WebSockets see
    them, whichever machine ran the run (PostgreSQL: ``LISTEN``/``NOTIFY``). A store without
    it is followed by polling (``get_run``)."""

    def publish_event(self, event: Mapping[str, Any]) -> None:
        """Send ``event`` (an :meth:`Event.to_dict <wfengine.run.Event.to_dict>` mapping, JSON
        data with ``run_id``, ``type`` and ``step``) to every listener in any process. An
        event too large for the feed goes as ``{run_id, type, step, node, truncated: True}``:
        listeners read the rest from the store."""

    def listen_events(self, timeout: float) -> list[dict[str, Any]]:
        """The events published (by anyone, for any run) since this store object's previous
        call, waiting up to ``timeout`` seconds for the first; the first call starts
        listening and may return none. Callers pick the runs they follow by ``run_id``."""


DEFAULT_MEMORY_MAX_RUNS = 10_000


class MemoryStore(MemoryQueue, MemoryEventFeed):
    """Keeps graphs and runs in this process only (``memory://``). Thread-safe.

    Runs are kept as the live objects the executor updates, so a reader sees a running run's
    progress at once; nothing survives the process. So that a long-lived process (a server)
    does not grow without bound, at most ``max_runs`` runs are kept (``memory://?max_runs=N``,
    default 10,000): beyond that the oldest finished runs are forgotten first.

    It also keeps each run's history (the :class:`HistoryStore` capability: state at any
    step, steps, forks) as long as it keeps the run, for the run's last ``max_log_entries``
    steps (see :mod:`wfengine.memory_history`). The executor records a step by appending one
    step's node, update and next nodes to the run's history (:meth:`step_recorder`), so this
    costs little;
    ``memory://?history=off`` turns it off.
    """

    durable = False

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self.max_runs, self.keeps_history = _options(url)
        self._lock = threading.Lock()
        self._cache: dict[str, dict[str, Any]] = {}
        self._graphs: dict[str, tuple[float, dict[str, Any]]] = {}
        self._runs: dict[str, WorkflowRun] = {}
        self._versions: dict[str, dict[str, Any]] = {}
        self._history: dict[str, RunHistory] = {}
        self._pending: dict[str, dict[tuple[int, str], Any]] = {}

    def save_graph_version(self, version: Mapping[str, Any]) -> None:
        with self._lock:
            self._versions.setdefault(str(version["version"]), dict(version))

    def get_graph_version(self, version: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._versions.get(version)
        return dict(found) if found is not None else None

    def save_pending_writes(self, run_id: str, step: int, writes: Mapping[str, Any]) -> None:
        with self._lock:
            kept = self._pending.setdefault(run_id, {})
            for task, update in writes.items():
                kept[(step, task)] = update

    def get_pending_writes(self, run_id: str, step: int) -> dict[str, Any]:
        with self._lock:
            kept = self._pending.get(run_id, {})
            return {task: update for (at, task), update in kept.items() if at == step}

    def save_graph(self, graph_id: str, spec: Mapping[str, Any]) -> None:
        with self._lock:
            self._graphs[graph_id] = (time.time(), dict(spec))

    def get_graph(self, graph_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._graphs.get(graph_id)
        return dict(found[1]) if found else None

    def list_graphs(self) -> list[dict[str, Any]]:
        from .run import iso

        with self._lock:
            items = sorted(self._graphs.items(), key=lambda kv: kv[1][0], reverse=True)
        return [
            {
                "graph_id": gid,
                "name": spec.get("name", gid),
                "version": spec.get("version", 1),
                "created_at": iso(created),
            }
            for gid, (created, spec) in items
        ]

    # -- the CacheStore capability ---------------------------------------------------

    def get_cache_entry(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            entry = self._cache.get(key)
            return copy.deepcopy(entry) if entry is not None else None

    def latest_cache_entry(self, graph_id: str, node: str) -> dict[str, Any] | None:
        with self._lock:
            found = [
                e for e in self._cache.values() if (e["graph_id"], e["node"]) == (graph_id, node)
            ]
            return copy.deepcopy(max(found, key=lambda e: e["created"])) if found else None

    def put_cache_entry(self, entry: Mapping[str, Any]) -> None:
        with self._lock:
            self._cache.pop(entry["key"], None)
            self._cache[entry["key"]] = copy.deepcopy(dict(entry))

    def list_cache_entries(self, graph_id: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            entries = [
                {k: v for k, v in e.items() if k != "update"}
                for e in self._cache.values()
                if graph_id is None or e["graph_id"] == graph_id
            ]
        return sorted(entries, key=lambda e: e["created"], reverse=True)

    def clear_cache(self, graph_id: str | None = None) -> int:
        with self._lock:
            doomed = [
                k for k, e in self._cache.items() if graph_id is None or e["graph_id"] == graph_id
            ]
            for key in doomed:
                del self._cache[key]
        return len(doomed)

    def save_run(self, run: WorkflowRun) -> None:
        with self._lock:
            self._runs[run.run_id] = run
            if self.keeps_history:
                found = self._history.get(run.run_id)
                if found is None:
                    found = self._history[run.run_id] = RunHistory(self._lock)
                found.saved(run)
            if run.status == "completed":
                self._pending.pop(run.run_id, None)
            if len(self._runs) > self.max_runs:
                self._forget_oldest()

    def _forget_oldest(self) -> None:
        excess = len(self._runs) - self.max_runs
        doomed = []
        for run_id, run in self._runs.items():  # insertion order: oldest first
            if run.status.is_final:
                doomed.append(run_id)
                if len(doomed) == excess:
                    break
        for run_id in doomed:
            del self._runs[run_id]
            self._history.pop(run_id, None)
            self._pending.pop(run_id, None)

    def save_step(
        self, run: WorkflowRun, update: Mapping[str, Any], logs: Sequence[LogEntry]
    ) -> None:
        with self._lock:
            self._runs[run.run_id] = run
            if self.keeps_history:
                found = self._history.get(run.run_id)
                if found is not None:
                    found.stepped(run, update, logs)

    def step_recorder(self, run: WorkflowRun) -> RunHistory | None:
        """Where the executor records the steps of ``run`` it drives (after ``save_run``):
        the run's :class:`~wfengine.memory_history.RunHistory` (see there how), or ``None``
        when this store keeps no history. A store that offers this is not handed those steps
        through :meth:`save_step`."""
        if not self.keeps_history:
            return None
        with self._lock:
            return self._history.get(run.run_id)

    # -- history (HistoryStore) ------------------------------------------------------------

    def _run_history(self, run_id: str) -> tuple[WorkflowRun, RunHistory]:
        run = self._runs.get(run_id)
        if run is None:
            raise missing(run_id)
        found = self._history.get(run_id)
        if found is None:
            raise HistoryUnsupportedError(
                f"the memory store keeps no history of run {run_id}"
                + (
                    ""
                    if self.keeps_history
                    else f" (it was opened as {self.url}; open it without history=off, "
                    "or use a store that keeps history such as sqlite:///runs.db)"
                )
            )
        return run, found

    def state_at(self, run_id: str, step: int) -> dict[str, Any]:
        """The state right after step ``step`` (0: the initial state)."""
        with self._lock:
            _run, found = self._run_history(run_id)
            return found.position(step, run_id)[0]

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        """Every committed step: ``{step, nodes, update, added, next_nodes}``, in order."""
        with self._lock:
            return self._run_history(run_id)[1].public_steps()

    def fork_run(self, run_id: str, step: int, *, new_run_id: str | None = None) -> WorkflowRun:
        """A new pending run where ``run_id`` was after ``step``; the old run is unchanged."""
        with self._lock:
            run, found = self._run_history(run_id)
            fork, history = found.fork(run, step, new_run_id)
            if fork.run_id in self._runs:
                raise StoreError(f"a run with id {fork.run_id!r} already exists")
            self._runs[fork.run_id] = fork
            self._history[fork.run_id] = history
            if len(self._runs) > self.max_runs:
                self._forget_oldest()
        return fork

    def get_run(self, run_id: str) -> WorkflowRun | None:
        with self._lock:
            return self._runs.get(run_id)

    def list_runs(
        self,
        *,
        graph_id: str | None = None,
        status: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        logs: bool = True,
        created_after: float | None = None,
        created_before: float | None = None,
        search: str | None = None,
    ) -> tuple[list[WorkflowRun], str | None]:
        with self._lock:
            runs = list(self._runs.values())
        runs.sort(key=lambda r: (r.created, r.run_id), reverse=True)
        if graph_id is not None:
            runs = [r for r in runs if r.graph_id == graph_id]
        if status is not None:
            runs = [r for r in runs if r.status == status]
        if created_after is not None:
            runs = [r for r in runs if r.created >= created_after]
        if created_before is not None:
            runs = [r for r in runs if r.created < created_before]
        if search:
            runs = [r for r in runs if run_matches_search(r, search)]
        start = int(cursor) if cursor else 0
        end = len(runs) if limit is None else start + limit
        page = runs[start:end]
        return page, (str(end) if end < len(runs) else None)

    def delete_run(self, run_id: str) -> bool:
        with self._lock:
            self._history.pop(run_id, None)
            self._pending.pop(run_id, None)
            return self._runs.pop(run_id, None) is not None

    def prune(
        self,
        *,
        older_than: float | None = None,
        keep_last: int | None = None,
        status: str | None = None,
    ) -> int:
        with self._lock:
            runs = sorted(self._runs.values(), key=lambda r: r.created, reverse=True)
            doomed = select_prunable(
                runs, older_than=older_than, keep_last=keep_last, status=status
            )
            for run in doomed:
                del self._runs[run.run_id]
                self._history.pop(run.run_id, None)
        return len(doomed)

    def close(self) -> None:
        pass


def _options(url: str) -> tuple[int, bool]:
    """``max_runs`` and ``history`` of a memory store URL."""
    from urllib.parse import parse_qs, urlsplit

    query = parse_qs(urlsplit(url).query)
    raw = query.get("history", ["on"])[-1].lower()
    if raw not in ("on", "off", "1", "0", "true", "false"):
        raise ValueError(f"memory store URL {url!r}: history must be on or off, got {raw!r}")
    return _max_runs(url), raw in ("on", "1", "true")


def _max_runs(url: str) -> int:
    from urllib.parse import parse_qs, urlsplit

    query = parse_qs(urlsplit(url).query)
    unknown = sorted(set(query) - {"max_runs", "history"})
    if unknown:
        raise ValueError(f"memory store URL {url!r}: unknown option(s) {', '.join(unknown)}")
    raw = query.get("max_runs", [str(DEFAULT_MEMORY_MAX_RUNS)])[-1]
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"memory store URL {url!r}: max_runs must be a positive integer")
    return value


def run_matches_search(run: WorkflowRun, search: str) -> bool:
    """Whether ``search`` occurs, ignoring case, in the run's id or its error's type or
    message (the ``search`` filter of :meth:`Store.list_runs`)."""
    needle = search.casefold()
    error = run.error or {}
    fields = (run.run_id, error.get("type"), error.get("message"))
    return any(isinstance(f, str) and needle in f.casefold() for f in fields)


def select_prunable(
    runs_newest_first: Sequence[WorkflowRun],
    *,
    older_than: float | None,
    keep_last: int | None,
    status: str | None,
) -> list[WorkflowRun]:
    """Which runs :meth:`Store.prune` deletes (shared by stores that prune in Python)."""
    now = time.time()
    doomed = []
    for index, run in enumerate(runs_newest_first):
        if status is not None:
            if run.status != status:
                continue
        elif not RunStatus(run.status).is_final:
            continue
        too_old = older_than is not None and run.created < now - older_than
        beyond = keep_last is not None and index >= keep_last
        if too_old or beyond:
            doomed.append(run)
    return doomed


class GraphStore:
    """The seed's graph store: ``save`` a spec, ``get`` it by id, ``list`` them."""

    def __init__(self, store: Store | None = None) -> None:
        self.store: Store = store if store is not None else MemoryStore()

    def save(self, spec: Mapping[str, Any], graph_id: str | None = None) -> str:
        """Store ``spec``; returns its id (``graph_id`` or a new uuid4 hex)."""
        import uuid

        gid = graph_id or uuid.uuid4().hex
        self.store.save_graph(gid, spec)
        return gid

    def get(self, graph_id: str) -> dict[str, Any] | None:
        """The spec stored under ``graph_id``, or ``None``."""
        return self.store.get_graph(graph_id)

    def list(self) -> list[dict[str, Any]]:
        """Every stored graph, newest first."""
        return self.store.list_graphs()


class RunStore:
    """The seed's run store: ``save`` a run, ``get`` it by id, ``get_by_graph``."""

    def __init__(self, store: Store | None = None) -> None:
        self.store: Store = store if store is not None else MemoryStore()

    def save(self, run: WorkflowRun) -> None:
        """Store the run."""
        self.store.save_run(run)

    def get(self, run_id: str) -> WorkflowRun | None:
        """The run with this id, or ``None``."""
        return self.store.get_run(run_id)

    def get_by_graph(self, graph_id: str) -> list[WorkflowRun]:
        """Every run of one graph, newest first."""
        runs, _ = self.store.list_runs(graph_id=graph_id)
        return runs
