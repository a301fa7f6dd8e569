"""Questions asked from inside a node: ``interrupt()``, answers on resume, ``interrupt_after``."""

from __future__ import annotations

from typing import Any

import pytest
import wfengine
from wfengine import END, Engine, Graph, RunStatus, WorkflowError


def approval_graph(calls: list[str]) -> Graph:
    def draft(state: dict[str, Any]) -> dict[str, Any]:
        return {"draft": f"hello {state['name']}"}

    def approve(state: dict[str, Any]) -> dict[str, Any]:
        calls.append("before")
        answer = wfengine.interrupt({"question": "send?", "draft": state["draft"]})
        calls.append(f"after:{answer}")
        return {"approved": answer}

    def send(state: dict[str, Any]) -> dict[str, Any]:
        return {"sent": state["approved"] is True}

    return (
        Graph("approval")
        .add_node("draft", draft)
        .add_node("approve", approve)
        .add_node("send", send)
        .add_edge("draft", "approve")
        .add_edge("approve", "send")
        .add_edge("send", END)
        .set_entry_point("draft")
    )


@pytest.fixture
def engine() -> Engine:
    return Engine(load_entrypoints=False)


def test_interrupt_pauses_with_the_question_and_the_answer_is_returned(engine: Engine) -> None:
    calls: list[str] = []
    run = engine.run(approval_graph(calls), {"name": "ann"})
    assert run.status is RunStatus.PAUSED
    assert run.questions == {
        "approve": {"value": {"question": "send?", "draft": "hello ann"}, "index": 0}
    }
    assert run.next_nodes == ["approve"] and "approved" not in run.state
    assert run.to_dict()["questions"] == run.questions
    assert [e.status for e in run.logs] == ["completed", "interrupted"]

    done = engine.resume(run.run_id, answer=True)
    assert done.status is RunStatus.COMPLETED
    assert done.state["approved"] is True and done.state["sent"] is True
    assert done.questions == {} and done.answers == {}
    # the code before interrupt() ran again, and the log says so
    assert calls == ["before", "before", "after:True"]
    assert "re-entered after answer" in [e.status for e in done.logs]


def test_several_interrupts_in_one_node_are_answered_in_order(engine: Engine) -> None:
    def form(state: dict[str, Any]) -> dict[str, Any]:
        name = wfengine.interrupt("name?")
        age = wfengine.interrupt("age?")
        return {"name": name, "age": age}

    graph = Graph("form").add_node("form", form).add_edge("form", END).set_entry_point("form")
    run = engine.run(graph)
    assert run.questions["form"] == {"value": "name?", "index": 0}
    run = engine.resume(run.run_id, answer="bo")
    assert run.status is RunStatus.PAUSED
    assert run.questions["form"] == {"value": "age?", "index": 1}
    run = engine.resume(run.run_id, answer=7)
    assert run.status is RunStatus.COMPLETED and run.state == {"name": "bo", "age": 7}


def test_a_node_in_a_loop_asks_afresh_each_time(engine: Engine) -> None:
    def ask(state: dict[str, Any]) -> dict[str, Any]:
        return {"said": [*state.get("said", []), wfengine.interrupt(len(state.get("said", [])))]}

    graph = (
        Graph("loop")
        .add_node("ask", ask)
        .add_edge("ask", "ask", condition=lambda s: len(s["said"]) < 2)
        .add_edge("ask", END, condition=lambda s: len(s["said"]) >= 2)
        .set_entry_point("ask")
    )
    run = engine.run(graph)
    run = engine.resume(run.run_id, answer="a")
    assert run.status is RunStatus.PAUSED and run.questions["ask"]["value"] == 1
    run = engine.resume(run.run_id, answer="b")
    assert run.status is RunStatus.COMPLETED and run.state["said"] == ["a", "b"]


def test_parallel_questions_are_answered_per_node(engine: Engine) -> None:
    def asker(key: str) -> Any:
        return lambda state: {key: wfengine.interrupt(f"{key}?")}

    graph = (
        Graph("par")
        .add_node("start", lambda s: {})
        .add_node("a", asker("a"))
        .add_node("b", asker("b"))
        .add_edge("start", "a")
        .add_edge("start", "b")
        .add_edge("a", END)
        .add_edge("b", END)
        .set_entry_point("start")
    )
    run = engine.run(graph)
    assert set(run.questions) == {"a", "b"}
    with pytest.raises(WorkflowError, match="answer each by node"):
        engine.resume(run.run_id, answer="both")
    with pytest.raises(WorkflowError, match="no pending question from node"):
        engine.resume(run.run_id, answer={"zz": 1})
    run = engine.resume(run.run_id, answer={"a": 1, "b": 2})
    assert run.status is RunStatus.COMPLETED and run.state == {"a": 1, "b": 2}


def test_an_answer_without_a_question_is_refused(engine: Engine) -> None:
    graph = Graph("x").add_node("x", lambda s: {"x": 1}).set_entry_point("x")
    run = engine.run(graph, interrupt_before=["x"])
    with pytest.raises(WorkflowError, match="no pending question"):
        engine.resume(run.run_id, answer=1)


def test_a_question_must_be_json_able(engine: Engine) -> None:
    graph = (
        Graph("bad")
        .add_node("bad", lambda s: {"x": wfengine.interrupt(object())})
        .set_entry_point("bad")
    )
    run = engine.run(graph)
    assert run.status is RunStatus.FAILED
    assert run.error is not None and "JSON-able question" in run.error["message"]


def test_interrupt_outside_a_resumed_node_raises_the_question() -> None:
    with pytest.raises(wfengine.NodeInterrupt) as caught:
        wfengine.interrupt("q")
    assert caught.value.value == "q" and caught.value.index == 0


def test_interrupt_in_an_async_node(engine: Engine) -> None:
    async def ask(state: dict[str, Any]) -> dict[str, Any]:
        return {"x": wfengine.interrupt("x?")}

    graph = Graph("async").add_node("ask", ask).set_entry_point("ask")
    run = engine.run(graph)
    assert run.status is RunStatus.PAUSED
    assert engine.resume(run.run_id, answer=5).state == {"x": 5}


def test_the_question_is_in_the_run_finished_event(engine: Engine) -> None:
    calls: list[str] = []
    events = list(engine.stream(approval_graph(calls), {"name": "z"}))
    finished = events[-1].to_dict()
    assert finished["type"] == "run_finished" and finished["status"] == "paused"
    assert finished["questions"]["approve"]["value"]["draft"] == "hello z"


def test_interrupt_after_pauses_after_the_node(engine: Engine) -> None:
    calls: list[str] = []
    graph = approval_graph(calls)
    run = engine.run(graph, {"name": "q"}, interrupt_after=["draft"])
    assert run.status is RunStatus.PAUSED
    assert run.state["draft"] == "hello q" and run.next_nodes == ["approve"]
    assert calls == []
    run = engine.resume(run.run_id)
    assert run.questions  # now the node's own question
    assert engine.resume(run.run_id, answer=False).state["sent"] is False


def test_interrupt_after_names_known_nodes(engine: Engine) -> None:
    with pytest.raises(WorkflowError, match="interrupt_after names unknown node"):
        engine.run(approval_graph([]), interrupt_after=["nope"])


SPEC = {
    "name": "paused-spec",
    "entry": "a",
    "interrupt_before": ["b"],
    "interrupt_after": ["a"],
    "nodes": {"a": {"call": "builtins:dict"}, "b": {"call": "builtins:dict"}},
    "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "END"}],
}


def test_spec_keys_pause_every_run_of_the_graph(engine: Engine) -> None:
    graph = engine.load_spec(SPEC)
    assert graph.interrupt_before == ["b"] and graph.interrupt_after == ["a"]
    assert wfengine.dump_spec(graph)["interrupt_after"] == ["a"]
    run = engine.run(graph, interrupt_before=["a"])
    assert run.interrupt_before == ["b", "a"] and run.interrupt_after == ["a"]
    assert run.status is RunStatus.PAUSED and run.next_nodes == ["a"]
    run = engine.resume(run.run_id)
    assert run.status is RunStatus.PAUSED and run.next_nodes == ["b"]  # after a (and before b)
    run = engine.resume(run.run_id)
    assert run.status is RunStatus.COMPLETED


def test_spec_pause_keys_must_name_nodes(engine: Engine) -> None:
    with pytest.raises(wfengine.SpecError, match=r"interrupt_after\[0\].*did you mean 'a'"):
        engine.load_spec({**SPEC, "interrupt_after": ["aa"]})
    with pytest.raises(wfengine.SpecError, match="must be a list of node names"):
        engine.load_spec({**SPEC, "interrupt_before": "b"})
