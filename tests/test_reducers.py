"""Reducers: how updates to a key merge (issue 2, "Reducers")."""

from __future__ import annotations

from typing import Any

import pytest
from wfengine import END, Graph, RunStatus, WorkflowExecutor
from wfengine.state import REDUCERS, merge_update, resolve_reducer

# -- the reducer functions --------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "current", "update", "expected"),
    [
        ("replace", [1], [2], [2]),
        ("append", [1], 2, [1, 2]),
        ("append", [1], [2], [1, [2]]),
        ("extend", [1], [2, 3], [1, 2, 3]),
        ("extend", [1], (2, 3), [1, 2, 3]),
        ("merge", {"a": 1, "b": 1}, {"b": 2, "c": 3}, {"a": 1, "b": 2, "c": 3}),
        ("add", 1, 2, 3),
        ("add", 1.5, 1, 2.5),
        ("add", "ab", "c", "abc"),
    ],
)
def test_named_reducers(name: str, current: Any, update: Any, expected: Any) -> None:
    assert REDUCERS[name](current, update) == expected


@pytest.mark.parametrize(
    ("name", "update", "expected"),
    [("append", 1, [1]), ("extend", [1], [1]), ("merge", {"a": 1}, {"a": 1}), ("add", 5, 5)],
)
def test_missing_or_none_key_counts_as_empty(name: str, update: Any, expected: Any) -> None:
    state: dict[str, Any] = {}
    merge_update(state, {"k": update}, {"k": REDUCERS[name]})
    assert state == {"k": expected}
    assert REDUCERS[name](None, update) == expected


@pytest.mark.parametrize("name", ["append", "extend", "merge"])
def test_reducers_never_mutate_the_current_value(name: str) -> None:
    current: Any = {"a": 1} if name == "merge" else [1]
    snapshot = repr(current)
    REDUCERS[name](current, {"b": 2} if name == "merge" else [2])
    assert repr(current) == snapshot


def test_resolve_reducer_by_name_or_callable_and_unknown_name() -> None:
    assert resolve_reducer("append") is REDUCERS["append"]

    def custom(current: Any, update: Any) -> Any:
        return update

    assert resolve_reducer(custom) is custom
    with pytest.raises(ValueError, match="unknown reducer 'concat'.*append"):
        resolve_reducer("concat")


def test_set_reducer_rejects_an_unknown_name() -> None:
    with pytest.raises(ValueError, match="unknown reducer"):
        Graph("g").set_reducer("k", "sum")


def test_merging_without_reducers_replaces() -> None:
    state = {"a": 1, "b": [1]}
    merge_update(state, {"b": [2], "c": 3}, {})
    assert state == {"a": 1, "b": [2], "c": 3}


# -- reducers in runs ---------------------------------------------------------------------


def chain(*funcs: Any) -> Graph:
    graph = Graph("chain")
    names = [f"n{i}" for i in range(len(funcs))]
    for name, func in zip(names, funcs, strict=True):
        graph.add_node(name, func)
    for a, b in zip(names, names[1:], strict=False):
        graph.add_edge(a, b)
    return graph.add_edge(names[-1], END).set_entry_point(names[0])


@pytest.mark.parametrize(
    ("reducer", "updates", "initial", "expected"),
    [
        ("append", ["x", "y"], None, ["x", "y"]),
        ("extend", [["x"], ["y", "z"]], ["w"], ["w", "x", "y", "z"]),
        ("merge", [{"a": 1}, {"b": 2, "a": 3}], {"z": 0}, {"z": 0, "a": 3, "b": 2}),
        ("add", [2, 3], 10, 15),
        ("replace", [2, 3], 10, 3),
    ],
)
def test_reducer_applies_across_steps(
    reducer: str, updates: list[Any], initial: Any, expected: Any
) -> None:
    graph = chain(*[(lambda s, u=u: {"k": u}) for u in updates]).set_reducer("k", reducer)
    state = {} if initial is None else {"k": initial}
    run = WorkflowExecutor(graph).run(state)
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state["k"] == expected


def test_add_reducer_counts_equal_values_every_time() -> None:
    graph = chain(lambda s: {"count": 1}, lambda s: {"count": 1}).set_reducer("count", "add")
    run = WorkflowExecutor(graph).run({"count": 1})
    assert run.state["count"] == 3


def test_custom_callable_reducer() -> None:
    def keep_max(current: Any, update: Any) -> Any:
        return update if current is None or not isinstance(current, int) else max(current, update)

    graph = chain(lambda s: {"best": 7}, lambda s: {"best": 3}).set_reducer("best", keep_max)
    run = WorkflowExecutor(graph).run({})
    assert run.state["best"] == 7
    assert graph.to_dict()["reducers"]["best"].endswith("keep_max")


def test_reducers_given_to_the_graph_constructor() -> None:
    graph = Graph("g", reducers={"log": "append"})
    graph.add_node("a", lambda s: {"log": "a"}).add_node("b", lambda s: {"log": "b"})
    graph.add_edge("a", "b").add_edge("b", END).set_entry_point("a")
    assert WorkflowExecutor(graph).run({}).state == {"log": ["a", "b"]}


def test_reduced_lists_are_not_shared_with_a_node_that_kept_a_reference() -> None:
    kept: list[Any] = []
    graph = chain(
        lambda s: kept.append(s["items"]) or {"items": "a"},
        lambda s: {"items": "b"},
    ).set_reducer("items", "append")
    run = WorkflowExecutor(graph).run({"items": []})
    assert run.state["items"] == ["a", "b"]
    assert kept == [[]]


def test_node_returning_the_whole_state_does_not_reapply_reducers_to_untouched_keys() -> None:
    graph = chain(
        lambda s: {"items": "a", "log": ["first"]},
        lambda s: {**s, "other": True},
        lambda s: s,
    )
    graph.set_reducer("items", "append").set_reducer("log", "extend")
    run = WorkflowExecutor(graph).run({})
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state == {"items": ["a"], "log": ["first"], "other": True}


def test_whole_state_returned_by_parallel_branches_with_a_reducer() -> None:
    graph = (
        Graph("fan")
        .add_node("start", lambda s: None)
        .add_node("left", lambda s: {**s, "items": [*s["items"], "left"]})
        .add_node("right", lambda s: {**s, "right": True})
        .add_edge("start", "left")
        .add_edge("start", "right")
        .add_edge("left", END)
        .add_edge("right", END)
        .set_entry_point("start")
        .set_reducer("items", "replace")
        .set_reducer("tags", "extend")
    )
    run = WorkflowExecutor(graph).run({"items": ["start"], "tags": ["t"]})
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state == {"items": ["start", "left"], "tags": ["t"], "right": True}


def test_merge_update_keeps_only_the_changes_and_copies_no_update_that_is_all_change() -> None:
    from wfengine.state import StateView

    shared = [1]
    state: dict[str, Any] = {"a": 1, "b": shared}
    view = StateView(state)
    update = {"a": 2, "c": 3}
    merged = merge_update(state, update, {}, view)
    assert merged is update  # every key changes: the update itself, not a copy
    assert state == dict(view) == {"a": 2, "b": [1], "c": 3}
    partly = {"a": 2, "b": shared, "d": 4}  # a and b are what the state holds already
    assert merge_update(state, partly, {}, view) == {"d": 4}
    assert state == dict(view) == {"a": 2, "b": [1], "c": 3, "d": 4}
