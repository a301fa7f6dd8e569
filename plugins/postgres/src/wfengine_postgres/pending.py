"""Pending writes: the finished calls of a step that has not committed yet (the optional
:class:`wfengine.storage.PendingWritesStore` capability).

While a step with several node calls runs (parallel branches, map copies), the driver saves
each finished call's update here; resuming that step restores them and runs only the calls
that did not finish. Rows are keyed by run, step and task; a completed run's rows are dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
from wfengine.codec import decode, encode
from wfengine.errors import RunNotFoundError

from .database import Database

UPSERT = (
    "INSERT INTO pending_writes (run_pk, step, task, data) VALUES (%s, %s, %s, %s) "
    "ON CONFLICT (run_pk, step, task) DO UPDATE SET data = excluded.data"
)


class PendingWrites(Database):
    """Keeps the finished calls of a step until it commits (mixed into ``PostgresStore``)."""

    def _run_pk(self, run_id: str) -> int:  # the store's
        raise NotImplementedError

    def save_pending_writes(self, run_id: str, step: int, writes: Mapping[str, Any]) -> None:
        """Keep ``writes`` (``{task: update}``) of step ``step`` of the run in one transaction
        (a task saved again replaces its update).

        Raises :class:`~wfengine.errors.UnstorableValueError` (keeping none of them) when an
        update cannot be stored faithfully; the driver then runs those calls again on resume.
        """
        rows = [
            (step, task, encode(update, f"update of {task}")) for task, update in writes.items()
        ]
        pk = self._run_pk(run_id)

        def work(conn: psycopg.Connection[Any]) -> None:
            with conn.cursor() as cur:
                cur.executemany(UPSERT, [(pk, *row) for row in rows])

        self._write(f"keep {len(rows)} pending write(s) of step {step} of run {run_id}", work)

    def get_pending_writes(self, run_id: str, step: int) -> dict[str, Any]:
        """The updates kept for step ``step`` of the run, by task."""
        try:
            pk = self._run_pk(run_id)
        except RunNotFoundError:
            return {}
        rows = self._run(
            f"read the pending writes of run {run_id}",
            lambda conn: conn.execute(
                "SELECT task, data FROM pending_writes WHERE run_pk = %s AND step = %s",
                (pk, step),
            ).fetchall(),
        )
        return {task: decode(data) for task, data in rows}

    def _drop_pending(self, conn: psycopg.Connection[Any], pk: int) -> None:
        """Forget a run's pending writes (it completed); inside a write transaction."""
        conn.execute("DELETE FROM pending_writes WHERE run_pk = %s", (pk,))
