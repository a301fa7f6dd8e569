"""Fan-out, joins and conflicting writes (issue 2, "Fan-out", "Reducers")."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from wfengine import END, Graph, RunStatus, WorkflowExecutor


def fan_out(**branches: Any) -> Graph:
    """``start`` fans out to every branch, each branch ends."""
    graph = Graph("fan").add_node("start", lambda s: None).set_entry_point("start")
    for name, func in branches.items():
        graph.add_node(name, func).add_edge("start", name).add_edge(name, END)
    return graph


def test_sync_branches_run_concurrently() -> None:
    barrier = threading.Barrier(2, timeout=5)
    threads: dict[str, str] = {}

    def branch(name: str) -> Any:
        def node(state: dict[str, Any]) -> dict[str, Any]:
            threads[name] = threading.current_thread().name
            barrier.wait()  # raises BrokenBarrierError unless the other branch runs too
            return {name: True}

        return node

    run = WorkflowExecutor(fan_out(left=branch("left"), right=branch("right"))).run({})
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state == {"left": True, "right": True}
    assert run.visited_nodes == ["start", "left", "right"]
    assert threads["left"] != threads["right"]
    # log entries are appended as attempts end, so the branches may be in either order
    assert sorted((e.step, e.node) for e in run.logs) == [(1, "start"), (2, "left"), (2, "right")]


def test_branches_of_one_step_see_the_state_from_the_start_of_the_step() -> None:
    seen: dict[str, Any] = {}

    def writer(state: dict[str, Any]) -> dict[str, Any]:
        time.sleep(0.01)
        return {"written": True}

    def reader(state: dict[str, Any]) -> None:
        time.sleep(0.03)
        seen["written"] = state.get("written")

    run = WorkflowExecutor(fan_out(writer=writer, reader=reader)).run({})
    assert run.status == RunStatus.COMPLETED
    assert seen == {"written": None}
    assert run.state == {"written": True}


def test_branch_mutating_its_input_does_not_leak_into_its_sibling() -> None:
    barrier = threading.Barrier(2, timeout=5)
    seen: list[Any] = []

    def vandal(state: dict[str, Any]) -> None:
        state["shared"] = "vandalised"
        barrier.wait()

    def reader(state: dict[str, Any]) -> None:
        barrier.wait()
        seen.append(state["shared"])

    run = WorkflowExecutor(fan_out(vandal=vandal, reader=reader)).run({"shared": "intact"})
    assert run.status == RunStatus.COMPLETED
    assert seen == ["intact"]
    assert run.state == {"shared": "intact"}


def join_graph(delay_a: float = 0.0) -> tuple[Graph, list[str]]:
    calls: list[str] = []

    def a(state: dict[str, Any]) -> dict[str, Any]:
        time.sleep(delay_a)
        calls.append("a")
        return {"a": 1}

    def b(state: dict[str, Any]) -> dict[str, Any]:
        calls.append("b")
        return {"b": 2}

    def c(state: dict[str, Any]) -> dict[str, Any]:
        calls.append("c")
        return {"c": state["a"] + state["b"]}

    graph = (
        Graph("join")
        .add_node("start", lambda s: None)
        .add_node("a", a)
        .add_node("b", b)
        .add_node("c", c)
        .add_edge("start", "a")
        .add_edge("start", "b")
        .add_edge(["a", "b"], "c")
        .add_edge("c", END)
        .set_entry_point("start")
    )
    return graph, calls


def test_join_waits_for_all_sources_and_runs_once() -> None:
    graph, calls = join_graph(delay_a=0.02)
    run = WorkflowExecutor(graph).run({})
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state == {"a": 1, "b": 2, "c": 3}
    assert calls.count("c") == 1
    assert calls[-1] == "c"
    assert run.visited_nodes == ["start", "a", "b", "c"]
    assert run.join_progress == {}


def test_join_across_branches_of_different_lengths() -> None:
    calls: list[str] = []

    def record(name: str) -> Any:
        def node(state: dict[str, Any]) -> dict[str, Any]:
            calls.append(name)
            return {name: True}

        return node

    graph = Graph("uneven").add_node("start", record("start")).set_entry_point("start")
    for name in ("short", "long1", "long2", "long3", "joined"):
        graph.add_node(name, record(name))
    graph.add_edge("start", "short").add_edge("start", "long1")
    graph.add_edge("long1", "long2").add_edge("long2", "long3")
    graph.add_edge(["short", "long3"], "joined").add_edge("joined", END)

    run = WorkflowExecutor(graph).run({})
    assert run.status == RunStatus.COMPLETED, run.error
    assert calls.count("joined") == 1
    assert calls.index("joined") > calls.index("long3")
    assert run.visited_nodes[-1] == "joined"
    assert run.join_progress == {}


def test_join_with_a_condition_fires_only_when_it_holds() -> None:
    graph, calls = join_graph()
    graph.edges[2].condition = lambda s: s["a"] > 100
    run = WorkflowExecutor(graph).run({})
    assert run.status == RunStatus.COMPLETED
    assert "c" not in calls


def test_join_in_a_loop_fires_once_per_round() -> None:
    graph = (
        Graph("rounds")
        .add_node("start", lambda s: {"round": s["round"] + 1})
        .add_node("a", lambda s: {"a": s["round"]})
        .add_node("b", lambda s: {"b": s["round"]})
        .add_node("c", lambda s: {"joined": s["joined"] + [s["a"] + s["b"]]})
        .add_edge("start", "a")
        .add_edge("start", "b")
        .add_edge(["a", "b"], "c")
        .add_edge("c", "start", condition=lambda s: s["round"] < 3)
        .add_edge("c", END, default=True)
        .set_entry_point("start")
    )
    run = WorkflowExecutor(graph).run({"round": 0, "joined": []})
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state["joined"] == [2, 4, 6]
    assert run.visited_nodes.count("c") == 3


def test_two_branches_reaching_the_same_node_run_it_once_per_step() -> None:
    calls: list[str] = []
    graph = (
        Graph("diamond")
        .add_node("start", lambda s: None)
        .add_node("a", lambda s: None)
        .add_node("b", lambda s: None)
        .add_node("d", lambda s: calls.append("d"))
        .add_edge("start", "a")
        .add_edge("start", "b")
        .add_edge("a", "d")
        .add_edge("b", "d")
        .add_edge("d", END)
        .set_entry_point("start")
    )
    run = WorkflowExecutor(graph).run({})
    assert run.status == RunStatus.COMPLETED
    assert calls == ["d"]


# -- conflicting writes --------------------------------------------------------------------


def test_conflicting_parallel_writes_fail_naming_both_nodes_and_the_key() -> None:
    graph = fan_out(left=lambda s: {"owner": "left"}, right=lambda s: {"owner": "right"})
    run = WorkflowExecutor(graph).run({"owner": None})
    assert run.status == RunStatus.FAILED
    assert run.error is not None
    assert run.error["type"] == "StateConflictError"
    message = run.error["message"]
    assert "'left'" in message and "'right'" in message and "'owner'" in message
    assert "reducer" in message
    assert run.state == {"owner": None}
    assert run.error["step"] == 2


def test_same_value_written_by_both_branches_is_fine() -> None:
    graph = fan_out(left=lambda s: {"flag": [1, 2]}, right=lambda s: {"flag": [1, 2], "r": 1})
    run = WorkflowExecutor(graph).run({})
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state == {"flag": [1, 2], "r": 1}


def test_branches_returning_the_whole_state_do_not_conflict_on_untouched_keys() -> None:
    graph = fan_out(
        left=lambda s: {**s, "left": True},
        right=lambda s: {**s, "right": True},
    )
    run = WorkflowExecutor(graph).run({"shared": 1})
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state == {"shared": 1, "left": True, "right": True}


def test_conflict_resolved_by_a_reducer() -> None:
    graph = fan_out(left=lambda s: {"seen": "left"}, right=lambda s: {"seen": "right"})
    graph.set_reducer("seen", "append")
    run = WorkflowExecutor(graph).run({})
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state == {"seen": ["left", "right"]}  # merged in node order


def test_parallel_reducers_merge_in_node_order_whatever_finishes_first() -> None:
    def slow(state: dict[str, Any]) -> dict[str, Any]:
        time.sleep(0.03)
        return {"items": ["slow"], "total": 1}

    def fast(state: dict[str, Any]) -> dict[str, Any]:
        return {"items": ["fast"], "total": 10}

    graph = fan_out(slow=slow, fast=fast).set_reducer("items", "extend").set_reducer("total", "add")
    run = WorkflowExecutor(graph).run({"items": ["first"], "total": 100})
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state == {"items": ["first", "slow", "fast"], "total": 111}


def test_a_failing_branch_fails_the_run_and_discards_the_step() -> None:
    def bad(state: dict[str, Any]) -> None:
        raise RuntimeError("branch broke")

    graph = fan_out(good=lambda s: {"good": True}, bad=bad)
    run = WorkflowExecutor(graph).run({})
    assert run.status == RunStatus.FAILED
    assert run.error is not None
    assert run.error["node"] == "bad" and run.error["message"] == "branch broke"
    assert "good" not in run.state
    assert run.next_nodes == ["good", "bad"]


@pytest.mark.parametrize("width", [8])
def test_wide_fan_out_all_branches_overlap(width: int) -> None:
    barrier = threading.Barrier(width, timeout=5)

    def make(i: int) -> Any:
        def node(state: dict[str, Any]) -> dict[str, Any]:
            barrier.wait()
            return {f"b{i}": i}

        return node

    graph = fan_out(**{f"b{i}": make(i) for i in range(width)})
    run = WorkflowExecutor(graph).run({})
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state == {f"b{i}": i for i in range(width)}


def test_one_executor_runs_many_runs_at_once_from_many_threads() -> None:
    def branch(name: str) -> Any:
        def node(state: dict[str, Any]) -> dict[str, Any]:
            time.sleep(0.001)
            return {name: state["seed"] * 2}

        return node

    graph = fan_out(left=branch("left"), right=branch("right"))
    executor = WorkflowExecutor(graph)
    results: dict[int, Any] = {}

    def drive(seed: int) -> None:
        results[seed] = executor.run({"seed": seed})

    threads = [threading.Thread(target=drive, args=(seed,)) for seed in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(results) == list(range(16))
    for seed, run in results.items():
        assert run.status == RunStatus.COMPLETED, run.error
        assert run.state == {"seed": seed, "left": seed * 2, "right": seed * 2}


def test_values_without_a_plain_equality_conflict_clearly() -> None:
    class Ambiguous:
        def __eq__(self, other: object) -> bool:
            raise ValueError("the truth value is ambiguous")

        __hash__ = object.__hash__

    graph = (
        Graph("g")
        .add_node("start", lambda s: None)
        .add_node("a", lambda s: {"x": Ambiguous()})
        .add_node("b", lambda s: {"x": Ambiguous()})
        .add_edge("start", "a")
        .add_edge("start", "b")
        .add_edge(["a", "b"], END)
        .set_entry_point("start")
    )
    run = WorkflowExecutor(graph).run({})
    assert run.status == RunStatus.FAILED
    assert run.error is not None and run.error["type"] == "StateConflictError"
    assert "'a' and 'b'" in run.error["message"] and "'x'" in run.error["message"]
