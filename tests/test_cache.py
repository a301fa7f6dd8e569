"""Caching of node results: hits, misses with their reasons, never a wrong hit."""

from __future__ import annotations

import time
from typing import Any

import pytest
import wfengine
from wfengine import END, Engine, Graph, WorkflowError
from wfengine.cache import CachePolicy, code_hash


def scoring(calls: list[int], **cache: Any) -> Graph:
    def score(state: dict[str, Any]) -> dict[str, Any]:
        calls.append(state["threshold"])
        return {"score": state["threshold"] * 2}

    return (
        Graph("scoring")
        .add_node("score", score, **cache)
        .add_edge("score", END)
        .set_entry_point("score")
    )


@pytest.fixture
def engine() -> Engine:
    return Engine(load_entrypoints=False)


def reasons(engine: Engine, graph: Graph, *states: dict[str, Any]) -> list[str]:
    out = []
    for state in states:
        run = engine.run(graph, state)
        out.append(run.cache_log[-1]["reason"])
    return out


def test_hits_and_misses_with_their_reasons(engine: Engine) -> None:
    calls: list[int] = []
    graph = scoring(calls, cache=True, reads=["threshold"])
    assert reasons(
        engine, graph, {"threshold": 3}, {"threshold": 3, "noise": 1}, {"threshold": 4}
    ) == ["miss: first call", "hit", "miss: reads.threshold 3 -> 4"]
    assert calls == [3, 4]  # the hit did not call the node
    run = engine.run(graph, {"threshold": 4})
    assert run.state["score"] == 8 and run.cache_log[0]["result"] == "hit"


def test_the_whole_state_is_the_key_when_reads_are_not_declared(engine: Engine) -> None:
    calls: list[int] = []
    graph = scoring(calls, cache=True)
    assert reasons(engine, graph, {"threshold": 1}, {"threshold": 1, "x": 2}) == [
        "miss: first call",
        "miss: reads.x null -> 2",
    ]


def test_an_unhashable_value_disables_the_cache_for_that_call(engine: Engine) -> None:
    calls: list[int] = []
    graph = scoring(calls, cache=True)
    conn = object()
    run = engine.run(graph, {"threshold": 1, "conn": conn})
    assert run.cache_log[-1] == {
        "node": "score",
        "result": "not cacheable",
        "reason": 'not cacheable: state key "conn" cannot be hashed',
        "step": 1,
    }
    engine.run(graph, {"threshold": 1, "conn": conn})
    assert calls == [1, 1]  # never a hit from an unhashable input


def test_changed_code_misses(engine: Engine) -> None:
    calls: list[int] = []
    engine.run(scoring(calls, cache=True), {"threshold": 1})

    def score(state: dict[str, Any]) -> dict[str, Any]:  # same name, other code
        return {"score": state["threshold"] * 3}

    changed = Graph("scoring").add_node("score", score, cache=True).set_entry_point("score")
    run = engine.run(changed, {"threshold": 1})
    assert run.state["score"] == 3
    assert run.cache_log[-1]["reason"].startswith("miss: ")
    assert run.cache_log[-1]["reason"] != "hit"


def test_ttl_expires_and_a_key_function_joins_the_key(engine: Engine) -> None:
    calls: list[int] = []
    graph = scoring(calls, cache={"ttl": 0.05})
    engine.run(graph, {"threshold": 1})
    time.sleep(0.08)
    assert reasons(engine, graph, {"threshold": 1}) == ["miss: expired"]
    keyed = scoring(calls, cache=CachePolicy(reads=(), key=lambda s: s["threshold"] % 2))
    assert reasons(engine, keyed, {"threshold": 1}, {"threshold": 3}, {"threshold": 2}) == [
        "miss: reads.threshold 1 -> null",  # against the node's last entry (reads: all)
        "hit",
        "miss: key 1 -> 0",
    ]


def test_a_spec_node_caches_and_keeps_its_policy(engine: Engine) -> None:
    spec = {
        "name": "cached-spec",
        "entry": "a",
        "nodes": {"a": {"call": "builtins:dict", "cache": {"ttl": 60}, "reads": ["x"]}},
        "edges": [{"from": "a", "to": "END"}],
    }
    graph = engine.load_spec(spec)
    assert graph.nodes["a"].cache == CachePolicy(ttl=60.0, reads=("x",))
    assert wfengine.dump_spec(graph)["nodes"]["a"]["cache"] == {"ttl": 60.0, "reads": ["x"]}
    assert reasons(engine, graph, {"x": 1}, {"x": 1}) == ["miss: first call", "hit"]
    with pytest.raises(wfengine.SpecError, match="unknown key"):
        engine.load_spec({**spec, "nodes": {"a": {"call": "builtins:dict", "cache": {"tl": 1}}}})


def test_bad_policies_are_refused() -> None:
    with pytest.raises(WorkflowError, match="ttl must be a positive number"):
        CachePolicy.coerce({"ttl": -1})
    with pytest.raises(WorkflowError, match="cache must be true"):
        CachePolicy.coerce(3)


def test_code_hash_sees_the_code() -> None:
    def one(s: Any) -> int:
        return 1

    def two(s: Any) -> int:
        return 2

    assert code_hash(one) != code_hash(two) and code_hash(one) == code_hash(one)


def test_cache_entries_are_listed_and_cleared(engine: Engine) -> None:
    engine.run(scoring([], cache=True), {"threshold": 1})
    store = engine.store
    [entry] = store.list_cache_entries()  # type: ignore[attr-defined]
    assert entry["node"] == "score" and "update" not in entry
    assert store.clear_cache("other") == 0  # type: ignore[attr-defined]
    assert store.clear_cache() == 1  # type: ignore[attr-defined]
