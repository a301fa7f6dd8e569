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


def test_a_run_resumed_with_a_state_patch_replays_with_the_patch(
    assert_replays: Callable[[Any, Graph], None], tmp_path: Path
) -> None:
    """The patch given on resume is part of the run: a condition reading a patched key routes
    as the run did (it used to be reported as diverging)."""
    graph = Graph("approval", max_steps=10)
    graph.add_node("draft", lambda s: {"text": "hello"})
    graph.add_node("gate", lambda s: None)
    graph.add_node("publish", lambda s: {"published": True})
    graph.add_node("reject", lambda s: {"published": False})
    graph.add_edge("draft", "gate")
    graph.add_edge("gate", "publish", condition=lambda s: s["approved"])
    graph.add_edge("gate", "reject", default=True)
    graph.add_edge("publish", END).add_edge("reject", END).set_entry_point("draft")
    engine = Engine(load_entrypoints=False)
    paused = engine.run(graph, {"approved": False}, interrupt_before=["gate"])
    done = engine.resume(paused.run_id, {"approved": True})
    assert done.visited_nodes == ["draft", "gate", "publish"]
    path = export_run(engine.store, done.run_id, tmp_path / "approval.wfrun")
    assert_replays(path, graph)
