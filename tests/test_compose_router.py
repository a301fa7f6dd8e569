"""Routers (``graph.add_router``): a function on a node's way out returning node names and/or
``Send`` objects; sends run as copies in the next step and the copies' edges are the join.
The memory store; both stores: ``tests/integration/test_router_stores.py``."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from wfengine import END, Engine, Graph, GraphValidationError, Send, SpecError
from wfengine.spec import dump_spec
from wfengine.versions import graph_version


def to_jokes(state: dict[str, Any]) -> list[Send]:
    return [Send("joke", {"subject": s}) for s in state["subjects"]]


def jokes_graph(joke: Any = None, *, max_parallel: int | None = None) -> Graph:
    """The LangGraph map-reduce: topics -> (router) N x joke -> best."""
    return (
        Graph("jokes", reducers={"jokes": "extend"})
        .add_node("topics", lambda s: {"subjects": [x.upper() for x in s["subjects"]]})
        .add_node("joke", joke or (lambda s: {"jokes": [f"joke about {s['subject']}"]}))
        .add_node("best", lambda s: {"best": len(s.get("jokes", []))})
        .add_router("topics", to_jokes, ["joke"], max_parallel=max_parallel)
        .add_edge("joke", "best")
        .add_edge("best", END)
        .set_entry_point("topics")
    )


def test_copies_merge_in_input_order_whatever_order_they_finish(engine: Engine) -> None:
    def slow_first(state: dict[str, Any]) -> dict[str, Any]:
        time.sleep(0.05 if state["subject"] == "A" else 0.0)
        return {"jokes": [state["subject"]]}

    run = engine.run(jokes_graph(slow_first), {"subjects": ["a", "b", "c"]})
    assert run.state["jokes"] == ["A", "B", "C"]


def test_copies_run_side_by_side_at_most_max_parallel(engine: Engine) -> None:
    lock = threading.Lock()
    live = [0, 0]  # now, peak

    def joke(state: dict[str, Any]) -> dict[str, Any]:
        with lock:
            live[0] += 1
            live[1] = max(live[1], live[0])
        time.sleep(0.02)
        with lock:
            live[0] -= 1
        return {"jokes": [state["subject"]]}

    run = engine.run(jokes_graph(joke, max_parallel=2), {"subjects": list("abcdef")})
    assert run.status == "completed" and len(run.state["jokes"]) == 6
    assert live[1] == 2


def test_a_router_may_mix_names_and_sends_in_one_next_step(engine: Engine) -> None:
    graph = (
        Graph("mix", reducers={"out": "extend"})
        .add_node("plan", lambda s: None)
        .add_node("work", lambda s: {"out": [s["item"]]})
        .add_node("audit", lambda s: {"audited": True})
        .add_node("done", lambda s: {"n": len(s["out"])})
        .add_router(
            "plan",
            lambda s: ["audit", *(Send("work", {"item": i}) for i in range(3))],
            ["work", "audit"],
        )
        .add_edge(["work", "audit"], "done")  # a join over the copies and the named node
        .add_edge("done", END)
        .set_entry_point("plan")
    )
    run = engine.run(graph, {})
    assert run.status == "completed", run.error
    assert run.state == {"out": [0, 1, 2], "audited": True, "n": 3}
    assert run.visited_nodes[-1] == "done" and run.visited_nodes.count("done") == 1


def test_a_router_returning_names_routes_like_conditional_edges(engine: Engine) -> None:
    graph = (
        Graph("names")
        .add_node("check", lambda s: None)
        .add_node("big", lambda s: {"size": "big"})
        .add_node("small", lambda s: {"size": "small"})
        .add_node("log", lambda s: {"logged": True})
        .add_edge("check", "log")  # edges still fire beside the router's choice
        .add_router("check", lambda s: "big" if s["x"] > 9 else ["small"], ["big", "small"])
        .add_edge("big", END)
        .add_edge("small", END)
        .add_edge("log", END)
        .set_entry_point("check")
    )
    run = engine.run(graph, {"x": 10})
    assert run.state == {"x": 10, "size": "big", "logged": True}
    assert "check@send" not in run.visited_nodes
    assert engine.run(graph, {"x": 1}).state["size"] == "small"


def test_a_router_going_to_end_finishes_the_branch(engine: Engine) -> None:
    graph = (
        Graph("end")
        .add_node("a", lambda s: {"a": 1})
        .add_node("b", lambda s: {"b": 1})
        .add_router("a", lambda s: END if s["stop"] else "b", ["b", END])
        .add_edge("b", END)
        .set_entry_point("a")
    )
    assert engine.run(graph, {"stop": True}).visited_nodes == ["a"]
    assert engine.run(graph, {"stop": False}).visited_nodes == ["a", "b"]


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        (lambda s: "best", "router <lambda> of node 'topics' returned 'best', which is not"),
        (lambda s: [Send("best", {})], "router <lambda> of node 'topics' sent to Send('best')"),
        (lambda s: 3, "router <lambda> of node 'topics' returned 3; a router returns a node"),
    ],
)
def test_an_undeclared_or_bad_router_result_fails_the_run_clearly(
    engine: Engine, returned: Any, message: str
) -> None:
    graph = (
        Graph("bad")
        .add_node("topics", lambda s: None)
        .add_node("joke", lambda s: None)
        .add_node("best", lambda s: None)
        .add_router("topics", returned, ["joke"])
        .add_edge("joke", "best")
        .add_edge("best", END)
        .set_entry_point("topics")
    )
    run = engine.run(graph, {})
    assert run.status == "failed"
    assert message in run.error["message"]
    if "not among" in message:
        assert "its targets (joke)" in run.error["message"]
        assert "add_router('topics', ..., targets=[...])" in run.error["message"]
    assert "Traceback" not in run.error["message"]


def test_an_empty_result_with_several_declared_nodes_is_a_clear_error(engine: Engine) -> None:
    graph = (
        Graph("ambiguous")
        .add_node("a", lambda s: None)
        .add_node("x", lambda s: None)
        .add_node("y", lambda s: None)
        .add_router("a", lambda s: [], ["x", "y"])
        .set_entry_point("a")
    )
    run = engine.run(graph, {})
    assert run.status == "failed" and run.error["node"] == "a@send"
    assert "returned an empty list (a map over zero items)" in run.error["message"]
    assert "declares 2 node targets (x, y)" in run.error["message"]


def test_router_declarations_are_validated() -> None:
    graph = Graph("v").add_node("a", lambda s: None)
    with pytest.raises(GraphValidationError, match="add the node before its router"):
        graph.add_router("missing", to_jokes, ["a"])
    with pytest.raises(GraphValidationError, match="targets must list the nodes"):
        graph.add_router("a", to_jokes, [])
    with pytest.raises(GraphValidationError, match="max_parallel must be a positive integer"):
        graph.add_router("a", to_jokes, ["a"], max_parallel=0)
    graph.add_router("a", to_jokes, ["jokes"]).set_entry_point("a")
    with pytest.raises(GraphValidationError, match="already has a router"):
        graph.add_router("a", to_jokes, ["a"])
    with pytest.raises(GraphValidationError) as caught:
        graph.validate()
    assert "router to_jokes on 'a': unknown target 'jokes'" in str(caught.value)
    taken = Graph("t").add_node("a", lambda s: None).add_node("a@send", lambda s: None)
    with pytest.raises(GraphValidationError, match="dispatch node 'a@send' is taken"):
        taken.add_router("a", to_jokes, ["a"])


def test_drawings_checks_and_versions_know_the_router() -> None:
    graph = jokes_graph()
    assert graph.validate() == []  # joke is reached through the router: no warning
    mermaid = graph.to_mermaid()
    assert 'n0 -.->|"to_jokes"| n1' in mermaid
    assert "@send" not in mermaid
    data = graph.to_dict()
    assert "topics@send" not in data["nodes"]
    assert data["nodes"]["topics"]["router"]["targets"] == ["joke"]
    assert data["nodes"]["topics"]["router"]["func"].endswith("to_jokes")
    tools = (
        Graph("tools")
        .add_node("a", lambda s: None, tool="echo")
        .add_node("b", lambda s: None, tool="echo")
        .add_router("a", to_jokes, ["b"])
    )
    with pytest.raises(SpecError, match="node 'a' has a Python router \\(to_jokes\\)"):
        dump_spec(tools)
    other = jokes_graph(max_parallel=3)
    assert graph_version(graph).version != graph_version(other).version


def test_a_router_inside_a_subgraph_uses_the_child_names(engine: Engine) -> None:
    parent = (
        Graph("outer", reducers={"jokes": "extend"})
        .add_subgraph("inner", jokes_graph())
        .add_node("after", lambda s: {"after": s["best"]})
        .add_edge("inner", "after")
        .add_edge("after", END)
        .set_entry_point("inner")
    )
    assert parent.validate() == []
    run = engine.run(parent, {"subjects": ["a", "b"]})
    assert run.status == "completed", run.error
    assert run.visited_nodes == [
        "inner/topics",
        "inner/topics@send",
        "inner/joke",
        "inner/joke",
        "inner/best",
        "inner",
        "after",
    ]
    assert run.state["after"] == 2


def test_async_copies_of_a_router(engine: Engine) -> None:
    import asyncio

    async def joke(state: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0.01 if state["subject"] == "A" else 0)
        return {"jokes": [state["subject"]]}

    run = asyncio.run(engine.arun(jokes_graph(joke), {"subjects": ["a", "b"]}))
    assert run.status == "completed", run.error
    assert run.state["jokes"] == ["A", "B"] and run.state["best"] == 2


def test_an_edge_condition_returning_sends_points_to_add_router(engine: Engine) -> None:
    graph = (
        Graph("cond")
        .add_node("a", lambda s: None)
        .add_node("b", lambda s: None)
        .add_edge("a", "b", condition=lambda s: [Send("b", {})])
        .add_edge("b", END)
        .set_entry_point("a")
    )
    run = engine.run(graph, {})
    assert run.status == "failed"
    assert "the condition of edge a -> b returned Send objects" in run.error["message"]
    assert "add_router('a', func, targets=[...])" in run.error["message"]


def test_get_next_nodes_includes_the_routers_choice() -> None:
    graph = jokes_graph()
    assert graph.get_next_nodes("topics", {"subjects": ["a"]}) == ["topics@send"]
    named = (
        Graph("n")
        .add_node("a", lambda s: None)
        .add_node("b", lambda s: None)
        .add_edge("a", END)
        .add_router("a", lambda s: "b", ["b"])
    )
    assert named.get_next_nodes("a", {}) == [END, "b"]


def test_interrupt_before_the_dispatch_node_pauses_before_the_copies(engine: Engine) -> None:
    graph = jokes_graph()
    paused = engine.run(graph, {"subjects": ["a", "b"]}, interrupt_before=["topics@send"])
    assert paused.status == "paused" and paused.next_nodes == ["topics@send"]
    assert paused.visited_nodes == ["topics"]
    done = engine.resume(paused.run_id, graph=graph, state_patch={"subjects": ["z"]})
    assert done.status == "completed", done.error
    assert done.state["jokes"] == ["joke about z"]  # the router runs again on the patched state
