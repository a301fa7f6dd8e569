"""Subgraphs: a graph used as a node runs as part of the parent run, under node paths."""

from __future__ import annotations

from typing import Any

import pytest
from wfengine import (
    END,
    Command,
    Engine,
    Graph,
    GraphValidationError,
    RunStatus,
    Send,
    SpecError,
    hookimpl,
)
from wfengine.versions import graph_version


def review() -> Graph:
    return (
        Graph("review")
        .add_node("score", lambda s: {"score": len(s["text"])})
        .add_node("grade", lambda s: {"grade": "A" if s["score"] > 3 else "B"})
        .add_edge("score", "grade")
        .add_edge("grade", END)
        .set_entry_point("score")
    )


def parent(child: Graph | None = None, **mapping: Any) -> Graph:
    return (
        Graph("parent")
        .add_node("load", lambda s: {"text": "hello"})
        .add_subgraph("review", child or review(), **mapping)
        .add_node("done", lambda s: {"ok": s.get("grade")})
        .add_edge("load", "review")
        .add_edge("review", "done")
        .add_edge("done", END)
        .set_entry_point("load")
    )


@pytest.mark.parametrize("lean", ["1", "0"])
def test_child_steps_run_in_the_parent_run_under_node_paths(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, lean: str
) -> None:
    monkeypatch.setenv("WFENGINE_LEAN_STEPS", lean)
    run = engine.run(parent(), {})
    assert run.status == "completed", run.error
    assert run.state == {"text": "hello", "score": 5, "grade": "A", "ok": "A"}
    assert [(e.node, e.step) for e in run.logs] == [
        ("load", 1),
        ("review/score", 2),
        ("review/grade", 3),
        ("review", 4),  # the subgraph's exit: its outputs, then the parent's edges
        ("done", 5),
    ]


def test_a_graph_given_to_add_node_is_a_subgraph(engine: Engine) -> None:
    graph = Graph("p").add_node("r", review()).add_edge("r", END).set_entry_point("r")
    run = engine.run(graph, {"text": "hi"})
    assert run.visited_nodes == ["r/score", "r/grade", "r"] and run.state["grade"] == "B"


def test_inputs_and_outputs_copy_keys_in_and_out(engine: Engine) -> None:
    graph = parent(inputs={"text": "title"}, outputs={"verdict": "grade"})
    graph.nodes["load"].func = lambda s: {"title": "a long title"}
    run = engine.run(graph, {})
    assert run.status == "completed", run.error
    assert run.state["verdict"] == "A" and run.state["text"] == "a long title"
    assert run.visited_nodes[:2] == ["load", "review/@in"]


def test_hooks_and_events_carry_the_node_path(engine: Engine) -> None:
    seen: list[str] = []

    class Recorder:
        @hookimpl
        def wfengine_node_started(self, node: str) -> None:
            seen.append(node)

    engine.register_plugin(Recorder(), name="recorder")
    engine.run(parent(), {})
    assert "review/score" in seen and "review/grade" in seen
    events = [e.node for e in engine.start(parent(), {}).events() if e.node]
    assert "review/score" in events


def test_the_parents_step_limit_counts_child_steps(engine: Engine) -> None:
    run = engine.run(parent(), {}, max_steps=2)
    assert run.status == "failed" and run.error["type"] == "StepLimitError"
    assert "review/grade" in run.error["message"]


def test_a_pause_inside_the_child_pauses_the_parent_and_resumes_inside(engine: Engine) -> None:
    run = engine.run(parent(), {}, interrupt_before=["review/grade"])
    assert run.status == RunStatus.PAUSED and run.next_nodes == ["review/grade"]
    resumed = engine.resume(run.run_id)
    assert resumed.status == "completed" and resumed.state["ok"] == "A"
    assert [e.node for e in resumed.logs][-3:] == ["review/grade", "review", "done"]


def test_cancel_applies_inside_the_child(engine: Engine) -> None:
    holder: dict[str, Any] = {}

    def cancel_me(state: dict[str, Any]) -> dict[str, Any]:
        holder["handle"].cancel()
        return {"score": 1}

    child = review()
    child.nodes["score"].func = cancel_me
    handle = engine.start(parent(child), {})
    holder["handle"] = handle
    run = handle.result()
    assert run.status == RunStatus.CANCELLED and run.visited_nodes == ["load", "review/score"]


def test_commands_and_sends_inside_a_subgraph_use_the_childs_names(engine: Engine) -> None:
    child = (
        Graph("fan", reducers={"out": "extend"})
        .add_node("split", lambda s: [Send("work", {"d": d}) for d in s["docs"]], routes=["work"])
        .add_node("work", lambda s: {"out": [s["d"] * 10]})
        .add_node("pick", lambda s: Command(goto=END, update={"picked": 1}), routes=["again", END])
        .add_node("again", lambda s: None)
        .add_edge("split", "pick")
        .add_edge("again", END)
        .set_entry_point("split")
    )
    graph = Graph("p").add_node("fan", child).add_edge("fan", END).set_entry_point("fan")
    assert graph.validate() == []
    run = engine.run(graph, {"docs": [1, 2]})
    assert run.status == "completed", run.error
    assert run.state["out"] == [10, 20] and run.visited_nodes == [
        "fan/split",
        "fan/work",
        "fan/work",
        "fan/pick",
        "fan",
    ]


def test_nested_subgraphs_and_a_command_into_a_subgraph(engine: Engine) -> None:
    outer = (
        Graph("outer")
        .add_node("route", lambda s: Command(goto="inner"), routes=["inner"])
        .add_subgraph("inner", parent())
        .add_edge("inner", END)
        .set_entry_point("route")
    )
    run = engine.run(outer, {})
    assert run.status == "completed", run.error
    assert run.visited_nodes == [
        "route",
        "inner/load",
        "inner/review/score",
        "inner/review/grade",
        "inner/review",
        "inner/done",
        "inner",
    ]


def test_a_graph_containing_itself_is_refused() -> None:
    graph = review()
    with pytest.raises(GraphValidationError, match="contains 'review' itself"):
        graph.add_subgraph("me", graph)
    outer = Graph("outer").add_subgraph("r", review()).set_entry_point("r")
    holder = Graph("holder").add_subgraph("o", outer).set_entry_point("o")
    with pytest.raises(GraphValidationError, match="contains 'outer' itself"):
        outer.add_subgraph("loop", holder)


def test_slash_is_reserved_in_node_names() -> None:
    with pytest.raises(GraphValidationError, match="reserved for subgraph node paths"):
        Graph("g").add_node("a/b", lambda s: None)


def test_reducers_come_along_and_must_agree() -> None:
    child = Graph("c", reducers={"out": "extend"}).add_node("a", lambda s: None)
    child.set_entry_point("a").add_edge("a", END)
    assert Graph("p").add_subgraph("c", child).reducer_names == {"out": "extend"}
    with pytest.raises(GraphValidationError, match="key 'out' has reducer extend there"):
        Graph("p", reducers={"out": "append"}).add_subgraph("c", child)


def test_an_invalid_child_is_refused_with_its_problems() -> None:
    with pytest.raises(GraphValidationError, match="subgraph 'c': no entry point"):
        Graph("p").add_subgraph("c", Graph("c").add_node("a", lambda s: None))


def test_mermaid_draws_subgraph_blocks() -> None:
    text = parent().to_mermaid()
    assert 'subgraph n3_sg["review"]' in text
    assert 'n1["score"]' in text and 'n3(["review: done"])' in text
    assert "n0 --> n1" in text  # load -> review's first node
    assert "n2 --> n3" in text and "n3 --> n4" in text


def test_the_childs_nodes_are_part_of_the_parents_version() -> None:
    changed = review()
    changed.nodes["grade"].func = lambda s: {"grade": "C"}
    assert graph_version(parent()).version != graph_version(parent(changed)).version


# -- specs -----------------------------------------------------------------------------------


@pytest.fixture
def tools(engine: Engine) -> Engine:
    engine.tools.register("score", lambda s: {"score": len(s["text"])})
    engine.tools.register("grade", lambda s: {"grade": "A" if s["score"] > 3 else "B"})
    engine.tools.register("load", lambda s: {"text": "hello"})
    return engine


CHILD = {
    "name": "review",
    "entry": "score",
    "nodes": {"score": {"tool": "score"}, "grade": {"tool": "grade"}},
    "edges": [{"from": "score", "to": "grade"}, {"from": "grade", "to": "END"}],
}


def parent_spec(graph: Any, **extra: Any) -> dict[str, Any]:
    return {
        "name": "parent",
        "entry": "load",
        "nodes": {"load": {"tool": "load"}, "review": {"graph": graph, **extra}},
        "edges": [{"from": "load", "to": "review"}, {"from": "review", "to": "END"}],
    }


def test_a_spec_subgraph_inline_runs_and_round_trips(tools: Engine) -> None:
    from wfengine import dump_spec

    spec = parent_spec(CHILD, outputs={"verdict": "grade"})
    graph = tools.load_spec(spec)
    run = tools.run(graph, {})
    assert run.status == "completed", run.error
    assert run.state["verdict"] == "A" and "review/grade" in run.visited_nodes
    assert dump_spec(graph) == spec


def test_a_spec_subgraph_by_stored_graph_id_or_workflow(tools: Engine) -> None:
    from wfengine import dump_spec

    tools.save_graph(CHILD, "review-v1")
    graph = tools.load_spec(parent_spec("review-v1"))
    assert tools.run(graph, {}).state["grade"] == "A"
    assert dump_spec(graph)["nodes"]["review"] == {"graph": "review-v1"}
    before = graph_version(graph).version
    tools.save_graph({**CHILD, "edges": [{"from": "score", "to": "END"}]}, "review-v1")
    assert graph_version(tools.load_spec(parent_spec("review-v1"))).version != before


def test_a_spec_subgraph_naming_itself_is_a_clear_error(tools: Engine) -> None:
    tools.save_graph(CHILD, "loop")
    tools.store.save_graph("loop", parent_spec("loop"))  # stored behind the engine's back
    with pytest.raises(SpecError, match="contains itself"):
        tools.load_spec(parent_spec("loop"))


@pytest.mark.parametrize(
    ("node", "message"),
    [
        ({"graph": "nope"}, "unknown workflow 'nope'"),
        ({"graph": CHILD, "tool": "load"}, "a subgraph node has no 'tool'"),
        ({"graph": CHILD, "inputs": ["x"]}, "must map state keys to state keys"),
        ({"graph": {**CHILD, "entry": "nope"}}, "unknown node 'nope'"),
    ],
)
def test_bad_spec_subgraphs_are_clear_errors(
    tools: Engine, node: dict[str, Any], message: str
) -> None:
    spec = parent_spec(None)
    spec["nodes"]["review"] = node
    with pytest.raises(SpecError, match=message):
        tools.load_spec(spec)


def test_a_slash_in_a_spec_node_name_is_refused(tools: Engine) -> None:
    spec = {"entry": "a/b", "nodes": {"a/b": {"tool": "load"}}}
    with pytest.raises(SpecError, match="reserved for subgraph node paths"):
        tools.load_spec(spec)


def test_interrupt_before_a_subgraph_pauses_before_its_first_node(engine: Engine) -> None:
    run = engine.run(parent(), {}, interrupt_before=["review"])
    assert run.status == RunStatus.PAUSED and run.next_nodes == ["review/score"]
    assert run.visited_nodes == ["load"]


def test_sending_copies_to_a_subgraph_is_a_clear_error(engine: Engine) -> None:
    graph = (
        Graph("p")
        .add_node("split", lambda s: [Send("review", {"text": "abc"})], routes=["review"])
        .add_subgraph("review", review())
        .add_edge("review", END)
        .set_entry_point("split")
    )
    run = engine.run(graph, {})
    assert run.status == "failed" and "sent to subgraph 'review'" in run.error["message"]


def test_a_spec_map_over_a_subgraph_is_refused(tools: Engine) -> None:
    spec = parent_spec(CHILD)
    spec["nodes"]["each"] = {"map": {"over": "docs", "as": "text", "node": "review"}}
    with pytest.raises(SpecError, match="a map's node cannot be a subgraph"):
        tools.load_spec(spec)


def test_a_node_limit_counts_the_subgraphs_nodes(tools: Engine) -> None:
    spec = parent_spec(CHILD)
    assert tools.load_spec(spec, max_nodes=10)
    with pytest.raises(SpecError, match="with its subgraphs' nodes the spec has more than 4"):
        tools.load_spec(spec, max_nodes=4)


def test_a_child_nodes_settings_come_along_into_the_parent() -> None:
    """Flattening a subgraph keeps every per-node setting (it used to drop ``local``,
    ``resources`` and ``cache``, so a cached child node ran uncached)."""

    async def fetch(state: dict[str, Any]) -> dict[str, Any]:
        return {"fetched": True}

    child = Graph("child").add_node(
        "score", lambda s: {"score": 1}, local=True, resources={"GPU": 1}, cache=True
    )
    child.add_node("fetch", fetch).add_edge("score", "fetch").add_edge("fetch", END)
    child.set_entry_point("score")
    parent = Graph("parent").add_subgraph("review", child).set_entry_point("review")
    parent.add_edge("review", END)
    inner = child.nodes["score"]
    flat = parent.nodes["review/score"]
    assert (flat.local, flat.resources, flat.cache) == (True, {"GPU": 1}, inner.cache)
    assert flat.cache is not None
    assert parent.nodes["review/fetch"].is_async is True


def test_a_cached_node_inside_a_subgraph_hits_its_cache(engine: Engine) -> None:
    calls: list[int] = []

    def score(state: dict[str, Any]) -> dict[str, Any]:
        calls.append(state["x"])
        return {"score": state["x"] * 2}

    child = Graph("child").add_node("score", score, cache=True, reads=["x"])
    child.add_edge("score", END).set_entry_point("score")
    parent = Graph("parent").add_subgraph("review", child).set_entry_point("review")
    parent.add_edge("review", END)
    first = engine.run(parent, {"x": 3})
    second = engine.run(parent, {"x": 3})
    assert first.state["score"] == second.state["score"] == 6
    assert calls == [3], "the second run is served from the cache"
    assert second.cache_log[-1]["result"] == "hit"
