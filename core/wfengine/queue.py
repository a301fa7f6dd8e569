"""Queued runs: a store as a work queue that ``wf worker`` processes claim runs from.

A run is *queued* when it is saved with status ``queued`` (``engine.submit``, ``wf run
--queue``, ``POST /graph/run`` with ``queue: true``): its initial state and position are
stored, nothing has run. A store with the :class:`~wfengine.storage.QueueStore` capability
hands such runs out to workers, one worker each:

* :meth:`~wfengine.storage.QueueStore.claim_run` takes the oldest queued run (or a run whose
  worker stopped heartbeating: its lease expired) for a worker, marks it ``running`` and
  leases it to that worker for ``lease`` seconds. Two workers never get the same run.
* The worker drives the run (``engine.prepare_resume``: it continues from its last
  checkpoint) and calls :meth:`~wfengine.storage.QueueStore.heartbeat` every few seconds to
  extend the lease; ``False`` means the run is no longer its own (another worker reclaimed it
  after the lease ran out): it stops driving it at once.
* :meth:`~wfengine.storage.QueueStore.release_run` ends the claim when the run stopped
  (completed, failed, cancelled, paused: its status is already saved), or with
  ``requeue=True`` puts it back in the queue (a worker stopping gracefully between steps).
* :meth:`~wfengine.storage.QueueStore.request_cancel` is how anyone, on any machine, cancels
  a run: a queued run is cancelled at once; a claimed one gets a flag its worker reads
  (:meth:`~wfengine.storage.QueueStore.cancel_requested`) with its heartbeat, and cancels
  the run between steps.

Leases are measured on the store's clock where it has one (PostgreSQL's ``now()``), so
workers on machines whose clocks differ agree on when a lease ran out.
:class:`MemoryQueue` is the in-process implementation (``memory://``, workers as threads of
one process); ``wfengine.testing.check_queue_contract`` checks any store's.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import RunNotFoundError
from .run import RunStatus

if TYPE_CHECKING:
    from .run import WorkflowRun

DEFAULT_LEASE = 30.0
"""Seconds a claim lasts without a heartbeat before another worker may take the run over."""


@dataclass
class Claim:
    """Who holds a run, until when, and whether someone asked to cancel it."""

    worker: str
    expires: float
    cancel: bool = False


class MemoryQueue:
    """The :class:`~wfengine.storage.QueueStore` capability kept in this process (mixed into
    :class:`~wfengine.storage.MemoryStore`, whose ``_lock`` and ``_runs`` it uses)."""

    _lock: threading.Lock
    _runs: dict[str, WorkflowRun]
    _claims: dict[str, Claim]

    def claim_run(self, worker: str, lease: float = DEFAULT_LEASE) -> str | None:
        """Lease the oldest queued run (or one whose lease expired) to ``worker``; its id, or
        ``None`` when there is none."""
        now = time.time()
        with self._lock:
            claims = self._queue_claims()
            taken = None
            for run in self._runs.values():  # insertion order: oldest first
                claim = claims.get(run.run_id)
                if run.status == RunStatus.QUEUED and claim is None:
                    taken = run
                    break
                if (
                    claim is not None
                    and claim.expires <= now
                    and run.status in (RunStatus.QUEUED, RunStatus.RUNNING)
                    and (taken is None or run.created < taken.created)
                ):
                    taken = run
            if taken is None:
                return None
            cancel = claims[taken.run_id].cancel if taken.run_id in claims else False
            claims[taken.run_id] = Claim(worker, now + lease, cancel)
            taken.status = RunStatus.RUNNING
            return taken.run_id

    def heartbeat(self, run_id: str, worker: str, lease: float = DEFAULT_LEASE) -> bool:
        """Extend ``worker``'s lease on ``run_id``; ``False`` when it no longer holds it."""
        with self._lock:
            claim = self._queue_claims().get(run_id)
            if claim is None or claim.worker != worker or run_id not in self._runs:
                return False
            claim.expires = time.time() + lease
            return True

    def release_run(self, run_id: str, worker: str, *, requeue: bool = False) -> None:
        """End ``worker``'s claim on ``run_id`` (nothing when it holds none); ``requeue``: the
        run goes back to ``queued`` for another worker."""
        with self._lock:
            claims = self._queue_claims()
            claim = claims.get(run_id)
            if claim is None or claim.worker != worker:
                return
            del claims[run_id]
            run = self._runs.get(run_id)
            if requeue and run is not None and not run.status.is_final:
                run.status = RunStatus.QUEUED

    def request_cancel(self, run_id: str) -> bool:
        """Cancel a queued (or paused, or unclaimed) run now, or flag a claimed one for its
        worker; ``False`` when the run had already ended."""
        with self._lock:
            run = self._runs.get(run_id)
            if run is None:
                raise RunNotFoundError(f"run '{run_id}' not found in the memory store")
            if run.status.is_final:
                return False
            claim = self._queue_claims().get(run_id)
            if claim is not None:
                claim.cancel = True
            else:
                run.status = RunStatus.CANCELLED
                run.finished = time.time()
            return True

    def cancel_requested(self, run_id: str) -> bool:
        """Whether someone asked to cancel the claimed run ``run_id``."""
        with self._lock:
            claim = self._queue_claims().get(run_id)
            return claim is not None and claim.cancel

    def claim_of(self, run_id: str) -> str | None:
        """The worker holding a live claim on ``run_id``, or ``None``."""
        with self._lock:
            claim = self._queue_claims().get(run_id)
            return claim.worker if claim is not None and claim.expires > time.time() else None

    def _queue_claims(self) -> dict[str, Claim]:
        try:
            return self._claims
        except AttributeError:
            self._claims = {}
            return self._claims
