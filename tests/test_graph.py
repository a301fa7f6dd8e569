"""Graph building, routing, validation and export (issue 2, "Graph")."""

from __future__ import annotations

import json

import pytest
from wfengine import END, Edge, Graph, GraphValidationError, RetryPolicy, WorkflowExecutor


def noop(state: dict) -> None:
    return None


def linear(*names: str) -> Graph:
    """A graph running ``names`` in order, then END."""
    graph = Graph("linear")
    for name in names:
        graph.add_node(name, noop)
    for a, b in zip(names, names[1:], strict=False):
        graph.add_edge(a, b)
    graph.add_edge(names[-1], END)
    return graph.set_entry_point(names[0])


# -- building ----------------------------------------------------------------------------


def test_builder_methods_are_fluent() -> None:
    graph = Graph("g")
    assert graph.add_node("a", noop) is graph
    assert graph.add_node("b", noop, description="second", retry=2, timeout=1.5) is graph
    assert graph.add_edge("a", "b") is graph
    assert graph.add_edge("b", END) is graph
    assert graph.set_entry_point("a") is graph
    assert graph.set_reducer("items", "append") is graph
    assert list(graph.nodes) == ["a", "b"]
    assert graph.entry_point == "a"
    assert graph.nodes["b"].description == "second"
    assert graph.nodes["b"].timeout == 1.5
    assert graph.nodes["b"].retry == RetryPolicy(max_attempts=2)
    assert graph.validate() == []


def test_seed_style_building_and_condition_set_after_adding() -> None:
    graph = Graph("seed")
    graph.add_node("step1", noop)
    graph.add_node("step2", noop)
    graph.add_node("big", noop)
    graph.add_edge("step1", "step2")
    graph.add_edge("step1", "big")
    graph.set_entry_point("step1")
    edge = graph.edges[1]
    assert isinstance(edge, Edge)
    assert (edge.source, edge.target) == ("step1", "big")
    edge.condition = lambda state: state["value"] > 100
    assert graph.get_next_nodes("step1", {"value": 5}) == ["step2"]
    assert graph.get_next_nodes("step1", {"value": 500}) == ["step2", "big"]


def test_condition_changed_after_routing_was_used_takes_effect() -> None:
    graph = linear("a", "b")
    assert graph.get_next_nodes("a", {}) == ["b"]
    graph.edges_from("a")[0].condition = lambda state: state.get("go", False)
    assert graph.get_next_nodes("a", {}) == []
    assert graph.get_next_nodes("a", {"go": True}) == ["b"]
    graph.edges_from("a")[0].condition = None
    assert graph.get_next_nodes("a", {}) == ["b"]


def test_edges_from_lists_every_edge_with_that_source_in_order() -> None:
    graph = (
        Graph("g")
        .add_node("a", noop)
        .add_node("b", noop)
        .add_node("c", noop)
        .add_edge("a", "b")
        .add_edge("a", "c", condition=lambda s: True)
        .add_edge(["b", "c"], END)
        .set_entry_point("a")
    )
    assert [e.target for e in graph.edges_from("a")] == ["b", "c"]
    assert [e.sources for e in graph.edges_from("c")] == [("b", "c")]
    assert graph.edges_from("nobody") == []


def test_get_next_nodes_conditions_defaults_and_end() -> None:
    graph = (
        Graph("g")
        .add_node("a", noop)
        .add_node("hi", noop)
        .add_node("lo", noop)
        .add_node("other", noop)
        .add_edge("a", "hi", condition=lambda s: s["v"] > 10)
        .add_edge("a", "lo", condition=lambda s: s["v"] < 0)
        .add_edge("a", "other", default=True)
        .add_edge("a", END)
        .set_entry_point("a")
    )
    assert graph.get_next_nodes("a", {"v": 50}) == [END, "hi"]
    assert graph.get_next_nodes("a", {"v": -1}) == [END, "lo"]
    assert graph.get_next_nodes("a", {"v": 5}) == [END, "other"]
    assert graph.get_next_nodes("hi", {"v": 5}) == []


def test_join_edges_are_not_followed_by_get_next_nodes() -> None:
    graph = (
        Graph("g")
        .add_node("a", noop)
        .add_node("b", noop)
        .add_node("c", noop)
        .add_edge("a", "b")
        .add_edge(["a", "b"], "c")
        .add_edge("c", END)
        .set_entry_point("a")
    )
    assert graph.get_next_nodes("a", {}) == ["b"]
    assert [e.target for e in graph.edges if e.is_join] == ["c"]
    assert graph.edges[1].is_join and not graph.edges[0].is_join


# -- validation ---------------------------------------------------------------------------


def test_duplicate_node_name_is_an_error_naming_it() -> None:
    graph = Graph("g").add_node("a", noop)
    with pytest.raises(GraphValidationError, match="duplicate node name 'a'"):
        graph.add_node("a", noop)


def test_reserved_end_name_is_an_error() -> None:
    with pytest.raises(GraphValidationError, match="reserved"):
        Graph("g").add_node(END, noop)


def test_node_must_be_callable_and_timeout_positive() -> None:
    with pytest.raises(GraphValidationError, match="'a'.*not callable"):
        Graph("g").add_node("a", 42)  # type: ignore[arg-type]
    with pytest.raises(GraphValidationError, match="'a'.*timeout"):
        Graph("g").add_node("a", noop, timeout=0)


def test_missing_entry_point_is_an_error() -> None:
    graph = Graph("g").add_node("a", noop).add_edge("a", END)
    with pytest.raises(GraphValidationError, match="no entry point"):
        graph.validate()


def test_unknown_entry_point_is_an_error_with_a_hint() -> None:
    graph = Graph("g").add_node("load", noop).add_edge("load", END).set_entry_point("laod")
    with pytest.raises(GraphValidationError) as info:
        graph.validate()
    assert "entry point 'laod' is not a node" in str(info.value)
    assert "did you mean 'load'" in str(info.value)


def test_unknown_nodes_in_edges_are_errors_naming_the_edge_and_node() -> None:
    graph = (
        Graph("g")
        .add_node("a", noop)
        .add_edge("a", "ghost")
        .add_edge("phantom", "a")
        .set_entry_point("a")
    )
    with pytest.raises(GraphValidationError) as info:
        graph.validate()
    problems = info.value.problems
    assert len(problems) == 2, problems
    assert "edge 0 (a -> ghost)" in problems[0] and "unknown target node 'ghost'" in problems[0]
    assert "edge 1 (phantom -> a)" in problems[1] and "unknown source node 'phantom'" in problems[1]
    assert info.value.graph == "g"
    assert "graph 'g' is invalid" in str(info.value)


def test_edge_from_end_is_an_error() -> None:
    graph = Graph("g").add_node("a", noop).add_edge("a", END).add_edge(END, "a")
    graph.set_entry_point("a")
    with pytest.raises(GraphValidationError, match=r"edge 1 \(END -> a\).*cannot start at END"):
        graph.validate()


def test_default_edge_with_condition_and_join_naming_a_source_twice_are_errors() -> None:
    graph = (
        Graph("g")
        .add_node("a", noop)
        .add_node("b", noop)
        .add_edge("a", "b", condition=lambda s: True, default=True)
        .add_edge(["a", "a"], "b")
        .add_edge("b", END)
        .set_entry_point("a")
    )
    with pytest.raises(GraphValidationError) as info:
        graph.validate()
    text = str(info.value)
    assert "default edge cannot also have a condition" in text
    assert "names a source twice" in text


def test_validation_reports_every_problem_at_once() -> None:
    graph = Graph("g").add_node("a", noop).add_edge("a", "x").add_edge("y", END)
    with pytest.raises(GraphValidationError) as info:
        graph.validate()
    assert len(info.value.problems) == 3
    assert isinstance(info.value, ValueError)


def test_unreachable_nodes_and_dead_ends_are_warnings() -> None:
    graph = (
        Graph("g")
        .add_node("a", noop)
        .add_node("loop", noop)
        .add_node("island", noop)
        .add_edge("a", END)
        .add_edge("a", "loop", condition=lambda s: False)
        .add_edge("loop", "loop")
        .add_edge("island", END)
        .set_entry_point("a")
    )
    warnings = graph.validate()
    assert warnings == [
        "node 'island' is unreachable from the entry point",
        "node 'loop' can never reach END",
    ]


def test_a_valid_graph_has_no_warnings() -> None:
    assert linear("a", "b", "c").validate() == []


# -- export --------------------------------------------------------------------------------


def test_to_dict_is_json_serialisable_and_complete() -> None:
    graph = (
        Graph("exported", max_steps=50, description="an example")
        .add_node("a", noop, description="first", retry=RetryPolicy(max_attempts=3), timeout=2)
        .add_node("b", lambda s: None)
        .add_edge("a", "b", condition=lambda s: True, description="always")
        .add_edge("a", END, default=True)
        .add_edge(["a", "b"], END)
        .set_entry_point("a")
        .set_reducer("items", "append")
    )
    data = json.loads(json.dumps(graph.to_dict()))
    assert data["name"] == "exported"
    assert data["entry"] == "a"
    assert data["max_steps"] == 50
    assert data["description"] == "an example"
    assert data["reducers"] == {"items": "append"}
    assert list(data["nodes"]) == ["a", "b"]  # the spec's shape
    a, b = data["nodes"].values()
    assert a["func"].endswith("noop")
    assert a["description"] == "first" and a["timeout"] == 2
    assert a["retry"] == {"max_attempts": 3}  # what differs from the defaults, as a spec
    assert b["func"].endswith("<lambda>")
    assert data["edges"][0]["from"] == "a" and data["edges"][0]["to"] == "b"
    assert "condition" in data["edges"][0] and data["edges"][0]["description"] == "always"
    assert data["edges"][1] == {"from": "a", "to": END, "default": True}
    assert data["edges"][2] == {"from": ["a", "b"], "to": END}


def test_to_mermaid_draws_nodes_edges_and_condition_labels() -> None:
    graph = (
        Graph("m")
        .add_node("check", noop)
        .add_node("fix", noop)
        .add_node("report", noop)
        .add_edge("check", "fix", condition=lambda s: s["bad"] > 0, description="bad > 0")
        .add_edge("check", "report", default=True)
        .add_edge("fix", "check")
        .add_edge("report", END)
        .set_entry_point("check")
    )
    text = graph.to_mermaid()
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    assert 'n0["check"]' in text and 'n1["fix"]' in text and 'n2["report"]' in text
    assert "    START_ --> n0" in lines
    assert '    n0 -->|"bad #62; 0"| n1' in lines
    assert '    n0 -.->|"default"| n2' in lines
    assert "    n1 --> n0" in lines
    assert "    n2 --> END_" in lines
    assert graph.to_mermaid(direction="LR").startswith("flowchart LR\n")


def test_to_mermaid_labels_an_undescribed_condition_with_its_function() -> None:
    def is_large(state: dict) -> bool:
        return bool(state["value"] > 100)

    graph = linear("a", "b")
    graph.edges_from("a")[0].condition = is_large
    assert "is_large" in graph.to_mermaid()


def test_to_mermaid_escapes_quotes_in_names() -> None:
    graph = Graph("m").add_node('say "hi"', noop).add_edge('say "hi"', END)
    graph.set_entry_point('say "hi"')
    text = graph.to_mermaid()
    assert '"say #34;hi#34;"' in text


def test_add_edge_takes_a_condition_as_data() -> None:
    graph = (
        Graph("g")
        .add_node("a", lambda s: {"n": s["n"] + 1})
        .add_edge("a", "a", when="n < 3")
        .add_edge("a", END, when={"key": "n", "op": ">=", "value": 3})
        .set_entry_point("a")
    )
    assert graph.edges[0].condition_spec == "n < 3"
    run = WorkflowExecutor(graph).run({"n": 0})
    assert run.state == {"n": 3} and run.visited_nodes == ["a", "a", "a"]


def test_add_edge_refuses_a_bad_condition_with_its_place() -> None:
    from wfengine import ConditionError

    graph = Graph("g").add_node("a", lambda s: None)
    with pytest.raises(ConditionError, match=r"edges\[0\]\.when"):
        graph.add_edge("a", END, when="__import__('os')")
    with pytest.raises(GraphValidationError, match="give condition or when"):
        graph.add_edge("a", END, when="n > 1", condition=lambda s: True)


def test_one_writer_graphs_of_tools_write_as_their_spec() -> None:
    from wfengine import Engine, SpecError, dump_spec

    engine = Engine(load_entrypoints=False)
    engine.tools.register("set_x", lambda state, value=1: {"x": value})
    spec = {
        "name": "tools",
        "entry": "a",
        "nodes": {"a": {"tool": "set_x", "params": {"value": 2}, "retry": 2}},
        "edges": [{"from": "a", "to": END, "when": "x > 0"}],
    }
    graph = engine.load_spec(spec)
    assert (
        graph.to_dict()
        == dump_spec(graph)
        == {**spec, "nodes": {"a": {**spec["nodes"]["a"], "retry": {"max_attempts": 2}}}}
    )
    python = Graph("py").add_node("f", noop).add_edge("f", END).set_entry_point("f")
    assert python.to_dict()["nodes"]["f"]["func"].endswith("noop")
    with pytest.raises(SpecError, match="runs a Python function") as info:
        dump_spec(python)
    assert info.value.where == "nodes.f"
