"""``SQLiteStore``: graph specs and runs in one SQLite file, with a checkpoint after every step.

How a run is laid out is described in :mod:`wfengine_sqlite.schema`. In short: the run's row
and a full snapshot are written when a run starts, resumes and stops (``save_run``); each
completed step adds one row holding only what the step changed, the position after it and its
log entries (``save_step``). That one row is the whole checkpoint, so it commits atomically
with its log entries, costs little, and a run killed at any moment resumes from its last
committed step.

Connections, transactions and retries live in :mod:`wfengine_sqlite.database`. Multi-statement
writes open with ``BEGIN IMMEDIATE``; the per-step checkpoint is a single ``INSERT``, which
SQLite runs as its own transaction, taking the write lock before it reads, the same way
(and a third cheaper than wrapping it in ``BEGIN IMMEDIATE`` ... ``COMMIT``).

A log entry is stored as a JSON list ``[node, step, attempt, started, duration_ms, status]``,
plus ``error`` and ``state_before`` when either is set, and ``goto`` (a Command's chosen next
nodes) after them when set.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from wfengine.codec import _dumps, decode, encode
from wfengine.errors import RunNotFoundError, StoreError
from wfengine.rows import (
    CACHE_COLUMNS,
    StepRows,
    cache_entry,
    check_limit,
    cursor_after,
    entry_row,
    graph_listed,
    graph_row,
    people_data,
    run_filters,
    run_from_row,
    run_row,
    snapshot_row,
    version_of,
    version_row,
)
from wfengine.run import LogEntry, RunStatus, WorkflowRun
from wfengine.storage import select_prunable

from .database import _is_busy
from .history import History
from .pending import PendingWrites
from .queue import Queue
from .schema import INSERT_SNAPSHOT, INSERT_STEP, RUN_COLUMNS, UPSERT_RUN


class SQLiteStore(PendingWrites, Queue, History):
    """A durable :class:`wfengine.storage.Store` in one SQLite file (``sqlite:///path.db``).

    It keeps pending writes (:class:`wfengine.storage.PendingWritesStore`: the finished
    branches of a step that has not committed) and hands queued runs to workers
    (:class:`wfengine.storage.QueueStore`, :mod:`wfengine_sqlite.queue`). Beyond the
    protocol it reads history: :meth:`state_at` (the state after any step), :meth:`steps`
    (what each step changed) and :meth:`fork_run` (a new run starting from an earlier step
    of an old one: time travel).
    """

    durable = True

    def __init__(self, url: str = "sqlite://:memory:") -> None:
        self._pks: dict[str, int] = {}
        """run_id -> row key of runs being executed here (so a checkpoint is one INSERT)."""
        self._steps = StepRows()
        super().__init__(url)

    # -- graphs --------------------------------------------------------------------------

    def save_graph(self, graph_id: str, spec: Mapping[str, Any]) -> None:
        """Store (or replace) a graph spec under ``graph_id``."""
        row = graph_row(graph_id, spec)
        self._write(
            f"save graph {graph_id!r}",
            lambda c: c.execute(
                "INSERT OR REPLACE INTO graphs (graph_id, name, version, spec, created) "
                "VALUES (?, ?, ?, ?, ?)",
                row,
            ),
        )

    def get_graph(self, graph_id: str) -> dict[str, Any] | None:
        """The spec stored under ``graph_id``, or ``None``."""
        with self._reading(f"read graph {graph_id!r}") as conn:
            row = conn.execute("SELECT spec FROM graphs WHERE graph_id = ?", (graph_id,)).fetchone()
        return decode(row[0]) if row else None

    def list_graphs(self) -> list[dict[str, Any]]:
        """Every stored graph as ``{graph_id, name, version, created_at}``, newest first."""
        with self._reading("list graphs") as conn:
            rows = conn.execute(
                "SELECT graph_id, name, version, created FROM graphs "
                "ORDER BY created DESC, graph_id DESC"
            ).fetchall()
        return [graph_listed(row) for row in rows]

    def save_graph_version(self, version: Mapping[str, Any]) -> None:
        """Keep a graph version (``version``, ``name``, ``kind``, ``spec``) under its hash;
        saving one that is already there does nothing."""
        row = version_row(version)
        self._write(
            f"save graph version {row[1]}@{row[0][:12]}",
            lambda c: c.execute(
                "INSERT OR IGNORE INTO graph_versions (version, name, kind, spec, created) "
                "VALUES (?, ?, ?, ?, ?)",
                row,
            ),
        )

    # -- the CacheStore capability -------------------------------------------------------

    def get_cache_entry(self, key: str) -> dict[str, Any] | None:
        """The cache entry under ``key``, or ``None``."""
        with self._reading("read the node cache") as conn:
            row = conn.execute(
                f"SELECT {CACHE_COLUMNS}, value FROM node_cache WHERE key = ?", (key,)
            ).fetchone()
        return cache_entry(row, with_value=True) if row else None

    def latest_cache_entry(self, graph_id: str, node: str) -> dict[str, Any] | None:
        """The newest cache entry of ``node`` in ``graph_id``, or ``None``."""
        with self._reading("read the node cache") as conn:
            row = conn.execute(
                f"SELECT {CACHE_COLUMNS} FROM node_cache WHERE graph_id = ? AND node = ? "
                "ORDER BY created DESC LIMIT 1",
                (graph_id, node),
            ).fetchone()
        return cache_entry(row) if row else None

    def put_cache_entry(self, entry: Mapping[str, Any]) -> None:
        """Keep ``entry`` under its key (replacing one there)."""
        row = (
            entry["key"],
            entry["graph_id"],
            entry["node"],
            encode(entry["parts"]),
            encode(entry["update"]),
            entry["created"],
            entry.get("ttl"),
        )
        self._write(
            "write the node cache",
            lambda conn: conn.execute(
                "INSERT OR REPLACE INTO node_cache (key, graph_id, node, parts, value, created, "
                "ttl) VALUES (?, ?, ?, ?, ?, ?, ?)",
                row,
            ),
        )

    def list_cache_entries(self, graph_id: str | None = None) -> list[dict[str, Any]]:
        """The cache entries, newest first (without their values)."""
        sql = f"SELECT {CACHE_COLUMNS} FROM node_cache"
        args: tuple[Any, ...] = ()
        if graph_id is not None:
            sql += " WHERE graph_id = ?"
            args = (graph_id,)
        with self._reading("list the node cache") as conn:
            rows = conn.execute(sql + " ORDER BY created DESC", args).fetchall()
        return [cache_entry(row) for row in rows]

    def clear_cache(self, graph_id: str | None = None) -> int:
        """Forget the cache entries of ``graph_id`` (or all); returns how many."""

        def work(conn: sqlite3.Connection) -> int:
            if graph_id is None:
                return conn.execute("DELETE FROM node_cache").rowcount
            return conn.execute("DELETE FROM node_cache WHERE graph_id = ?", (graph_id,)).rowcount

        return int(self._write("clear the node cache", work))

    def get_graph_version(self, version: str) -> dict[str, Any] | None:
        """The graph version stored under ``version``, or ``None``."""
        with self._reading(f"read graph version {version[:12]}") as conn:
            row = conn.execute(
                "SELECT version, name, kind, spec FROM graph_versions WHERE version = ?",
                (version,),
            ).fetchone()
        if row is None:
            return None
        return version_of(row)

    # -- runs: writing -------------------------------------------------------------------

    def save_run(self, run: WorkflowRun) -> None:
        """Store the whole run (status, state, position, error, logs); insert or replace.

        Also records a snapshot of the state at ``run.step`` and drops anything stored for
        later steps (a run saved back to an earlier step is replaced, not merged).
        """
        status = RunStatus(run.status)
        row = run_row(run)
        snapshot = snapshot_row(run)
        logs = run.logs
        dropped = run.logs_dropped  # entries trimmed from memory were stored before
        asked = people_data(run)

        def work(conn: sqlite3.Connection) -> int:
            pk = int(conn.execute(UPSERT_RUN, row).fetchall()[0][0])
            conn.execute("DELETE FROM run_people WHERE run_pk = ?", (pk,))
            if asked is not None:
                conn.execute("INSERT INTO run_people (run_pk, data) VALUES (?, ?)", (pk, asked))
            conn.execute("DELETE FROM steps WHERE run_pk = ? AND step > ?", (pk, run.step))
            conn.execute("DELETE FROM snapshots WHERE run_pk = ? AND step >= ?", (pk, run.step))
            conn.execute(INSERT_SNAPSHOT, (pk, *snapshot))
            # log entries after the last committed step's belong to no step: keep them apart
            found = conn.execute(
                "SELECT log_seq + json_array_length(logs) FROM steps "
                "WHERE run_pk = ? ORDER BY step DESC LIMIT 1",
                (pk,),
            ).fetchone()
            start = found[0] if found else 0
            conn.execute("DELETE FROM attempts WHERE run_pk = ? AND seq >= ?", (pk, start))
            conn.executemany(
                "INSERT INTO attempts (run_pk, seq, entry) VALUES (?, ?, ?)",
                [
                    (pk, seq, _dumps(entry_row(e)))
                    for seq, e in enumerate(logs[max(0, start - dropped) :], start)
                ],
            )
            if status == RunStatus.COMPLETED:
                self._drop_pending(conn, pk)
            return pk

        pk = self._write(f"save run {run.run_id}", work)
        if status.is_final or status == RunStatus.PAUSED:
            self._pks.pop(run.run_id, None)  # no steps follow until a resume saves it again
            self._steps.snapshotted(run.run_id, None)
        else:
            self._steps.snapshotted(run.run_id, snapshot)
            self._pks[run.run_id] = pk

    def save_step(
        self, run: WorkflowRun, update: Mapping[str, Any], logs: Sequence[LogEntry]
    ) -> None:
        """Checkpoint step ``run.step``: one row with ``update`` (what the step changed), the
        position after it and the step's log entries, committed as one transaction.

        Raises :class:`~wfengine_sqlite.errors.UnstorableValueError` (and stores nothing) when
        a value in ``update`` cannot be stored faithfully.
        """
        step = self._steps.texts(run, update, logs)
        pk = self._pks.get(run.run_id)
        if pk is None:
            pk = self._run_pk(run.run_id)
        row = [pk, run.step, *step[:5], *step[6:]]  # (no log_count column)
        snapshot = self._steps.snapshot_due(run, step)
        with self._lock:
            conn = self._writer_conn or self._writer()
            try:
                if snapshot is None:
                    self._commit_step(conn, row)
                    return
                self._commit_step_with_snapshot(conn, row, snapshot)
                self._steps.snapshotted(run.run_id, snapshot)
                return
            except sqlite3.Error as exc:
                error = exc
            self._step_failed(run, row, error)  # (the snapshot waits for a later step)

    def _commit_step(self, conn: sqlite3.Connection, row: Sequence[Any]) -> None:
        """Write one step row: a single statement, which SQLite commits as one transaction."""
        conn.execute(INSERT_STEP, row)

    def _commit_step_with_snapshot(
        self, conn: sqlite3.Connection, row: Sequence[Any], snapshot: Sequence[Any]
    ) -> None:
        """Write a step row and a full snapshot of the position after it, in one transaction."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(INSERT_STEP, row)
            conn.execute(INSERT_SNAPSHOT, (row[0], *snapshot))
        except BaseException:
            conn.rollback()
            raise
        conn.commit()

    def _step_failed(self, run: WorkflowRun, row: list[Any], error: sqlite3.Error) -> None:
        """The slow path of :meth:`save_step`: wait out a busy database, or explain."""
        what = f"checkpoint step {run.step} of run {run.run_id}"
        conn = self._writer()
        if conn.in_transaction:
            conn.rollback()
        if isinstance(error, sqlite3.IntegrityError):
            message = str(error)
            if "FOREIGN KEY" in message:  # the run was deleted (or replaced) elsewhere
                self._pks.pop(run.run_id, None)
                try:
                    row[0] = self._run_pk(run.run_id)
                except RunNotFoundError:
                    raise StoreError(
                        f"could not {what} in SQLite store {self.path}: the run was deleted "
                        "from the store while it ran"
                    ) from None
                self._retry_busy(lambda: self._commit_step(conn, row), what)
                return
            if "UNIQUE" in message:
                raise StoreError(
                    f"could not {what} in SQLite store {self.path}: that step is already "
                    "stored; is the run being executed by another process as well?"
                ) from None
        if isinstance(error, sqlite3.OperationalError) and _is_busy(error):
            self._retry_busy(lambda: self._commit_step(conn, row), what)
            return
        raise self._error(what, error) from None

    def _run_pk(self, run_id: str) -> int:
        with self._lock:
            found = (
                self._writer().execute("SELECT pk FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            )
        if found is None:
            raise RunNotFoundError(
                f"run '{run_id}' is not in SQLite store {self.path}; "
                "save_run it before checkpointing its steps"
            )
        self._pks[run_id] = found[0]
        return int(found[0])

    # -- runs: reading -------------------------------------------------------------------

    def get_run(self, run_id: str) -> WorkflowRun | None:
        """The run with this id (state as of its last committed step, with its logs)."""
        with self._reading(f"read run {run_id}") as conn:
            row = conn.execute(
                f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
            return self._load(conn, row) if row else None

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
        """Runs newest first, filtered; returns the page and the cursor of the next page
        (``logs=False``: without their log entries, which a long run has many of).
        ``search`` matches the run id, error type or error message, ignoring case (ASCII).

        The cursor is opaque (the position after the page's last run), so paging is stable
        while new runs are added.
        """
        where, args = run_filters(
            mark="?",
            search_sql=(
                "(run_id LIKE ? ESCAPE '\\' OR json_extract(error, '$.type') LIKE ? ESCAPE '\\'"
                " OR json_extract(error, '$.message') LIKE ? ESCAPE '\\')"
            ),
            graph_id=graph_id,
            status=status,
            created_after=created_after,
            created_before=created_before,
            search=search,
            cursor=cursor,
        )
        sql = f"SELECT {RUN_COLUMNS} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created DESC, run_id DESC"
        check_limit(limit)
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit + 1)
        with self._reading("list runs") as conn:
            rows = conn.execute(sql, args).fetchall()
            more = limit is not None and len(rows) > limit
            rows = rows[:limit] if limit is not None else rows
            runs = [self._load(conn, row, logs=logs) for row in rows]
        next_cursor = cursor_after(rows[-1][4], rows[-1][1]) if more else None
        return runs, next_cursor

    def _load(
        self, conn: sqlite3.Connection, row: Sequence[Any], *, logs: bool = True
    ) -> WorkflowRun:
        pk, run_id = row[0], row[1]
        found = conn.execute("SELECT data FROM run_people WHERE run_pk = ?", (pk,)).fetchone()
        return run_from_row(
            row,
            self._position(conn, pk, None, run_id),
            found[0] if found else None,
            self._logs(conn, pk) if logs else [],
        )

    def _logs(self, conn: sqlite3.Connection, pk: int) -> list[LogEntry]:
        logs = []
        for _seq, text in conn.execute(
            "SELECT log_seq, logs FROM steps WHERE run_pk = ? AND logs != '[]' "
            "UNION ALL SELECT seq, '[' || entry || ']' FROM attempts WHERE run_pk = ? "
            "ORDER BY 1",
            (pk, pk),
        ):
            for item in decode(text):
                logs.append(LogEntry(*item))
        return logs

    # -- deleting ------------------------------------------------------------------------

    def delete_run(self, run_id: str) -> bool:
        """Delete a run with its steps, snapshots and logs; ``True`` when it existed."""
        count = self._write(
            f"delete run {run_id}",
            lambda c: c.execute("DELETE FROM runs WHERE run_id = ?", (run_id,)).rowcount,
        )
        self._pks.pop(run_id, None)
        return count > 0

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
        with self._reading("list runs to prune") as conn:
            rows = conn.execute(
                "SELECT run_id, status, created FROM runs ORDER BY created DESC, run_id DESC"
            ).fetchall()
        runs = [
            WorkflowRun(graph_id="", run_id=run_id, status=RunStatus(found), created=created)
            for run_id, found, created in rows
        ]
        doomed = select_prunable(
            runs,
            older_than=older_than,
            keep_last=keep_last,
            status=getattr(status, "value", status),
        )
        if not doomed:
            return 0

        def work(conn: sqlite3.Connection) -> int:
            deleted = 0
            for run in doomed:  # unless its status changed meanwhile (e.g. it was resumed)
                deleted += conn.execute(
                    "DELETE FROM runs WHERE run_id = ? AND status = ?",
                    (run.run_id, run.status.value),
                ).rowcount
            return deleted

        deleted = self._write("prune runs", work)
        for run in doomed:
            self._pks.pop(run.run_id, None)
        return deleted
