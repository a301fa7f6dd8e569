"""The queue capability (:class:`wfengine.storage.QueueStore`) and its contract check, on the
memory store; ``wfengine.testing.check_queue_contract`` must catch a store that breaks it."""

from __future__ import annotations

import pytest
from wfengine.errors import RunNotFoundError
from wfengine.run import RunStatus, WorkflowRun
from wfengine.storage import MemoryStore, QueueStore
from wfengine.testing import check_queue_contract


def test_the_memory_store_keeps_the_queue_contract() -> None:
    store = MemoryStore()
    assert isinstance(store, QueueStore)
    check_queue_contract(lambda: store)


def test_a_queue_handing_a_run_out_twice_fails_the_contract() -> None:
    class Careless(MemoryStore):
        def claim_run(self, worker: str, lease: float = 30.0) -> str | None:
            for run in self._runs.values():
                if run.status == RunStatus.QUEUED:
                    return run.run_id  # never marks it taken
            return None

    with pytest.raises(AssertionError, match="a claimed run is running"):
        check_queue_contract(Careless)


def test_a_queue_whose_leases_never_expire_fails_the_contract() -> None:
    class Forever(MemoryStore):
        def claim_run(self, worker: str, lease: float = 30.0) -> str | None:
            return super().claim_run(worker, 3600.0)

    with pytest.raises(AssertionError, match="an expired lease is"):
        check_queue_contract(Forever)


def test_a_cancelled_claimed_run_keeps_running_until_its_worker_sees_the_flag() -> None:
    store = MemoryStore()
    run = WorkflowRun(graph_id="g", status=RunStatus.QUEUED)
    store.save_run(run)
    assert store.claim_run("w", 30.0) == run.run_id
    assert store.request_cancel(run.run_id) is True
    assert run.status == RunStatus.RUNNING and store.cancel_requested(run.run_id)
    with pytest.raises(RunNotFoundError, match="not found"):
        store.request_cancel("nope")
