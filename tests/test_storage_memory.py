"""The in-memory store's bound on kept runs."""

from __future__ import annotations

import pytest
from wfengine import MemoryStore, RunStatus, WorkflowRun


def _run(status: RunStatus) -> WorkflowRun:
    return WorkflowRun("g", status=status)


def test_memory_store_forgets_the_oldest_finished_runs_beyond_its_bound() -> None:
    store = MemoryStore("memory://?max_runs=3")
    live = _run(RunStatus.PAUSED)
    old, mid, new, newest = (_run(RunStatus.COMPLETED) for _ in range(4))
    for run in (live, old, mid, new):
        store.save_run(run)
    assert store.get_run(live.run_id) is live
    store.save_run(newest)
    kept = {r.run_id for r in store.list_runs()[0]}
    assert kept == {live.run_id, new.run_id, newest.run_id}  # paused kept, two oldest done gone
    assert store.get_run(old.run_id) is None and store.get_run(mid.run_id) is None


def test_memory_store_default_bound_and_bad_urls() -> None:
    assert MemoryStore().max_runs == 10_000
    with pytest.raises(ValueError, match="max_runs must be a positive integer"):
        MemoryStore("memory://?max_runs=zero")
    with pytest.raises(ValueError, match="unknown option"):
        MemoryStore("memory://?maxruns=3")
