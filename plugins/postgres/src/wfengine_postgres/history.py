"""History and time travel: the state after any step, what each step changed, and forking a
run from an earlier step into a new run (the :class:`wfengine.storage.HistoryStore`
capability).

Positions are rebuilt from the snapshots and step rows (:mod:`wfengine_postgres.schema`): the
latest snapshot at or before a step, plus the updates of the steps after it, in order.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import errors as pg_errors
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

Conn = psycopg.Connection[Any]


class History(Database):
    """Reading a run's past; the base of :class:`~wfengine_postgres.store.PostgresStore`."""

    def _position(self, conn: Conn, pk: int, step: int | None, run_id: str) -> Position:
        """``(step, state, next_nodes, join_progress, visited)`` after ``step`` (None: the
        last committed step): the latest snapshot at or before it plus the steps after that
        (:func:`wfengine.rows.rebuild_position`)."""
        upto = step if step is not None else 2**31 - 1
        snapshot = conn.execute(
            f"SELECT {SNAPSHOT_COLUMNS} FROM snapshots "
            "WHERE run_pk = %s AND step <= %s ORDER BY step DESC LIMIT 1",
            (pk, upto),
        ).fetchone()
        at = snapshot[0] if snapshot is not None else 0
        steps = conn.execute(
            f"SELECT {STEP_COLUMNS} FROM steps "
            "WHERE run_pk = %s AND step > %s AND step <= %s ORDER BY step",
            (pk, at, upto),
        )
        return rebuild_position(snapshot, steps, step=step, run_id=run_id, where=self.where)

    def _pk_in(self, conn: Conn, run_id: str) -> int:
        found = conn.execute("SELECT pk FROM runs WHERE run_id = %s", (run_id,)).fetchone()
        if found is None:
            raise RunNotFoundError(f"run '{run_id}' not found in {self.where}")
        return int(found[0])

    # -- history and time travel ---------------------------------------------------------

    def state_at(self, run_id: str, step: int) -> dict[str, Any]:
        """The state of run ``run_id`` right after step ``step`` (0: the initial state).

        Where the run was resumed with a state patch at a step, the patched state is the one
        kept for that step (it is what the next step ran on).
        """

        def work(conn: Conn) -> dict[str, Any]:
            return self._position(conn, self._pk_in(conn, run_id), step, run_id)[1]

        return self._read(f"read run {run_id}", work)

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        """What each committed step did, in order: ``{step, nodes, update, added,
        next_nodes}`` (``update``: new values of the keys it replaced; ``added``: what it
        added to keys that only grow, see :mod:`wfengine.growth`)."""

        def work(conn: Conn) -> list[Any]:
            return conn.execute(
                f"SELECT {STEP_SUMMARY_COLUMNS} FROM steps WHERE run_pk = %s ORDER BY step",
                (self._pk_in(conn, run_id),),
            ).fetchall()

        rows = self._read(f"read run {run_id}", work)
        return [step_summary(row) for row in rows]

    def fork_run(self, run_id: str, step: int, *, new_run_id: str | None = None) -> WorkflowRun:
        """A new ``pending`` run that starts where run ``run_id`` was after step ``step``.

        It gets the state, visited nodes, next nodes and join progress of that moment, the
        same graph and options, and a copy of the history up to that step (its own log
        starts empty); ``engine.resume(new.run_id)`` continues it. The old run is unchanged.
        """

        def read(conn: Conn) -> tuple[Any, Position, Any]:
            row = conn.execute(
                f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = %s", (run_id,)
            ).fetchone()
            if row is None:
                raise RunNotFoundError(f"run '{run_id}' not found in {self.where}")
            found = conn.execute(
                "SELECT data FROM run_people WHERE run_pk = %s", (row[0],)
            ).fetchone()
            return row, self._position(conn, row[0], step, run_id), found

        row, position, found = self._read(f"read run {run_id}", read)
        source_pk = row[0]
        fork, run_row, snapshot, people = fork_of(
            row, position, found[0] if found else None, new_run_id
        )
        at = fork.step

        def work(conn: Conn) -> None:
            try:
                with conn.transaction():
                    found = conn.execute(
                        "INSERT INTO runs (run_id, graph_id, status, created, finished, error, "
                        "max_steps, interrupt_before, parent_run_id, parent_step, graph_version) "
                        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING pk",
                        run_row,
                    ).fetchone()
            except pg_errors.UniqueViolation:
                raise StoreError(f"a run with id {fork.run_id!r} already exists") from None
            assert found is not None
            pk = found[0]
            if people is not None:
                conn.execute("INSERT INTO run_people (run_pk, data) VALUES (%s, %s)", (pk, people))
            conn.execute(
                "INSERT INTO snapshots (run_pk, step, state, next_nodes, join_progress, visited)"
                " SELECT %s, step, state, next_nodes, join_progress, visited FROM snapshots "
                "WHERE run_pk = %s AND step < %s",
                (pk, source_pk, at),
            )
            conn.execute(INSERT_SNAPSHOT, (pk, *snapshot))
            conn.execute(
                "INSERT INTO steps (run_pk, step, nodes, next_nodes, join_progress, changes, "
                "log_seq, log_count, logs, grown) SELECT %s, step, nodes, next_nodes, "
                "join_progress, changes, 0, 0, '[]', grown FROM steps "
                "WHERE run_pk = %s AND step <= %s",
                (pk, source_pk, at),
            )

        self._write(f"fork run {run_id} at step {at}", work)
        return fork
