"""Finished branches are kept: resuming a step that failed runs only the calls that did not
finish (parallel branches and map copies), on the memory store (SQLite: its plugin's tests)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from wfengine import END, Engine, Graph, MemoryStore, Send
from wfengine.storage import PendingWritesStore


def fan_out(calls: Counter[str], fail: dict[str, bool]) -> Graph:
    lock = threading.Lock()

    def branch(name: str) -> Any:
        def run(state: dict[str, Any]) -> dict[str, Any]:
            with lock:
                calls[name] += 1
            if fail.get(name):
                raise RuntimeError(f"{name} broke")
            return {name: True}

        return run

    return (
        Graph("fan")
        .add_node("start", lambda s: None)
        .add_node("a", branch("a"))
        .add_node("b", branch("b"))
        .add_node("after", lambda s: {"both": s["a"] and s["b"]})
        .add_edge("start", "a")
        .add_edge("start", "b")
        .add_edge(["a", "b"], "after")
        .add_edge("after", END)
        .set_entry_point("start")
    )


def test_the_memory_store_keeps_pending_writes() -> None:
    store = MemoryStore()
    assert isinstance(store, PendingWritesStore)
    store.save_pending_writes("r", 2, {"a": {"x": 1}})
    store.save_pending_writes("r", 3, {"a": {"x": 2}})
    assert store.get_pending_writes("r", 2) == {"a": {"x": 1}}
    assert store.get_pending_writes("other", 2) == {}


def test_a_sibling_that_finished_is_not_run_again_on_resume(engine: Engine) -> None:
    calls: Counter[str] = Counter()
    fail = {"b": True}
    graph = fan_out(calls, fail)
    run = engine.run(graph, {})
    assert run.status == "failed" and run.error["node"] == "b"
    assert calls == {"a": 1, "b": 1}
    fail["b"] = False
    resumed = engine.resume(run.run_id, graph=graph)
    assert resumed.status == "completed", resumed.error
    assert resumed.state == {"a": True, "b": True, "both": True}
    assert calls == {"a": 1, "b": 2}  # a's update was kept; before pending writes: a ran twice


def test_map_copies_that_finished_are_not_run_again(engine: Engine) -> None:
    seen: Counter[int] = Counter()
    lock = threading.Lock()
    broken = {7}

    def work(state: dict[str, Any]) -> dict[str, Any]:
        with lock:
            seen[state["doc"]] += 1
        if state["doc"] in broken:
            raise ValueError("bad doc")
        return {"out": [state["doc"]]}

    graph = (
        Graph("map", reducers={"out": "extend"})
        .add_node("split", lambda s: [Send("work", {"doc": d}) for d in s["docs"]], routes=["work"])
        .add_node("work", work)
        .add_edge("split", END)
        .set_entry_point("split")
    )
    run = engine.run(graph, {"docs": list(range(20))})
    assert run.status == "failed"
    broken.clear()
    resumed = engine.resume(run.run_id, graph=graph)
    assert resumed.status == "completed", resumed.error
    assert resumed.state["out"] == list(range(20))
    assert seen == Counter({**{d: 1 for d in range(20)}, 7: 2})


def test_a_store_that_cannot_keep_an_update_only_costs_a_rerun(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(engine.store, "save_pending_writes", refuse)
    calls: Counter[str] = Counter()
    fail = {"b": True}
    graph = fan_out(calls, fail)
    run = engine.run(graph, {})
    fail["b"] = False
    assert engine.resume(run.run_id, graph=graph).status == "completed"
    assert calls == {"a": 2, "b": 2}


def test_async_branches_and_copies_are_kept_too(engine: Engine) -> None:
    calls: Counter[str] = Counter()
    broken = {"b", "w2"}

    def branch(name: str) -> Any:
        async def node(state: dict[str, Any]) -> dict[str, Any]:
            key = name if "doc" not in state else f"w{state['doc']}"
            calls[key] += 1
            if key in broken:
                raise RuntimeError(f"{key} broke")
            return {name: True} if "doc" not in state else {"out": [state["doc"]]}

        return node

    graph = (
        Graph("afan", reducers={"out": "extend"})
        .add_node("start", lambda s: None)
        .add_node("a", branch("a"))
        .add_node("b", branch("b"))
        .add_node("split", lambda s: [Send("w", {"doc": d}) for d in range(4)], routes=["w"])
        .add_node("w", branch("w"))
        .add_edge("start", "a")
        .add_edge("start", "b")
        .add_edge(["a", "b"], "split")
        .add_edge("split", END)
        .set_entry_point("start")
    )
    run = engine.run(graph, {})
    assert run.status == "failed" and calls == {"a": 1, "b": 1}
    broken.discard("b")
    run = engine.resume(run.run_id, graph=graph)
    assert run.status == "failed" and calls["a"] == 1 and calls["b"] == 2
    assert calls["w2"] == 1
    broken.clear()
    run = engine.resume(run.run_id, graph=graph)
    assert run.status == "completed", run.error
    assert run.state["out"] == [0, 1, 2, 3]
    assert [calls[f"w{d}"] for d in range(4)] == [1, 1, 2, 1]
