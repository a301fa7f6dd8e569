"""``list_runs`` filters (creation time, text search) on the memory store."""

from __future__ import annotations

from wfengine.run import WorkflowRun
from wfengine.storage import MemoryStore, run_matches_search
from wfengine.testing import check_list_filters


def test_memory_store_list_filters() -> None:
    check_list_filters(MemoryStore())


def test_search_matches_id_and_error_but_not_other_fields() -> None:
    run = WorkflowRun(graph_id="secret-graph", run_id="r1", state={"note": "needle"})
    assert run_matches_search(run, "R1")
    assert not run_matches_search(run, "needle") and not run_matches_search(run, "secret")
    run.error = {"type": "KeyError", "message": None}
    assert run_matches_search(run, "keyerror") and not run_matches_search(run, "none")
