"""Budgets that pause a run instead of failing it: steps, seconds, cost."""

from __future__ import annotations

import time
from typing import Any

import pytest
import wfengine
from wfengine import END, Engine, Graph, RunStatus, WorkflowError
from wfengine.budget import parse_budget


def looping(cost: float = 0.0, sleep: float = 0.0) -> Graph:
    def step(state: dict[str, Any]) -> dict[str, Any]:
        if cost:
            wfengine.emit("cost", cost)
        if sleep:
            time.sleep(sleep)
        return {"i": state.get("i", 0) + 1}

    return (
        Graph("loop")
        .add_node("step", step)
        .add_edge("step", "step", condition=lambda s: s["i"] < 10)
        .add_edge("step", END, condition=lambda s: s["i"] >= 10)
        .set_entry_point("step")
    )


@pytest.fixture
def engine() -> Engine:
    return Engine(load_entrypoints=False)


def test_a_step_budget_pauses_and_a_new_total_lets_the_run_go_on(engine: Engine) -> None:
    run = engine.run(looping(), budget={"steps": 4})
    assert run.status is RunStatus.PAUSED and run.step == 4 and run.state["i"] == 4
    assert run.pause_reason == "budget: steps 4 of 4 spent"
    assert run.to_dict()["pause_reason"] == run.pause_reason
    again = engine.resume(run.run_id)  # the same budget: still spent
    assert again.status is RunStatus.PAUSED and again.step == 4
    run = engine.resume(run.run_id, budget={"steps": 7})
    assert run.status is RunStatus.PAUSED and run.step == 7
    run = engine.resume(run.run_id, budget={"steps": 2000})
    assert run.status is RunStatus.COMPLETED and run.state["i"] == 10
    assert run.pause_reason is None


def test_a_cost_budget_counts_emitted_cost(engine: Engine) -> None:
    run = engine.run(looping(cost=1.5), budget={"cost": 4})
    assert run.status is RunStatus.PAUSED and run.step == 3  # 1.5, 3.0, 4.5 >= 4
    assert run.spent["cost"] == 4.5 and run.pause_reason == "budget: cost 4.5 of 4 spent"
    run = engine.resume(run.run_id, budget={"cost": 100})
    assert run.status is RunStatus.COMPLETED and run.spent["cost"] == 15.0


def test_a_seconds_budget_does_not_count_time_paused(engine: Engine) -> None:
    run = engine.run(looping(sleep=0.02), budget={"seconds": 0.05})
    assert run.status is RunStatus.PAUSED and 0 < run.step < 10
    assert run.pause_reason is not None and run.pause_reason.startswith("budget: seconds")
    spent = run.spent["seconds"]
    time.sleep(0.1)  # paused: not counted
    run = engine.resume(run.run_id, budget={"seconds": spent + 10})
    assert run.status is RunStatus.COMPLETED
    assert run.spent["seconds"] < spent + 0.1 + 10 * 0.02 + 0.5  # the pause was not added


def test_max_steps_still_fails_the_run(engine: Engine) -> None:
    run = engine.run(looping(), max_steps=3, budget={"steps": 100})
    assert run.status is RunStatus.FAILED and run.error is not None
    assert run.error["type"] == "StepLimitError"


def test_bad_budgets_are_refused_with_the_key(engine: Engine) -> None:
    with pytest.raises(WorkflowError, match="unknown key 'stepz'"):
        engine.run(looping(), budget={"stepz": 1})
    with pytest.raises(WorkflowError, match="budget.cost must be a positive number"):
        engine.run(looping(), budget={"cost": -1})
    with pytest.raises(WorkflowError, match="budget.steps must be a whole number"):
        engine.run(looping(), budget={"steps": 1.5})
    run = engine.run(looping(cost=float("nan")), budget={"cost": 5})
    assert run.status is RunStatus.FAILED and "finite number" in run.error["message"]  # type: ignore[index]


def test_parse_budget() -> None:
    assert parse_budget(["steps=2000"]) == {"steps": 2000}
    assert parse_budget(["seconds=1.5,cost=3", "steps=4"]) == {
        "seconds": 1.5,
        "cost": 3.0,
        "steps": 4,
    }
    with pytest.raises(WorkflowError, match="not key=number"):
        parse_budget(["steps"])
    with pytest.raises(WorkflowError, match="is not a number"):
        parse_budget(["steps=many"])


def test_a_spec_budget_applies_to_every_run(engine: Engine) -> None:
    spec = {
        "name": "budgeted",
        "entry": "a",
        "budget": {"steps": 1},
        "nodes": {"a": {"call": "builtins:dict"}, "b": {"call": "builtins:dict"}},
        "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "END"}],
    }
    graph = engine.load_spec(spec)
    assert graph.budget == {"steps": 1} and wfengine.dump_spec(graph)["budget"] == {"steps": 1}
    run = engine.run(graph)
    assert run.status is RunStatus.PAUSED and run.step == 1
    with pytest.raises(wfengine.SpecError, match="budget"):
        engine.load_spec({**spec, "budget": {"steps": 0}})
