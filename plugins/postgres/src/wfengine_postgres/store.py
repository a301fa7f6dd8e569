"""``PostgresStore``: graph specs and runs in one PostgreSQL database, with a checkpoint after
every step, shared by every process and machine that reaches the server.

The layout (:mod:`wfengine_postgres.schema`) and the behaviour are the SQLite store's: the
run's row and a full snapshot are written when a run starts, resumes and stops
(``save_run``); each completed step adds one row holding only what the step changed (what
keys that only grow added, :mod:`wfengine.growth`), the position after it and its log
entries (``save_step``). That one ``INSERT`` is the whole checkpoint: one transaction, one
round trip. Values go through the engine's codec (:mod:`wfengine.codec`), so they come back
equal and of the same type, or are refused before anything is written.

Connections, transactions and retries live in :mod:`wfengine_postgres.database`; history in
:mod:`~wfengine_postgres.history`, pending writes in :mod:`~wfengine_postgres.pending`, the
queue in :mod:`~wfengine_postgres.queue` and the event feed in
:mod:`~wfengine_postgres.events`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg import errors as pg_errors
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

from .events import EventFeed
from .history import History
from .pending import PendingWrites
from .queue import QueueRuns
from .schema import INSERT_SNAPSHOT, INSERT_STEP, RUN_COLUMNS, UPSERT_RUN

Conn = psycopg.Connection[Any]


class PostgresStore(PendingWrites, QueueRuns, EventFeed, History):
    """A durable :class:`wfengine.storage.Store` in a PostgreSQL database
    (``postgresql://user@host/db``).

    Besides the protocol it has every optional capability of ``docs/stores.md``: graph
    versions, history (:meth:`state_at`, :meth:`steps`, :meth:`fork_run`), pending writes,
    node caches, queued runs (:meth:`claim_run`, ...) and an event feed
    (:meth:`publish_event`, :meth:`listen_events`).
    """

    durable = True

    def __init__(self, url: str) -> None:
        self._pks: dict[str, int] = {}
        """run_id -> row key of runs being executed here (so a checkpoint is one INSERT)."""
        self._steps = StepRows()
        super().__init__(url)

    # -- graphs --------------------------------------------------------------------------

    def save_graph(self, graph_id: str, spec: Mapping[str, Any]) -> None:
        """Store (or replace) a graph spec under ``graph_id``."""
        row = graph_row(graph_id, spec)
        self._run(
            f"save graph {graph_id!r}",
            lambda c: c.execute(
                "INSERT INTO graphs (graph_id, name, version, spec, created) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (graph_id) DO UPDATE SET "
                "name = excluded.name, version = excluded.version, spec = excluded.spec, "
                "created = excluded.created",
                row,
            ),
        )

    def get_graph(self, graph_id: str) -> dict[str, Any] | None:
        """The spec stored under ``graph_id``, or ``None``."""
        row = self._run(
            f"read graph {graph_id!r}",
            lambda c: c.execute(
                "SELECT spec FROM graphs WHERE graph_id = %s", (graph_id,)
            ).fetchone(),
        )
        return decode(row[0]) if row else None

    def list_graphs(self) -> list[dict[str, Any]]:
        """Every stored graph as ``{graph_id, name, version, created_at}``, newest first."""
        rows = self._run(
            "list graphs",
            lambda c: c.execute(
                "SELECT graph_id, name, version, created FROM graphs "
                "ORDER BY created DESC, graph_id DESC"
            ).fetchall(),
        )
        return [graph_listed(row) for row in rows]

    def save_graph_version(self, version: Mapping[str, Any]) -> None:
        """Keep a graph version (``version``, ``name``, ``kind``, ``spec``) under its hash;
        saving one that is already there does nothing."""
        row = version_row(version)
        self._run(
            f"save graph version {row[1]}@{row[0][:12]}",
            lambda c: c.execute(
                "INSERT INTO graph_versions (version, name, kind, spec, created) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (version) DO NOTHING",
                row,
            ),
        )

    def get_graph_version(self, version: str) -> dict[str, Any] | None:
        """The graph version stored under ``version``, or ``None``."""
        row = self._run(
            f"read graph version {version[:12]}",
            lambda c: c.execute(
                "SELECT version, name, kind, spec FROM graph_versions WHERE version = %s",
                (version,),
            ).fetchone(),
        )
        if row is None:
            return None
        return version_of(row)

    # -- the CacheStore capability -------------------------------------------------------

    def get_cache_entry(self, key: str) -> dict[str, Any] | None:
        """The cache entry under ``key``, or ``None``."""
        row = self._run(
            "read the node cache",
            lambda c: c.execute(
                f"SELECT {CACHE_COLUMNS}, value FROM node_cache WHERE key = %s", (key,)
            ).fetchone(),
        )
        return cache_entry(row, with_value=True) if row else None

    def latest_cache_entry(self, graph_id: str, node: str) -> dict[str, Any] | None:
        """The newest cache entry of ``node`` in ``graph_id``, or ``None``."""
        row = self._run(
            "read the node cache",
            lambda c: c.execute(
                f"SELECT {CACHE_COLUMNS} FROM node_cache WHERE graph_id = %s AND node = %s "
                "ORDER BY created DESC LIMIT 1",
                (graph_id, node),
            ).fetchone(),
        )
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
        self._run(
            "write the node cache",
            lambda c: c.execute(
                "INSERT INTO node_cache (key, graph_id, node, parts, value, created, ttl) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (key) DO UPDATE SET "
                "graph_id = excluded.graph_id, node = excluded.node, parts = excluded.parts, "
                "value = excluded.value, created = excluded.created, ttl = excluded.ttl",
                row,
            ),
        )

    def list_cache_entries(self, graph_id: str | None = None) -> list[dict[str, Any]]:
        """The cache entries, newest first (without their values)."""
        sql = f"SELECT {CACHE_COLUMNS} FROM node_cache"
        args: tuple[Any, ...] = ()
        if graph_id is not None:
            sql += " WHERE graph_id = %s"
            args = (graph_id,)
        rows = self._run(
            "list the node cache",
            lambda c: c.execute(sql + " ORDER BY created DESC", args).fetchall(),
        )
        return [cache_entry(row) for row in rows]

    def clear_cache(self, graph_id: str | None = None) -> int:
        """Forget the cache entries of ``graph_id`` (or all); returns how many."""

        def work(conn: Conn) -> int:
            if graph_id is None:
                return conn.execute("DELETE FROM node_cache").rowcount
            return conn.execute("DELETE FROM node_cache WHERE graph_id = %s", (graph_id,)).rowcount

        return int(self._run("clear the node cache", work))

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

        def work(conn: Conn) -> int:
            found = conn.execute(UPSERT_RUN, row).fetchone()
            assert found is not None
            pk = int(found[0])
            # three round trips to the server (in a pipeline: _write), not ten
            with conn.pipeline():
                conn.execute("DELETE FROM run_people WHERE run_pk = %s", (pk,))
                if asked is not None:
                    conn.execute(
                        "INSERT INTO run_people (run_pk, data) VALUES (%s, %s)", (pk, asked)
                    )
                conn.execute("DELETE FROM steps WHERE run_pk = %s AND step > %s", (pk, run.step))
                conn.execute(
                    "DELETE FROM snapshots WHERE run_pk = %s AND step >= %s", (pk, run.step)
                )
                conn.execute(INSERT_SNAPSHOT, (pk, *snapshot))
                # log entries after the last committed step's belong to no step: kept apart
                last_step = conn.execute(
                    "SELECT log_seq + log_count FROM steps "
                    "WHERE run_pk = %s ORDER BY step DESC LIMIT 1",
                    (pk,),
                )
            last = last_step.fetchone()
            start = int(last[0]) if last else 0
            entries = [
                (pk, seq, _dumps(entry_row(e)))
                for seq, e in enumerate(logs[max(0, start - dropped) :], start)
            ]
            with conn.pipeline():
                conn.execute("DELETE FROM attempts WHERE run_pk = %s AND seq >= %s", (pk, start))
                if entries:
                    with conn.cursor() as cur:
                        cur.executemany(
                            "INSERT INTO attempts (run_pk, seq, entry) VALUES (%s, %s, %s)",
                            entries,
                        )
                if status == RunStatus.COMPLETED:
                    self._drop_pending(conn, pk)
            return pk

        pk = self._write(f"save run {run.run_id}", work, pipelined=True)
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

        Raises :class:`~wfengine.errors.UnstorableValueError` (and stores nothing) when a
        value in ``update`` cannot be stored faithfully.
        """
        step = self._steps.texts(run, update, logs)
        pk = self._pks.get(run.run_id)
        if pk is None:
            pk = self._run_pk(run.run_id)
        row: list[Any] = [pk, run.step, *step]
        snapshot = self._steps.snapshot_due(run, step)
        try:
            with self._pool.connection() as conn:
                if snapshot is None:
                    conn.execute(INSERT_STEP, row)
                    return
                with conn.transaction():
                    conn.execute(INSERT_STEP, row)
                    conn.execute(INSERT_SNAPSHOT, (row[0], *snapshot))
            self._steps.snapshotted(run.run_id, snapshot)
            return
        except Exception as exc:  # the slow path: explain, or retry (the snapshot waits)
            error = exc
        self._step_failed(run, row, error)

    def _step_failed(self, run: WorkflowRun, row: list[Any], error: Exception) -> None:
        """The slow path of :meth:`save_step`: a deleted run, a step stored twice, a lost
        connection (retried on a new one), or an error to explain."""
        what = f"checkpoint step {run.step} of run {run.run_id}"
        if isinstance(error, pg_errors.ForeignKeyViolation):  # the run was deleted elsewhere
            self._pks.pop(run.run_id, None)
            try:
                row[0] = self._run_pk(run.run_id)
            except RunNotFoundError:
                raise StoreError(
                    f"could not {what} in {self.where}: the run was deleted from the store "
                    "while it ran"
                ) from None
        elif isinstance(error, pg_errors.UniqueViolation):
            raise self._twice(what) from None
        elif isinstance(error, psycopg.Error):
            if not isinstance(error, psycopg.OperationalError):
                raise self._error(what, error) from None
        else:
            raise error

        def again(conn: Conn) -> None:
            # after a lost connection the first INSERT may have committed: that is fine
            inserted = conn.execute(
                INSERT_STEP + " ON CONFLICT (run_pk, step) DO NOTHING",
                row,
            ).rowcount
            if inserted:
                return
            found = conn.execute(
                "SELECT changes, log_seq FROM steps WHERE run_pk = %s AND step = %s",
                (row[0], row[1]),
            ).fetchone()
            if found is None or (found[0], found[1]) != (row[5], row[6]):
                raise self._twice(what)

        self._run(what, again)

    def _twice(self, what: str) -> StoreError:
        return StoreError(
            f"could not {what} in {self.where}: that step is already stored; is the run being "
            "executed by another process as well?"
        )

    def _run_pk(self, run_id: str) -> int:
        found = self._run(
            f"find run {run_id}",
            lambda c: c.execute("SELECT pk FROM runs WHERE run_id = %s", (run_id,)).fetchone(),
        )
        if found is None:
            raise RunNotFoundError(
                f"run '{run_id}' is not in {self.where}; save_run it before checkpointing its steps"
            )
        self._pks[run_id] = int(found[0])
        return int(found[0])

    # -- runs: reading -------------------------------------------------------------------

    def get_run(self, run_id: str) -> WorkflowRun | None:
        """The run with this id (state as of its last committed step, with its logs)."""

        def work(conn: Conn) -> WorkflowRun | None:
            row = conn.execute(
                f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = %s", (run_id,)
            ).fetchone()
            return self._load(conn, row) if row else None

        return self._read(f"read run {run_id}", work)

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
        ``search`` matches the run id, error type or error message, ignoring case.

        The cursor is opaque (the position after the page's last run), so paging is stable
        while new runs are added.
        """
        where, args = run_filters(
            mark="%s",
            search_sql=(
                "(run_id ILIKE %s OR (error::json ->> 'type') ILIKE %s"
                " OR (error::json ->> 'message') ILIKE %s)"
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
            sql += " LIMIT %s"
            args.append(limit + 1)

        def work(conn: Conn) -> tuple[list[Any], bool, list[WorkflowRun]]:
            rows = conn.execute(sql, args).fetchall()
            more = limit is not None and len(rows) > limit
            rows = rows[:limit] if limit is not None else rows
            return rows, more, [self._load(conn, row, logs=logs) for row in rows]

        rows, more, runs = self._read("list runs", work)
        next_cursor = cursor_after(rows[-1][4], rows[-1][1]) if more else None
        return runs, next_cursor

    def _load(self, conn: Conn, row: Sequence[Any], *, logs: bool = True) -> WorkflowRun:
        pk, run_id = row[0], row[1]
        found = conn.execute("SELECT data FROM run_people WHERE run_pk = %s", (pk,)).fetchone()
        return run_from_row(
            row,
            self._position(conn, pk, None, run_id),
            found[0] if found else None,
            self._logs(conn, pk) if logs else [],
        )

    def _logs(self, conn: Conn, pk: int) -> list[LogEntry]:
        logs = []
        for _seq, text in conn.execute(
            "SELECT log_seq, logs FROM steps WHERE run_pk = %s AND log_count > 0 "
            "UNION ALL SELECT seq, '[' || entry || ']' FROM attempts WHERE run_pk = %s "
            "ORDER BY 1",
            (pk, pk),
        ):
            for item in decode(text):
                logs.append(LogEntry(*item))
        return logs

    # -- deleting ------------------------------------------------------------------------

    def delete_run(self, run_id: str) -> bool:
        """Delete a run with its steps, snapshots and logs; ``True`` when it existed."""
        count = self._run(
            f"delete run {run_id}",
            lambda c: c.execute("DELETE FROM runs WHERE run_id = %s", (run_id,)).rowcount,
        )
        self._pks.pop(run_id, None)
        return bool(count > 0)

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
        rows = self._run(
            "list runs to prune",
            lambda c: c.execute(
                "SELECT run_id, status, created FROM runs ORDER BY created DESC, run_id DESC"
            ).fetchall(),
        )
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

        def work(conn: Conn) -> int:
            # unless its status changed meanwhile (e.g. it was resumed)
            return int(
                conn.execute(
                    "DELETE FROM runs AS r USING unnest(%s::text[], %s::text[]) AS d(id, status) "
                    "WHERE r.run_id = d.id AND r.status = d.status",
                    ([run.run_id for run in doomed], [run.status.value for run in doomed]),
                ).rowcount
            )

        deleted = self._write("prune runs", work)
        for run in doomed:
            self._pks.pop(run.run_id, None)
        return deleted
