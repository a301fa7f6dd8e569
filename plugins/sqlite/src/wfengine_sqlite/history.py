"""History and time travel: the state after any step, what each step changed, and forking a
run from an earlier step into a new run.

Positions are rebuilt from the schema's snapshots and step rows (see
:mod:`wfengine_sqlite.schema`): the latest snapshot at or before a step, plus the updates of
the steps after it, in order.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from wfengine.errors import RunNotFoundError, StoreError
from wfengine.rows import (
    SNAPSHOT_COLUMNS,
    STEP_COLUMNS,
    STEP_SUMMARY_COLUMNS,
    Position,
    fork_of,
    rebuild_position,
    step_summary,
)
from wfengine.run import WorkflowRun

from .database import Database
from .schema import INSERT_SNAPSHOT, RUN_COLUMNS


class History(Database):
    """Reading a run's past; the base of :class:`~wfengine_sqlite.store.SQLiteStore`."""

    def _position(
        self, conn: sqlite3.Connection, pk: int, step: int | None, run_id: str
    ) -> Position:
        """``(step, state, next_nodes, join_progress, visited)`` after ``step`` (None: the
        last committed step): the latest snapshot at or before it plus the steps after that
        (:func:`wfengine.rows.rebuild_position`)."""
        upto = step if step is not None else 2**62
        snapshot = conn.execute(
            f"SELECT {SNAPSHOT_COLUMNS} FROM snapshots "
            "WHERE run_pk = ? AND step <= ? ORDER BY step DESC LIMIT 1",
            (pk, upto),
        ).fetchone()
        at = snapshot[0] if snapshot is not None else 0
        steps = conn.execute(
            f"SELECT {STEP_COLUMNS} FROM steps "
            "WHERE run_pk = ? AND step > ? AND step <= ? ORDER BY step",
            (pk, at, upto),
        )
        return rebuild_position(
            snapshot, steps, step=step, run_id=run_id, where=f"SQLite store {self.path}"
        )

    # -- history and time travel ---------------------------------------------------------

    def state_at(self, run_id: str, step: int) -> dict[str, Any]:
        """The state of run ``run_id`` right after step ``step`` (0: the initial state).

        Where the run was resumed with a state patch at a step, the patched state is the one
        kept for that step (it is what the next step ran on).
        """
        with self._reading(f"read run {run_id}") as conn:
            pk = self._pk_in(conn, run_id)
            return self._position(conn, pk, step, run_id)[1]

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        """What each committed step did, in order: ``{step, nodes, update, added,
        next_nodes}``. ``update`` holds the new values of the keys the step replaced;
        ``added`` what it added to keys that only grow (the new items of an ``append`` or
        ``extend`` key, the changed entries of a ``merge`` key; see :mod:`wfengine.growth`)."""
        with self._reading(f"read run {run_id}") as conn:
            pk = self._pk_in(conn, run_id)
            rows = conn.execute(
                f"SELECT {STEP_SUMMARY_COLUMNS} FROM steps WHERE run_pk = ? ORDER BY step",
                (pk,),
            ).fetchall()
        return [step_summary(row) for row in rows]

    def fork_run(self, run_id: str, step: int, *, new_run_id: str | None = None) -> WorkflowRun:
        """A new ``pending`` run that starts where run ``run_id`` was after step ``step``.

        It gets the state, visited nodes, next nodes and join progress of that moment, the
        same graph and options, and a copy of the history up to that step (its own log
        starts empty); ``engine.resume(new.run_id)`` continues it. The old run is unchanged.
        """
        with self._reading(f"read run {run_id}") as conn:
            row = conn.execute(
                f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
            if row is None:
                raise RunNotFoundError(f"run '{run_id}' not found in SQLite store {self.path}")
            source_pk = row[0]
            position = self._position(conn, source_pk, step, run_id)
            found = conn.execute(
                "SELECT data FROM run_people WHERE run_pk = ?", (source_pk,)
            ).fetchone()
        fork, run_row, snapshot, people = fork_of(
            row, position, found[0] if found else None, new_run_id
        )
        at = fork.step

        def work(conn: sqlite3.Connection) -> None:
            try:
                pk = conn.execute(
                    "INSERT INTO runs (run_id, graph_id, status, created, finished, error, "
                    "max_steps, interrupt_before, parent_run_id, parent_step, graph_version) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING pk",
                    run_row,
                ).fetchall()[0][0]
            except sqlite3.IntegrityError:
                raise StoreError(f"a run with id {fork.run_id!r} already exists") from None
            conn.execute(
                "INSERT INTO snapshots (run_pk, step, state, next_nodes, join_progress, visited)"
                " SELECT ?, step, state, next_nodes, join_progress, visited FROM snapshots "
                "WHERE run_pk = ? AND step < ?",
                (pk, source_pk, at),
            )
            conn.execute(INSERT_SNAPSHOT, (pk, *snapshot))
            if people is not None:
                conn.execute("INSERT INTO run_people (run_pk, data) VALUES (?, ?)", (pk, people))
            conn.execute(
                "INSERT INTO steps (run_pk, step, nodes, next_nodes, join_progress, changes, "
                "log_seq, logs, grown) SELECT ?, step, nodes, next_nodes, join_progress, "
                "changes, 0, '[]', grown FROM steps WHERE run_pk = ? AND step <= ?",
                (pk, source_pk, at),
            )

        self._write(f"fork run {run_id} at step {at}", work)
        return fork

    def _pk_in(self, conn: sqlite3.Connection, run_id: str) -> int:
        found = conn.execute("SELECT pk FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if found is None:
            raise RunNotFoundError(f"run '{run_id}' not found in SQLite store {self.path}")
        return int(found[0])
