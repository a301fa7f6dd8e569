"""Queued runs handed to workers (the optional :class:`wfengine.storage.QueueStore`
capability; :mod:`wfengine.queue` tells the whole story).

A claim is columns of the run's row: ``claimed_by`` (the worker), ``lease_until`` (on the
server's clock, ``now()``, so workers whose clocks differ agree), ``cancel_requested``, and
``claims`` (how many times the run was handed out, as SQLite's).
:meth:`QueueRuns.claim_run` takes the oldest claimable run with ``SELECT ... FOR UPDATE SKIP
LOCKED``: workers claiming at once, on any machines, skip each other's rows instead of
waiting, and never get the same run.
"""

from __future__ import annotations

from typing import Any

import psycopg
from wfengine.errors import RunNotFoundError
from wfengine.queue import DEFAULT_LEASE
from wfengine.run import RunStatus

from .database import Database

FINAL = tuple(status.value for status in RunStatus if status.is_final)

CLAIM = """
UPDATE runs SET status = 'running', claimed_by = %(worker)s, claims = claims + 1,
    lease_until = now() + %(lease)s * interval '1 second'
WHERE pk = (
    SELECT pk FROM runs
    WHERE status IN ('queued', 'running')
      AND ((status = 'queued' AND claimed_by IS NULL)
           OR (claimed_by IS NOT NULL AND lease_until <= now()))
    ORDER BY created, run_id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
RETURNING run_id
"""


class QueueRuns(Database):
    """Claims, leases and cancel flags (mixed into ``PostgresStore``)."""

    def claim_run(self, worker: str, lease: float = DEFAULT_LEASE) -> str | None:
        """Lease the oldest queued run (or one whose lease expired: its worker died) to
        ``worker`` for ``lease`` seconds, marking it ``running``; its id, or ``None``."""

        def work(conn: psycopg.Connection[Any]) -> str | None:
            row = conn.execute(CLAIM, {"worker": worker, "lease": float(lease)}).fetchone()
            return str(row[0]) if row else None

        return self._run(f"claim a queued run for worker {worker!r}", work)

    def heartbeat(self, run_id: str, worker: str, lease: float = DEFAULT_LEASE) -> bool:
        """Extend ``worker``'s lease on ``run_id``; ``False`` when it no longer holds it."""

        def work(conn: psycopg.Connection[Any]) -> bool:
            cur = conn.execute(
                "UPDATE runs SET lease_until = now() + %s * interval '1 second' "
                "WHERE run_id = %s AND claimed_by = %s",
                (float(lease), run_id, worker),
            )
            return cur.rowcount > 0

        return self._run(f"renew the lease of run {run_id}", work)

    def release_run(self, run_id: str, worker: str, *, requeue: bool = False) -> None:
        """End ``worker``'s claim on ``run_id`` (nothing when it holds none); ``requeue``: a
        run not yet final goes back to ``queued``."""
        requeue_sql = (
            ", status = CASE WHEN status IN ({}) THEN status ELSE 'queued' END".format(
                ", ".join(f"'{status}'" for status in FINAL)
            )
            if requeue
            else ""
        )
        self._run(
            f"release run {run_id}",
            lambda conn: conn.execute(
                "UPDATE runs SET claimed_by = NULL, lease_until = NULL, "
                f"cancel_requested = false{requeue_sql} WHERE run_id = %s AND claimed_by = %s",
                (run_id, worker),
            ),
        )

    def request_cancel(self, run_id: str) -> bool:
        """Cancel a run nobody holds at once, or flag a claimed one for its worker; ``False``
        when it had already ended; :class:`RunNotFoundError` when there is no such run."""

        def work(conn: psycopg.Connection[Any]) -> bool:
            row = conn.execute(
                "SELECT status, claimed_by FROM runs WHERE run_id = %s FOR UPDATE", (run_id,)
            ).fetchone()
            if row is None:
                raise RunNotFoundError(f"run '{run_id}' not found in {self.where}")
            status, claimed_by = row
            if status in FINAL:
                return False
            if claimed_by is not None:
                conn.execute("UPDATE runs SET cancel_requested = true WHERE run_id = %s", (run_id,))
            else:
                conn.execute(
                    "UPDATE runs SET status = 'cancelled', "
                    "finished = extract(epoch FROM clock_timestamp()) WHERE run_id = %s",
                    (run_id,),
                )
            return True

        return self._write(f"cancel run {run_id}", work)

    def claim_of(self, run_id: str) -> str | None:
        """The worker holding a live claim on ``run_id`` (its lease not run out on the
        server's clock), or ``None``."""
        row = self._run(
            f"read the claim on run {run_id}",
            lambda conn: conn.execute(
                "SELECT claimed_by FROM runs WHERE run_id = %s AND lease_until > now()",
                (run_id,),
            ).fetchone(),
        )
        return str(row[0]) if row and row[0] is not None else None

    def cancel_requested(self, run_id: str) -> bool:
        """Whether someone asked to cancel the claimed run ``run_id``."""
        row = self._run(
            f"read the cancel flag of run {run_id}",
            lambda conn: conn.execute(
                "SELECT cancel_requested FROM runs WHERE run_id = %s AND claimed_by IS NOT NULL",
                (run_id,),
            ).fetchone(),
        )
        return bool(row and row[0])
