"""Running graphs (sync): the seed's example, node return styles, loops, branching, errors,
the step limit (issue 2, "Execution")."""

from __future__ import annotations

from typing import Any

import pytest
from wfengine import (
    END,
    Graph,
    RunStatus,
    WorkflowError,
    WorkflowExecutor,
    WorkflowRun,
)


def double(state: dict[str, Any]) -> dict[str, Any]:
    return {"value": state["value"] * 2}


def add_five(state: dict[str, Any]) -> dict[str, Any]:
    return {"value": state["value"] + 5}


def seed_graph() -> Graph:
    graph = Graph("seed-example")
    graph.add_node("A", double)
    graph.add_node("B", add_five)
    graph.add_edge("A", "B")
    graph.add_edge("B", END)
    graph.set_entry_point("A")
    return graph


# -- the seed's example ------------------------------------------------------------------


def test_seed_example_doubles_then_adds_five() -> None:
    run = WorkflowExecutor(seed_graph()).run({"value": 10})
    assert isinstance(run, WorkflowRun)
    assert run.status == RunStatus.COMPLETED
    assert run.state == {"value": 25}
    assert run.final_state == {"value": 25}
    assert run.visited_nodes == ["A", "B"]
    assert run.error is None
    assert run.step == 2
    assert run.graph_id == "seed-example"
    assert [(e.node, e.step, e.attempt, e.status) for e in run.logs] == [
        ("A", 1, 1, "completed"),
        ("B", 2, 1, "completed"),
    ]


def test_initial_state_is_not_modified_by_the_run() -> None:
    initial = {"value": 10}
    run = WorkflowExecutor(seed_graph()).run(initial)
    assert initial == {"value": 10}
    assert run.state is not initial


def test_executor_is_reusable_for_many_runs() -> None:
    executor = WorkflowExecutor(seed_graph())
    runs = [executor.run({"value": v}) for v in range(5)]
    assert [r.state["value"] for r in runs] == [v * 2 + 5 for v in range(5)]
    assert len({r.run_id for r in runs}) == 5


def test_executor_validates_the_graph_and_keeps_warnings() -> None:
    graph = seed_graph().add_node("orphan", double).add_edge("orphan", END)
    executor = WorkflowExecutor(graph)
    assert executor.warnings == ["node 'orphan' is unreachable from the entry point"]
    broken = Graph("broken").add_node("a", double).add_edge("a", "nowhere")
    from wfengine import GraphValidationError

    with pytest.raises(GraphValidationError, match="nowhere"):
        WorkflowExecutor(broken)


# -- what a node may return -------------------------------------------------------------


@pytest.mark.parametrize(
    "node",
    [
        pytest.param(lambda s: {"b": 2}, id="changed-keys"),
        pytest.param(lambda s: {**s, "b": 2}, id="whole-state-copy"),
        pytest.param(lambda s: s.update(b=2) or s, id="whole-state-mutated-and-returned"),
    ],
)
def test_node_may_return_changed_keys_or_the_whole_state(node: Any) -> None:
    graph = Graph("g").add_node("n", node).add_edge("n", END).set_entry_point("n")
    run = WorkflowExecutor(graph).run({"a": 1})
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state == {"a": 1, "b": 2}


def test_node_returning_none_changes_nothing() -> None:
    graph = Graph("g").add_node("n", lambda s: None).add_edge("n", END).set_entry_point("n")
    run = WorkflowExecutor(graph).run({"a": 1})
    assert run.status == RunStatus.COMPLETED
    assert run.state == {"a": 1}


def test_node_mutating_its_input_without_returning_it_does_not_corrupt_the_run() -> None:
    seen: list[dict[str, Any]] = []

    def vandal(state: dict[str, Any]) -> None:
        state["value"] = -1
        state["junk"] = True
        del state["keep"]

    def observer(state: dict[str, Any]) -> None:
        seen.append(dict(state))

    graph = (
        Graph("g")
        .add_node("vandal", vandal)
        .add_node("observer", observer)
        .add_edge("vandal", "observer")
        .add_edge("observer", END)
        .set_entry_point("vandal")
    )
    run = WorkflowExecutor(graph).run({"value": 1, "keep": "me"})
    assert run.status == RunStatus.COMPLETED
    assert run.state == {"value": 1, "keep": "me"}
    assert seen == [{"value": 1, "keep": "me"}]


def test_node_returning_a_non_mapping_fails_the_run_naming_the_node() -> None:
    graph = Graph("g").add_node("bad", lambda s: 42).add_edge("bad", END).set_entry_point("bad")
    run = WorkflowExecutor(graph).run({})
    assert run.status == RunStatus.FAILED
    assert run.error is not None
    assert "mapping" in run.error["message"] and "int" in run.error["message"]
    assert run.error["node"] == "bad"


# -- loops and branching ----------------------------------------------------------------


def test_loop_runs_until_its_condition_holds() -> None:
    graph = (
        Graph("loop")
        .add_node("inc", lambda s: {"count": s["count"] + 1})
        .add_node("done", lambda s: {"finished": True})
        .add_edge("inc", "inc", condition=lambda s: s["count"] < 5)
        .add_edge("inc", "done", default=True)
        .add_edge("done", END)
        .set_entry_point("inc")
    )
    run = WorkflowExecutor(graph).run({"count": 0})
    assert run.status == RunStatus.COMPLETED
    assert run.state == {"count": 5, "finished": True}
    assert run.visited_nodes == ["inc"] * 5 + ["done"]
    assert [e.step for e in run.logs] == [1, 2, 3, 4, 5, 6]


def branching_graph() -> Graph:
    return (
        Graph("branch")
        .add_node("check", lambda s: None)
        .add_node("big", lambda s: {"label": "big"})
        .add_node("small", lambda s: {"label": "small"})
        .add_edge("check", "big", condition=lambda s: s["value"] > 100)
        .add_edge("check", "small", condition=lambda s: s["value"] <= 100)
        .add_edge("big", END)
        .add_edge("small", END)
        .set_entry_point("check")
    )


@pytest.mark.parametrize(("value", "label"), [(500, "big"), (100, "small"), (-3, "small")])
def test_branching_by_condition(value: int, label: str) -> None:
    run = WorkflowExecutor(branching_graph()).run({"value": value})
    assert run.status == RunStatus.COMPLETED
    assert run.state["label"] == label
    assert run.visited_nodes == ["check", label]


def test_condition_set_on_an_edge_after_adding_is_used_by_the_run() -> None:
    graph = (
        Graph("g")
        .add_node("step1", lambda s: None)
        .add_node("step2", lambda s: {"went": "step2"})
        .add_edge("step1", "step2")
        .add_edge("step2", END)
        .set_entry_point("step1")
    )
    executor = WorkflowExecutor(graph)
    assert executor.run({"value": 1}).visited_nodes == ["step1", "step2"]
    graph.edges[0].condition = lambda state: state["value"] > 100
    assert executor.run({"value": 1}).visited_nodes == ["step1"]
    assert executor.run({"value": 101}).visited_nodes == ["step1", "step2"]


def test_default_edge_only_when_no_conditional_edge_fired() -> None:
    graph = (
        Graph("g")
        .add_node("a", lambda s: None)
        .add_node("cond", lambda s: {"via": "cond"})
        .add_node("fallback", lambda s: {"via": "fallback"})
        .add_node("always", lambda s: {"always": True})
        .add_edge("a", "cond", condition=lambda s: s["x"])
        .add_edge("a", "fallback", default=True)
        .add_edge("a", "always")
        .add_edge("cond", END)
        .add_edge("fallback", END)
        .add_edge("always", END)
        .set_entry_point("a")
    )
    executor = WorkflowExecutor(graph)
    fired = executor.run({"x": True})
    assert fired.state == {"x": True, "via": "cond", "always": True}
    assert "fallback" not in fired.visited_nodes
    not_fired = executor.run({"x": False})
    assert not_fired.state == {"x": False, "via": "fallback", "always": True}
    assert "cond" not in not_fired.visited_nodes


def test_node_without_outgoing_edges_ends_its_branch() -> None:
    graph = Graph("g").add_node("only", lambda s: {"done": True}).set_entry_point("only")
    run = WorkflowExecutor(graph).run({})
    assert run.status == RunStatus.COMPLETED
    assert run.state == {"done": True}


def test_condition_that_raises_fails_the_run_with_its_error() -> None:
    graph = (
        Graph("g")
        .add_node("a", lambda s: {"seen": True})
        .add_node("b", lambda s: None)
        .add_edge("a", "b", condition=lambda s: s["missing"] > 1)
        .add_edge("b", END)
        .set_entry_point("a")
    )
    run = WorkflowExecutor(graph).run({})
    assert run.status == RunStatus.FAILED
    assert run.error is not None
    assert run.error["type"] == "KeyError"
    assert "missing" in run.error["message"]


# -- failures ---------------------------------------------------------------------------


def explode(state: dict[str, Any]) -> None:
    raise ValueError(f"cannot handle value {state['value']}")


def failing_graph() -> Graph:
    return (
        Graph("failing")
        .add_node("A", double)
        .add_node("boom", explode)
        .add_node("C", add_five)
        .add_edge("A", "boom")
        .add_edge("boom", "C")
        .add_edge("C", END)
        .set_entry_point("A")
    )


def test_node_error_fails_the_run_with_type_message_traceback_node_and_step() -> None:
    run = WorkflowExecutor(failing_graph()).run({"value": 3})
    assert run.status == RunStatus.FAILED
    assert run.error is not None
    assert run.error["type"] == "ValueError"
    assert run.error["message"] == "cannot handle value 6"
    assert "Traceback" in run.error["traceback"] and "explode" in run.error["traceback"]
    assert run.error["node"] == "boom"
    assert run.error["step"] == 2
    assert run.state == {"value": 6}
    assert run.visited_nodes == ["A"]
    assert run.finished is not None and run.finished_at is not None


def test_failing_log_entry_holds_the_error_and_the_state_before() -> None:
    run = WorkflowExecutor(failing_graph()).run({"value": 3})
    last = run.logs[-1]
    assert (last.node, last.step, last.attempt, last.status) == ("boom", 2, 1, "failed")
    assert last.error is not None and last.error["type"] == "ValueError"
    assert last.state_before == {"value": 6}
    assert run.logs[0].error is None and run.logs[0].state_before is None


def test_failure_state_before_is_a_snapshot() -> None:
    run = WorkflowExecutor(failing_graph()).run({"value": 3})
    run.state["value"] = 1000
    assert run.logs[-1].state_before == {"value": 6}


def test_keyboard_interrupt_cancels_the_run_and_propagates() -> None:
    def interrupt(state: dict[str, Any]) -> None:
        raise KeyboardInterrupt

    graph = Graph("g").add_node("n", interrupt).add_edge("n", END).set_entry_point("n")
    executor = WorkflowExecutor(graph)
    run = executor.new_run({})
    with pytest.raises(KeyboardInterrupt):
        executor.run_existing(run)
    assert run.status == RunStatus.CANCELLED


# -- the step limit ---------------------------------------------------------------------


def forever_graph(max_steps: int | None = None) -> Graph:
    return (
        Graph("forever", max_steps=max_steps)
        .add_node("spin", lambda s: {"n": s["n"] + 1})
        .add_edge("spin", "spin")
        .set_entry_point("spin")
    )


def assert_step_limited(run: WorkflowRun, limit: int) -> None:
    assert run.status == RunStatus.FAILED
    assert run.error is not None
    assert run.error["type"] == "StepLimitError"
    assert f"step limit of {limit}" in run.error["message"]
    assert "spin" in run.error["message"]
    assert run.step == limit
    assert run.state == {"n": limit}
    assert len(run.logs) == limit
    assert run.visited_nodes == ["spin"] * limit


def test_step_limit_per_run() -> None:
    run = WorkflowExecutor(forever_graph()).run({"n": 0}, max_steps=7)
    assert_step_limited(run, 7)


def test_step_limit_default_is_1000() -> None:
    run = WorkflowExecutor(forever_graph()).run({"n": 0})
    assert_step_limited(run, 1000)


def test_step_limit_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WFENGINE_MAX_STEPS", "12")
    run = WorkflowExecutor(forever_graph()).run({"n": 0})
    assert_step_limited(run, 12)


def test_step_limit_from_the_graph_and_per_run_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WFENGINE_MAX_STEPS", "50")
    executor = WorkflowExecutor(forever_graph(max_steps=4))
    assert_step_limited(executor.run({"n": 0}), 4)
    assert_step_limited(executor.run({"n": 0}, max_steps=9), 9)


def test_bad_step_limit_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    executor = WorkflowExecutor(forever_graph())
    with pytest.raises(WorkflowError, match="max_steps"):
        executor.run({"n": 0}, max_steps=0)
    monkeypatch.setenv("WFENGINE_MAX_STEPS", "lots")
    with pytest.raises(ValueError, match="WFENGINE_MAX_STEPS"):
        executor.run({"n": 0})


def test_a_finite_loop_under_the_limit_completes() -> None:
    graph = forever_graph()
    graph.edges[0].condition = lambda s: s["n"] < 10
    run = WorkflowExecutor(graph).run({"n": 0}, max_steps=10)
    assert run.status == RunStatus.COMPLETED
    assert run.state == {"n": 10}
