"""The wfengine pytest plugin's fixtures: the store contract with history, and replaying a
recorded run as a regression test of a graph's routing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from wfengine import END, Engine, Graph
from wfengine.storage import MemoryStore
from wfengine.wfrun import export_run


def triage(limit: int) -> Graph:
    graph = Graph("triage", max_steps=50)
    graph.add_node("score", lambda s: {"score": s["score"] + 3})
    graph.add_node("escalate", lambda s: {"escalated": True})
    graph.add_edge("score", "score", condition=lambda s: s["score"] < limit)
    graph.add_edge("score", "escalate", default=True)
    graph.add_edge("escalate", END)
    graph.set_entry_point("score")
    return graph


def test_the_memory_store_with_history_keeps_the_contract(
    store_contract: Callable[[Callable[[], Any]], None],
) -> None:
    store_contract(lambda: MemoryStore())  # history is on by default


def test_a_store_without_history_fails_the_history_contract() -> None:
    from wfengine.testing import check_history_contract

    with pytest.raises(AssertionError, match="a history store needs state_at"):
        check_history_contract(lambda: type("Bare", (MemoryStore,), {"state_at": None})())


def test_a_recorded_run_replays_and_a_changed_condition_is_caught(
    assert_replays: Callable[[Any, Graph], None], tmp_path: Path
) -> None:
    engine = Engine(load_entrypoints=False, store="memory://")
    run = engine.run(triage(9), {"score": 0})
    assert run.visited_nodes == ["score", "score", "score", "escalate"]
    path = export_run(engine.store, run.run_id, tmp_path / "triage.wfrun")
    assert_replays(path, triage(9))
    with pytest.raises(AssertionError, match=r"step 2 \(score\) now routes to \['escalate'\]"):
        assert_replays(path, triage(5))
