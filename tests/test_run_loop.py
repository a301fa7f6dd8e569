"""The run loop: the nodes' copy-on-write state view, the node-runner seam, the lean path."""

from __future__ import annotations

import copy
import json
import pickle
import threading
from concurrent.futures import Future
from typing import Any

import pytest
from wfengine import END, Graph, RetryPolicy, RunStatus, WorkflowExecutor, WorkflowRun
from wfengine.execution import Execution
from wfengine.runner import NodeCall, Outcome, ThreadRunner
from wfengine.state import StateView


def chain(*funcs: Any, **kwargs: Any) -> Graph:
    graph = Graph("chain", **kwargs)
    names = [f"n{i}" for i in range(len(funcs))]
    for name, func in zip(names, funcs, strict=True):
        graph.add_node(name, func)
    for first, second in zip(names, names[1:], strict=False):
        graph.add_edge(first, second)
    return graph.add_edge(names[-1], END).set_entry_point(names[0])


# -- the state view ------------------------------------------------------------------------


def test_a_node_gets_a_dict_view_and_mutate_and_return_works() -> None:
    seen: list[bool] = []

    def mutate(state: dict[str, Any]) -> dict[str, Any]:
        seen.append(isinstance(state, dict) and isinstance(state, StateView))
        state["b"] = state["a"] + 1
        return state

    run = WorkflowExecutor(chain(mutate)).run({"a": 1, "other": "x"})
    assert seen == [True]
    assert run.state == {"a": 1, "other": "x", "b": 2}


def test_writes_not_returned_are_dropped_as_with_a_copy() -> None:
    def scribble(state: dict[str, Any]) -> dict[str, Any]:
        state["junk"] = 1
        state.pop("a")
        state.update(z=3)
        return {"b": 2}

    def check(state: dict[str, Any]) -> None:
        assert "junk" not in state and "z" not in state and state["a"] == 1

    run = WorkflowExecutor(chain(scribble, check)).run({"a": 1})
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state == {"a": 1, "b": 2}


def test_a_failed_attempt_leaves_no_trace_for_the_retry() -> None:
    calls: list[dict[str, Any]] = []

    def flaky(state: dict[str, Any]) -> dict[str, Any]:
        calls.append(dict(state))
        state["half"] = True
        if len(calls) == 1:
            raise ConnectionError("once")
        return {"done": True}

    graph = chain(flaky)
    graph.nodes["n0"].retry = RetryPolicy(max_attempts=2, initial_delay=0.0, jitter=False)
    run = WorkflowExecutor(graph).run({"a": 1})
    assert run.status == RunStatus.COMPLETED, run.error
    assert calls == [{"a": 1}, {"a": 1}]
    assert run.state == {"a": 1, "done": True}


def test_c_level_readers_see_the_whole_state() -> None:
    """json.dumps, ==, dict(), ** and pickling read a dict's own storage: the view holds it."""
    out: dict[str, Any] = {}

    def read(state: dict[str, Any]) -> None:
        out["json"] = json.dumps(state, sort_keys=True)
        out["eq"] = state == {"a": 1, "b": [1]}
        out["dict"] = dict(state)
        out["splat"] = {**state}
        out["pickle"] = pickle.loads(pickle.dumps(state))
        out["deep"] = copy.deepcopy(state)

    WorkflowExecutor(chain(read)).run({"a": 1, "b": [1]})
    assert out["json"] == '{"a": 1, "b": [1]}'
    assert out["eq"] is True
    for key in ("dict", "splat", "pickle", "deep"):
        assert type(out[key]) is dict and out[key] == {"a": 1, "b": [1]}, key


def test_nested_values_are_shared_as_documented() -> None:
    def append_in_place(state: dict[str, Any]) -> None:
        state["items"].append(2)  # mutates the run's state: documented, as with a copy

    run = WorkflowExecutor(chain(append_in_place)).run({"items": [1]})
    assert run.state["items"] == [1, 2]


def test_the_view_is_not_copied_per_step() -> None:
    """One view serves every single-node step: a step costs what it changes."""
    ids: list[int] = []

    def step(state: dict[str, Any]) -> dict[str, Any]:
        ids.append(id(state))
        return {"i": state["i"] + 1}

    big = {f"k{n}": n for n in range(10_000)}
    run = WorkflowExecutor(chain(step, step, step, step)).run({**big, "i": 0})
    assert run.state["i"] == 4 and len(run.state) == 10_001
    assert len(set(ids)) == 1


def test_parallel_branches_and_timed_nodes_get_views_of_their_own() -> None:
    ids: dict[str, int] = {}

    def branch(name: str) -> Any:
        def func(state: dict[str, Any]) -> dict[str, Any]:
            ids[name] = id(state)
            state["scratch"] = name  # never seen by the sibling
            return {name: state.get("scratch") == name}

        return func

    graph = Graph("fan").add_node("s", lambda s: None).set_entry_point("s")
    for name in ("x", "y"):
        graph.add_node(name, branch(name)).add_edge("s", name).add_edge(name, END)
    run = WorkflowExecutor(graph).run({})
    assert run.state == {"x": True, "y": True}
    assert ids["x"] != ids["y"]


# -- the node-runner seam ------------------------------------------------------------------


class RecordingRunner:
    """A backend that records every call it gets and runs it on a ThreadRunner."""

    def __init__(self) -> None:
        self.inner = ThreadRunner(4)
        self.calls: list[tuple[str, int, str, int]] = []
        self.lock = threading.Lock()

    def _record(self, call: NodeCall) -> None:
        with self.lock:
            self.calls.append((call.run_id, call.step, call.node.name, call.attempt))

    def call(self, call: NodeCall) -> Outcome:
        self._record(call)
        return self.inner.call(call)

    def submit(self, call: NodeCall) -> Future[Outcome]:
        self._record(call)
        return self.inner.submit(call)

    async def acall(self, call: NodeCall) -> Outcome:
        self._record(call)
        return await self.inner.acall(call)

    def close(self) -> None:
        self.inner.close()


def test_every_attempt_goes_through_the_runner_and_retries_stay_in_the_driver() -> None:
    failures = {"b": 1}

    def ok(state: dict[str, Any]) -> None:
        return None

    def flaky(state: dict[str, Any]) -> dict[str, Any]:
        if failures["b"]:
            failures["b"] -= 1
            raise ConnectionError("flaky")
        return {"b": 1}

    graph = Graph("g").add_node("a", ok).set_entry_point("a")
    graph.add_node("b", flaky).add_node("c", ok).add_node("d", ok)
    graph.add_edge("a", "b").add_edge("a", "c").add_edge(["b", "c"], "d").add_edge("d", END)
    graph.nodes["b"].retry = RetryPolicy(max_attempts=3, initial_delay=0.01, jitter=False)
    runner = RecordingRunner()
    run = WorkflowExecutor(graph, runner=runner).run({})
    assert run.status == RunStatus.COMPLETED, run.error
    rid = run.run_id
    assert sorted(runner.calls) == sorted(
        [(rid, 1, "a", 1), (rid, 2, "b", 1), (rid, 2, "c", 1), (rid, 2, "b", 2), (rid, 3, "d", 1)]
    )
    assert [(e.node, e.attempt, e.status) for e in run.logs if e.node == "b"] == [
        ("b", 1, "retrying"),
        ("b", 2, "completed"),
    ]


def test_async_runs_go_through_the_runner_too() -> None:
    import asyncio

    async def anode(state: dict[str, Any]) -> dict[str, Any]:
        return {"x": 1}

    runner = RecordingRunner()
    run = asyncio.run(WorkflowExecutor(chain(anode), runner=runner).arun({}))
    assert run.state == {"x": 1}
    assert [c[2] for c in runner.calls] == ["n0"]


def test_a_single_node_step_runs_in_the_calling_thread() -> None:
    threads: list[str] = []
    run = WorkflowExecutor(chain(lambda s: threads.append(threading.current_thread().name))).run({})
    assert run.status == RunStatus.COMPLETED
    assert threads == [threading.current_thread().name]


def test_outcomes_carry_duration_and_worker() -> None:
    runner = ThreadRunner(2)
    graph = chain(lambda s: {"x": 1})
    call = NodeCall("r", 1, graph.nodes["n0"], 1, {}, None)
    inline = runner.call(call)
    pooled = runner.submit(call).result()
    assert inline.update == pooled.update == {"x": 1}
    assert inline.error is None and inline.duration >= 0 and inline.worker == "caller"
    assert pooled.worker.startswith("wfengine-node")
    failed = runner.call(NodeCall("r", 1, chain(lambda s: 1 / 0).nodes["n0"], 1, {}, None))
    assert isinstance(failed.error, ZeroDivisionError) and failed.update is None
    runner.close()


# -- the lean path and the cancel flag -----------------------------------------------------


def test_the_lean_path_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    graph = chain(lambda s: {"x": 1})
    run = WorkflowRun("g", next_nodes=["n0"], max_steps=10)
    ex = Execution(graph, run, runner=ThreadRunner(1))
    ex.begin()
    monkeypatch.delenv("WFENGINE_LEAN_STEPS", raising=False)
    assert ex.lean()
    monkeypatch.setenv("WFENGINE_LEAN_STEPS", "0")
    assert not ex.lean()


def test_the_lean_path_is_off_when_the_state_is_metered() -> None:
    """Regression: the lean path was chosen before begin() set the meter, so a growing
    state went unmeasured."""
    from wfengine.limits import RunLimits

    graph = Graph("grow", reducers={"items": "extend"})
    graph.add_node("g", lambda s: {"items": ["x" * 100]}).set_entry_point("g")
    graph.add_edge("g", "g")
    run = WorkflowExecutor(graph, limits=RunLimits(max_state_bytes=5_000)).run(
        {"items": ["x" * 40]}, max_steps=100
    )
    assert run.status == RunStatus.FAILED
    assert run.error is not None and run.error["type"] == "StateTooLargeError"


def test_the_cancel_flag_has_one_public_interface() -> None:
    run = WorkflowRun("g")
    assert not run.cancel_requested and not run.wait_cancelled(0)
    run.cancel()
    assert run.cancel_requested and run.wait_cancelled(10)
    run.clear_cancel()
    assert not run.cancel_requested
