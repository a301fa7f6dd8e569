"""The memory store's history (on by default, ``memory://?history=off`` turns it off): state
at any step, steps, forks, bounded by ``max_runs`` and the run's ``max_log_entries``."""

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


def test_history_is_on_by_default_and_off_by_url() -> None:
    assert MemoryStore().keeps_history is True
    assert MemoryStore("memory://?history=on").keeps_history is True
    assert MemoryStore("memory://?history=off").keeps_history is False
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


def fan_out() -> Graph:
    """start -> (left, right) -> join (a join edge): steps the general path commits."""
    graph = Graph("fan", reducers={"seen": "extend"})
    graph.add_node("start", lambda s: {"n": s["n"] + 1})
    graph.add_node("left", lambda s: {"seen": ["l"]})
    graph.add_node("right", lambda s: {"seen": ["r"]})
    graph.add_node("join", lambda s: {"n": s["n"] * 10})
    graph.add_edge("start", "left").add_edge("start", "right")
    graph.add_edge(["left", "right"], "join").add_edge("join", END)
    return graph.set_entry_point("start")


@pytest.mark.parametrize("lean", ["1", "0"])
def test_the_default_memory_store_records_every_step(
    lean: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WFENGINE_LEAN_STEPS", lean)  # the lean path records as commit does
    engine = Engine(load_entrypoints=False)  # memory://, no options
    store = engine.store
    assert isinstance(store, MemoryStore) and store.keeps_history
    run = engine.run(chat(3), {"i": 0, "messages": []})
    assert [store.state_at(run.run_id, n) for n in range(4)] == [
        {"i": 0, "messages": []},
        {"i": 1, "messages": ["m1"]},
        {"i": 2, "messages": ["m1", "m2"]},
        {"i": 3, "messages": ["m1", "m2", "m3"]},
    ]
    assert store.steps(run.run_id)[2] == {
        "step": 3,
        "nodes": ["talk"],
        "update": {"i": 3},
        "added": {"messages": ["m3"]},
        "next_nodes": [],
    }
    fan = engine.run(fan_out(), {"n": 0})
    assert fan.state == {"n": 10, "seen": ["l", "r"]}
    steps = store.steps(fan.run_id)
    assert [(s["nodes"], s["next_nodes"]) for s in steps] == [
        (["start"], ["left", "right"]),
        (["left", "right"], ["join"]),
        (["join"], []),
    ]
    assert steps[1]["added"] == {"seen": ["l", "r"]} and steps[1]["update"] == {}
    assert store.state_at(fan.run_id, 2) == {"n": 1, "seen": ["l", "r"]}
    fork = store.fork_run(fan.run_id, 2)
    assert engine.resume(fork.run_id, graph=fan_out()).state == {"n": 10, "seen": ["l", "r"]}


def test_a_step_record_keeps_what_a_growing_key_gained_not_the_whole_list() -> None:
    engine = Engine(load_entrypoints=False)
    run = engine.run(chat(50), {"i": 0, "messages": []})
    store = engine.store
    assert isinstance(store, MemoryStore)
    history = store._history[run.run_id]
    assert len(history.nexts) == 50 and all("messages" not in u for u in history.updates)
    kept = [part for _progress, grown in history.extras.values() for _kind, part in grown.values()]
    assert sum(len(part) for part in kept) == 50  # one new message per step: O(N), not O(N^2)
    assert store.state_at(run.run_id, 50)["messages"] == [f"m{k}" for k in range(1, 51)]


def test_history_keeps_as_many_steps_as_the_log(monkeypatch: pytest.MonkeyPatch) -> None:
    from wfengine.limits import RunLimits

    engine = Engine(load_entrypoints=False, limits=RunLimits(max_log_entries=100))
    run = engine.run(chat(1_000), {"i": 0, "messages": []})
    store = engine.store
    assert isinstance(store, MemoryStore)
    kept = store.steps(run.run_id)
    assert 100 <= len(kept) <= 200, len(kept)  # bounded, trimmed now and then
    assert kept[-1]["step"] == 1_000 and len(run.logs) <= 110
    first = kept[0]["step"]
    assert store.state_at(run.run_id, first)["i"] == first
    assert store.state_at(run.run_id, 1_000)["messages"][-1] == "m1000"
    with pytest.raises(StoreError, match=r"keeps a run's last steps only \(from step \d+ on"):
        store.state_at(run.run_id, 3)


def test_history_off_records_nothing() -> None:
    from wfengine.errors import HistoryUnsupportedError

    engine = Engine(load_entrypoints=False, store="memory://?history=off")
    run = engine.run(chat(3), {"i": 0, "messages": []})
    store = engine.store
    assert isinstance(store, MemoryStore) and store._history == {}
    assert store.step_recorder(run) is None
    with pytest.raises(HistoryUnsupportedError, match="open it without history=off"):
        store.steps(run.run_id)
