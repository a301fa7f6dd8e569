"""What a step hands a durable store for keys that only grow (``wfengine.growth``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from wfengine import END, Engine, Graph
from wfengine.growth import (
    MERGE,
    TAIL,
    StepUpdate,
    added,
    growing_keys,
    regrow,
    regrow_into,
    step_update,
)
from wfengine.run import LogEntry, WorkflowRun
from wfengine.state import MISSING, append, extend, merge
from wfengine.storage import MemoryStore


def test_growing_keys_are_those_of_append_extend_and_merge() -> None:
    reducers = {"a": append, "e": extend, "m": merge, "x": lambda c, u: u}
    assert growing_keys(reducers) == {"a": TAIL, "e": TAIL, "m": MERGE}


def test_a_tail_is_what_the_step_appended() -> None:
    old = [1, 2]
    update = step_update({"a": [1, 2, 3, 4], "i": 5}, {"a": old, "i": 4}, {"a": TAIL})
    assert isinstance(update, StepUpdate)
    assert update == {"a": [1, 2, 3, 4], "i": 5}  # still the reduced values
    assert update.grown == {"a": (TAIL, 2)}
    assert added(update["a"], update.grown["a"]) == [3, 4]
    assert regrow(old, TAIL, [3, 4]) == [1, 2, 3, 4]
    assert regrow(MISSING, TAIL, [3]) == [3]


def test_a_merge_keeps_the_added_and_replaced_entries() -> None:
    old = {"x": 1, "y": [2]}
    new = {**old, "y": [3], "z": 4}
    update = step_update({"m": new}, {"m": old}, {"m": MERGE})
    assert isinstance(update, StepUpdate)
    part = added(new, update.grown["m"])
    assert part == {"y": [3], "z": 4}
    assert regrow(old, MERGE, part) == new


def test_values_that_did_not_only_grow_are_left_whole() -> None:
    kinds = {"a": TAIL, "m": MERGE}
    # a shorter list (a state patch could do that), a non-list, a mapping that lost an entry
    assert type(step_update({"a": [1]}, {"a": [1, 2]}, kinds)) is dict
    assert type(step_update({"a": (1, 2)}, {"a": [1]}, kinds)) is dict
    assert type(step_update({"m": {"x": 1}}, {"m": {"y": 2}}, kinds)) is dict
    assert type(step_update({"i": 1}, {}, kinds)) is dict
    with pytest.raises(ValueError, match="unknown kind of growth"):
        regrow([], "prepend", [1])


class RecordingStore(MemoryStore):
    """A memory store that is told every step, as a durable store is."""

    durable = True

    def __init__(self) -> None:
        super().__init__()
        self.updates: list[Mapping[str, Any]] = []

    def save_step(
        self, run: WorkflowRun, update: Mapping[str, Any], logs: Sequence[LogEntry]
    ) -> None:
        self.updates.append(update)


def test_the_executor_says_what_each_step_added() -> None:
    graph = Graph("chat", reducers={"messages": "append", "seen": "merge"}, max_steps=50)
    graph.add_node("a", lambda s: {"messages": f"m{len(s['messages'])}", "i": s["i"] + 1})
    graph.add_node("b", lambda s: {"seen": {f"k{s['i']}": s["i"]}})
    graph.add_edge("a", "b")
    graph.add_edge("b", "a", condition=lambda s: s["i"] < 3)
    graph.add_edge("b", END, default=True)
    graph.set_entry_point("a")
    store = RecordingStore()
    run = Engine(load_entrypoints=False, store=store).run(graph, {"messages": [], "i": 0})
    assert run.status == "completed", run.error
    grown = [getattr(u, "grown", {}) for u in store.updates]
    assert grown == [
        {"messages": (TAIL, 0)},
        {"seen": (MERGE, ["k1"])},
        {"messages": (TAIL, 1)},
        {"seen": (MERGE, ["k2"])},
        {"messages": (TAIL, 2)},
        {"seen": (MERGE, ["k3"])},
    ]
    assert store.updates[-2]["messages"] == ["m0", "m1", "m2"]  # the reduced value, as ever


def test_regrow_into_extends_the_callers_own_values_in_place() -> None:
    items: list[int] = [1]
    entries = {"x": 1}
    state: dict[str, Any] = {"a": items, "m": entries, "t": (1,)}
    regrow_into(state, "a", TAIL, [2, 3])
    regrow_into(state, "m", MERGE, {"y": 2})
    regrow_into(state, "new", TAIL, [1])
    regrow_into(state, "t", TAIL, [2])  # not a list: rebuilt as one
    assert state == {"a": [1, 2, 3], "m": {"x": 1, "y": 2}, "new": [1], "t": [1, 2]}
    assert state["a"] is items and state["m"] is entries


def test_split_growth_parts_replaced_keys_from_what_grown_keys_gained() -> None:
    from wfengine.growth import split_growth

    kinds = {"log": TAIL, "seen": MERGE}
    before = {"log": ["a"], "seen": {"x": 1}, "n": 1}
    merged = {"log": ["a", "b"], "seen": {"x": 1, "y": 2}, "n": 2}
    assert split_growth(merged, before, kinds) == (
        {"n": 2},
        {"log": (TAIL, ["b"]), "seen": (MERGE, {"y": 2})},
    )
    # a value that cannot have grown from the old one (shorter, or not a list) is replaced
    assert split_growth({"log": []}, before, kinds) == ({"log": []}, {})
    assert split_growth({"seen": [1]}, before, kinds) == ({"seen": [1]}, {})
    assert split_growth({"log": ["z"]}, {}, kinds) == ({}, {"log": (TAIL, ["z"])})
