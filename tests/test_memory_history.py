"""The memory store's history (``memory://?history=on``): state at any step, steps, forks,
bounded by ``max_runs``."""

from __future__ import annotations

import pytest
from wfengine import END, Engine, Graph
from wfengine.errors import RunNotFoundError, StoreError
from wfengine.storage import HistoryStore, MemoryStore


def chat(n: int) -> Graph:
    graph = Graph("chat", reducers={"messages": "append"}, max_steps=n + 5)
    graph.add_node("talk", lambda s: {"i": s["i"] + 1, "messages": f"m{s['i'] + 1}"})
    graph.add_edge("talk", "talk", condition=lambda s: s["i"] < n)
    graph.add_edge("talk", END, default=True)
    graph.set_entry_point("talk")
    return graph


def test_history_is_off_by_default_and_on_by_url() -> None:
    assert MemoryStore().keeps_history is False
    assert MemoryStore("memory://?history=on").keeps_history is True
    with pytest.raises(ValueError, match="history must be on or off"):
        MemoryStore("memory://?history=maybe")


def test_state_at_steps_and_fork() -> None:
    engine = Engine(load_entrypoints=False, store="memory://?history=on")
    store = engine.store
    assert isinstance(store, HistoryStore)
    run = engine.run(chat(4), {"i": 0, "messages": []})
    assert [store.state_at(run.run_id, n)["messages"] for n in range(5)] == [
        [],
        ["m1"],
        ["m1", "m2"],
        ["m1", "m2", "m3"],
        ["m1", "m2", "m3", "m4"],
    ]
    assert store.state_at(run.run_id, 2) == {"i": 2, "messages": ["m1", "m2"]}
    steps = store.steps(run.run_id)
    assert steps[1] == {
        "step": 2,
        "nodes": ["talk"],
        "update": {"i": 2},
        "added": {"messages": ["m2"]},
        "next_nodes": ["talk"],
    }
    with pytest.raises(StoreError, match="has no step 9; its last stored step is 4"):
        store.state_at(run.run_id, 9)
    with pytest.raises(RunNotFoundError):
        store.state_at("nope", 0)
    fork = store.fork_run(run.run_id, 2)
    assert fork.state == {"i": 2, "messages": ["m1", "m2"]} and fork.step == 2
    done = engine.resume(fork.run_id, {"i": 10}, graph=chat(12))
    assert done.state["messages"] == ["m1", "m2", "m11", "m12"]
    assert store.state_at(run.run_id, 4)["messages"] == ["m1", "m2", "m3", "m4"]  # unchanged
    assert store.state_at(fork.run_id, 2)["i"] == 10  # the patch belongs to its step


def test_history_goes_with_the_run() -> None:
    engine = Engine(load_entrypoints=False, store="memory://?history=on&max_runs=1")
    first = engine.run(chat(1), {"i": 0, "messages": []})
    second = engine.run(chat(1), {"i": 0, "messages": []})
    store = engine.store
    assert isinstance(store, MemoryStore)
    with pytest.raises(RunNotFoundError):
        store.steps(first.run_id)
    assert len(store.steps(second.run_id)) == 1
    assert store.delete_run(second.run_id)
    assert store._history == {}
