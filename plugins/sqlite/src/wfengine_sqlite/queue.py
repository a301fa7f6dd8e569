"""Queued runs: the SQLite file as a work queue for ``wf worker`` processes on one machine.

The optional :class:`wfengine.storage.QueueStore` capability (the story is in
:mod:`wfengine.queue`). A claim is four columns of the run's row (schema version 6):
``claimed_by`` (the worker), ``lease_until`` (epoch seconds), ``cancel_requested`` and
``claims`` (how many times the run was handed out: more than one means a worker died or
stopped and another took over). ``save_run`` never writes them, so the worker's own saves
keep its claim.

Every claim is one ``BEGIN IMMEDIATE`` transaction: it takes SQLite's write lock before it
reads, so two processes can never pick the same run (the lock is the file's, which is all
that workers on one machine need). Leases are measured on this machine's clock.
"""

from __future__ import annotations

import sqlite3
import time

from wfengine.errors import RunNotFoundError
from wfengine.queue import DEFAULT_LEASE

from .database import Database

_FINAL = ("completed", "failed", "cancelled")

# the oldest run a worker may take: queued and unclaimed, or claimed with its lease run out
_CLAIMABLE = """
SELECT pk, run_id, created FROM (
    SELECT pk, run_id, created FROM runs
    WHERE status = 'queued' AND claimed_by IS NULL
    ORDER BY created, pk LIMIT 1
)
UNION ALL
SELECT pk, run_id, created FROM (
    SELECT pk, run_id, created FROM runs
    WHERE claimed_by IS NOT NULL AND lease_until <= ? AND status IN ('queued', 'running')
    ORDER BY created, pk LIMIT 1
)
ORDER BY created, pk LIMIT 1
"""


class Queue(Database):
    """Hands queued runs to workers (mixed into ``SQLiteStore``)."""

    def claim_run(self, worker: str, lease: float = DEFAULT_LEASE) -> str | None:
        """Lease the oldest queued run (or one whose lease ran out) to ``worker`` for
        ``lease`` seconds, marking it ``running``; its id, or ``None`` when there is none."""

        def work(conn: sqlite3.Connection) -> str | None:
            now = time.time()
            found = conn.execute(_CLAIMABLE, (now,)).fetchone()
            if found is None:
                return None
            conn.execute(
                "UPDATE runs SET status = 'running', claimed_by = ?, lease_until = ?, "
                "claims = claims + 1 WHERE pk = ?",
                (worker, now + lease, found[0]),
            )
            return str(found[1])

        return self._write(f"claim a queued run for worker {worker!r}", work)

    def heartbeat(self, run_id: str, worker: str, lease: float = DEFAULT_LEASE) -> bool:
        """Extend ``worker``'s lease on ``run_id`` to ``lease`` seconds from now; ``False``
        when it no longer holds the run (taken over, released, deleted)."""
        changed = self._write(
            f"renew the lease of run {run_id}",
            lambda c: (
                c.execute(
                    "UPDATE runs SET lease_until = ? WHERE run_id = ? AND claimed_by = ?",
                    (time.time() + lease, run_id, worker),
                ).rowcount
            ),
        )
        return bool(changed)

    def release_run(self, run_id: str, worker: str, *, requeue: bool = False) -> None:
        """End ``worker``'s claim on ``run_id`` (nothing when it holds none); ``requeue``: a
        run not yet final goes back to ``queued`` for another worker."""
        status = (
            "CASE WHEN status IN ('completed', 'failed', 'cancelled') THEN status ELSE 'queued' END"
            if requeue
            else "status"
        )
        self._write(
            f"release run {run_id}",
            lambda c: c.execute(
                f"UPDATE runs SET status = {status}, claimed_by = NULL, lease_until = NULL, "
                "cancel_requested = 0 WHERE run_id = ? AND claimed_by = ?",
                (run_id, worker),
            ),
        )

    def request_cancel(self, run_id: str) -> bool:
        """Cancel a run nobody holds at once, or flag a claimed one for its worker; ``False``
        when the run had already ended."""

        def work(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT pk, status, claimed_by FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
            if row is None:
                raise RunNotFoundError(f"run '{run_id}' not found in SQLite store {self.path}")
            pk, status, holder = row
            if status in _FINAL:
                return False
            if holder is not None:
                conn.execute("UPDATE runs SET cancel_requested = 1 WHERE pk = ?", (pk,))
            else:
                conn.execute(
                    "UPDATE runs SET status = 'cancelled', finished = ? WHERE pk = ?",
                    (time.time(), pk),
                )
            return True

        return bool(self._write(f"cancel run {run_id}", work))

    def claim_of(self, run_id: str) -> str | None:
        """The worker holding a live claim on ``run_id`` (its lease not run out), or ``None``."""
        with self._reading(f"read the claim on run {run_id}") as conn:
            row = conn.execute(
                "SELECT claimed_by FROM runs WHERE run_id = ? AND lease_until > ?",
                (run_id, time.time()),
            ).fetchone()
        return str(row[0]) if row and row[0] is not None else None

    def cancel_requested(self, run_id: str) -> bool:
        """Whether someone asked to cancel the claimed run ``run_id``."""
        with self._reading(f"read the cancel flag of run {run_id}") as conn:
            row = conn.execute(
                "SELECT cancel_requested FROM runs WHERE run_id = ? AND claimed_by IS NOT NULL",
                (run_id,),
            ).fetchone()
        return bool(row and row[0])
