"""Run limits: the state's size after every step, retry budgets, the log's length (F3, F5)."""

from __future__ import annotations

from typing import Any

import pytest
from wfengine import END, Engine, Graph
from wfengine.errors import WorkflowError
from wfengine.limits import RunLimits, StateMeter, approx_size
from wfengine.storage import MemoryStore


def doubling_loop(max_steps: int = 200) -> Graph:
    """The F3 attack: a looping node whose ``extend`` reducer doubles a list every round."""
    graph = Graph("doubling", max_steps=max_steps)
    graph.set_reducer("paths", "extend")
    graph.set_reducer("round", "add")
    graph.add_node("grow", lambda s: {"paths": list(s.get("paths") or ["p" * 50]), "round": 1})
    graph.add_edge("grow", "grow", when="round < 1000")
    graph.add_edge("grow", END, default=True)
    return graph.set_entry_point("grow")


def test_state_growing_past_the_cap_fails_the_run_naming_the_key() -> None:
    engine = Engine(load_entrypoints=False, limits=RunLimits(max_state_bytes=100_000))
    run = engine.run(doubling_loop(), {"note": "kept"})
    assert run.status == "failed"
    assert run.error is not None and run.error["type"] == "StateTooLargeError"
    assert "key 'paths'" in run.error["message"]
    assert "100,000" in run.error["message"]
    # the step that grew too far was not applied: the state kept is the last one in bounds
    assert approx_size(run.state, 10**9) <= 100_000
    assert run.state["note"] == "kept"
    assert len(run.state["paths"]) == 2 ** (run.step - 1)


def test_without_a_cap_the_same_loop_is_only_bounded_by_steps() -> None:
    run = Engine(load_entrypoints=False).run(doubling_loop(max_steps=12), {})
    assert run.status == "failed" and run.error["type"] == "StepLimitError"  # type: ignore[index]
    assert len(run.state["paths"]) == 2**11


def test_an_initial_state_over_the_cap_is_refused() -> None:
    engine = Engine(load_entrypoints=False, limits=RunLimits(max_state_bytes=1_000))
    run = engine.run(doubling_loop(), {"big": "x" * 5_000})
    assert run.status == "failed" and run.error["type"] == "StateTooLargeError"  # type: ignore[index]
    assert run.visited_nodes == []


def test_the_meter_tracks_changes_not_the_whole_state() -> None:
    state: dict[str, Any] = {"a": "x" * 100, "b": [1, 2, 3]}
    meter = StateMeter(1_000, state)
    before = meter.total
    state["a"] = "x" * 10
    assert meter.update(state, ["a"]) is None
    assert meter.total == before - 90
    state["c"] = "y" * 2_000
    error = meter.update(state, ["c"])
    assert error is not None and "key 'c'" in str(error)


def test_approx_size_stops_counting_past_the_budget() -> None:
    huge = list(range(10**6))
    assert 100 < approx_size(huge, 100) < 200
    assert approx_size({"k": "vv"}, 10**6) == 2 + 3 + 4


def always_fails(state: dict[str, Any]) -> None:
    raise RuntimeError("flaky")


def retry_graph(nodes: int) -> Graph:
    graph = Graph("retries")
    names = [f"n{i}" for i in range(nodes)]
    for name in names:
        graph.add_node(
            name,
            always_fails,
            retry={"max_attempts": 50, "initial_delay": 0, "jitter": False},
        )
    graph.set_entry_point("start").add_node("start", lambda s: None)
    for name in names:
        graph.add_edge("start", name).add_edge(name, END)
    return graph


def test_the_run_retry_budget_stops_retries_across_nodes() -> None:
    engine = Engine(load_entrypoints=False, limits=RunLimits(max_retries_per_run=7))
    run = engine.run(retry_graph(3), {})
    assert run.status == "failed"
    retries = [e for e in run.logs if e.status == "retrying"]
    assert len(retries) == 7
    assert "retry budget of 7 attempts" in run.error["message"]  # type: ignore[index]


def test_default_budget_lets_node_policies_decide() -> None:
    run = Engine(load_entrypoints=False).run(retry_graph(1), {})
    assert len([e for e in run.logs if e.node == "n0"]) == 50


def test_the_log_keeps_at_most_max_log_entries_and_counts_the_rest() -> None:
    graph = Graph("long", max_steps=500)
    graph.set_reducer("n", "add")
    graph.add_node("tick", lambda s: {"n": 1})
    graph.add_edge("tick", "tick", when="n < 300").add_edge("tick", END, default=True)
    graph.set_entry_point("tick")
    for store in (None, MemoryStore()):
        engine = Engine(load_entrypoints=False, limits=RunLimits(max_log_entries=50))
        if store is not None:
            engine.set_store(store)
        run = engine.run(graph, {})
        assert run.status == "completed" and run.state["n"] == 300
        assert len(run.logs) <= 50
        assert run.logs_dropped + len(run.logs) == 300
        assert run.logs[-1].step == 300
        assert run.to_dict()["logs_dropped"] == run.logs_dropped


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="max_log_entries"):
        RunLimits(max_log_entries=0)
    with pytest.raises(ValueError, match="max_state_bytes"):
        RunLimits(max_state_bytes=-1)


def test_a_step_limit_beyond_any_store_is_refused() -> None:
    graph = Graph("one").add_node("a", lambda s: None).add_edge("a", END).set_entry_point("a")
    engine = Engine(load_entrypoints=False)
    with pytest.raises(WorkflowError, match="at most"):
        engine.run(graph, {}, max_steps=10**30)
    with pytest.raises(WorkflowError, match="integer >= 1"):
        engine.run(graph, {}, max_steps=0)
