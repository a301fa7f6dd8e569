"""Declarative graph specs: loading, running, every error with its location, round trips."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from wfengine.builtins.conditions import wfengine_register_conditions
from wfengine.errors import ConditionError, GraphValidationError, SpecError
from wfengine.executor import WorkflowExecutor
from wfengine.graph import END, Graph
from wfengine.registry import ConditionRegistry, ToolRegistry
from wfengine.run import RunStatus
from wfengine.spec import ToolCall, dump_spec, load_spec

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "specs"


def inc(state: dict[str, Any], by: int = 1) -> dict[str, Any]:
    """Add ``by`` to ``n``."""
    return {"n": state["n"] + by}


def note(state: dict[str, Any], text: str = "seen") -> dict[str, Any]:
    """Append a note."""
    return {"notes": [text]}


async def adouble(state: dict[str, Any]) -> dict[str, Any]:
    """Double ``n`` (async)."""
    return {"n": state["n"] * 2}


@pytest.fixture
def tools() -> ToolRegistry:
    reg = ToolRegistry()
    reg.register("inc", inc)
    reg.register("note", note)
    reg.register("report", lambda state: {"done": True}, "Finish")
    reg.register("adouble", adouble)
    return reg


@pytest.fixture
def conditions() -> ConditionRegistry:
    reg = ConditionRegistry()
    wfengine_register_conditions(reg)
    return reg


COUNTER: dict[str, Any] = {
    "name": "counter",
    "description": "count to ten by twos, noting each round",
    "entry": "inc",
    "max_steps": 50,
    "reducers": {"notes": "extend"},
    "nodes": {
        "inc": {
            "tool": "inc",
            "params": {"by": 2},
            "description": "add two",
            "retry": {"max_attempts": 3},
            "timeout": 5,
        },
        "note": {"tool": "note"},
        "report": {"tool": "report"},
    },
    "edges": [
        {"from": "inc", "to": "note", "when": "n < 10"},
        {"from": "inc", "to": "report", "default": True},
        {"from": "note", "to": "inc", "when": {"key": "n", "op": "<", "value": 100}},
        {"from": "report", "to": "END"},
    ],
}

COUNTER_YAML = """\
name: counter
description: count to ten by twos, noting each round
entry: inc
max_steps: 50
reducers: {notes: extend}
nodes:
  inc:
    tool: inc
    params: {by: 2}
    description: add two
    retry: {max_attempts: 3}
    timeout: 5
  note: {tool: note}
  report: {tool: report}
edges:
  - {from: inc, to: note, when: "n < 10"}
  - {from: inc, to: report, default: true}
  - {from: note, to: inc, when: {key: n, op: "<", value: 100}}
  - {from: report, to: END}
"""


def load(source: Any, tools: ToolRegistry, conditions: ConditionRegistry, **kw: Any) -> Graph:
    return load_spec(source, tools=tools, conditions=conditions, **kw)


def spec_error(
    source: Any, tools: ToolRegistry, conditions: ConditionRegistry, **kw: Any
) -> SpecError:
    with pytest.raises(SpecError) as info:
        load(source, tools, conditions, **kw)
    return info.value


def with_(**changes: Any) -> dict[str, Any]:
    """A copy of COUNTER with top-level keys replaced (``None`` removes a key)."""
    spec = copy.deepcopy(COUNTER)
    for key, value in changes.items():
        if value is None:
            spec.pop(key, None)
        else:
            spec[key] = value
    return spec


def with_node(name: str, node: Any) -> dict[str, Any]:
    spec = copy.deepcopy(COUNTER)
    spec["nodes"][name] = node
    return spec


def with_edge(index: int, edge: Any) -> dict[str, Any]:
    spec = copy.deepcopy(COUNTER)
    spec["edges"][index] = edge
    return spec


def assert_counter(graph: Graph) -> None:
    assert graph.name == "counter"
    assert graph.entry_point == "inc"
    assert graph.max_steps == 50
    assert graph.reducer_names == {"notes": "extend"}
    node = graph.nodes["inc"]
    assert (node.tool, node.params, node.timeout) == ("inc", {"by": 2}, 5)
    assert node.retry is not None and node.retry.max_attempts == 3
    assert node.description == "add two"
    assert [e.target for e in graph.edges] == ["note", "report", "inc", END]
    assert graph.edges[0].condition_spec == "n < 10"
    assert graph.edges[1].default is True


# -- loading -------------------------------------------------------------------------------


def test_load_from_dict(tools: ToolRegistry, conditions: ConditionRegistry) -> None:
    assert_counter(load(COUNTER, tools, conditions))


def test_load_does_not_keep_references_to_the_input(
    tools: ToolRegistry, conditions: ConditionRegistry
) -> None:
    spec = copy.deepcopy(COUNTER)
    graph = load(spec, tools, conditions)
    spec["nodes"]["inc"]["params"]["by"] = 99
    spec["edges"][2]["when"]["value"] = 0
    assert graph.nodes["inc"].params == {"by": 2}
    assert graph.edges[2].condition_spec["value"] == 100


def test_load_from_yaml_string(tools: ToolRegistry, conditions: ConditionRegistry) -> None:
    assert_counter(load(COUNTER_YAML, tools, conditions))


def test_load_from_json_string(tools: ToolRegistry, conditions: ConditionRegistry) -> None:
    assert_counter(load(json.dumps(COUNTER, indent=2), tools, conditions))


def test_load_from_yaml_flow_mapping_string(
    tools: ToolRegistry, conditions: ConditionRegistry
) -> None:
    graph = load(
        "{entry: a, nodes: {a: {tool: inc}}, edges: [{from: a, to: END}]}", tools, conditions
    )
    assert graph.name == "graph" and list(graph.nodes) == ["a"]


@pytest.mark.parametrize("suffix", [".yaml", ".yml"])
def test_load_from_yaml_file(
    suffix: str, tmp_path: Path, tools: ToolRegistry, conditions: ConditionRegistry
) -> None:
    path = tmp_path / f"counter{suffix}"
    path.write_text(COUNTER_YAML)
    assert_counter(load(path, tools, conditions))
    assert_counter(load(str(path), tools, conditions))


def test_load_from_json_file(
    tmp_path: Path, tools: ToolRegistry, conditions: ConditionRegistry
) -> None:
    path = tmp_path / "counter.json"
    path.write_text(json.dumps(COUNTER))
    assert_counter(load(path, tools, conditions))


def test_name_defaults_to_the_file_stem(
    tmp_path: Path, tools: ToolRegistry, conditions: ConditionRegistry
) -> None:
    path = tmp_path / "my-flow.json"
    path.write_text(json.dumps(with_(name=None)))
    assert load(path, tools, conditions).name == "my-flow"
    assert load(with_(name=None), tools, conditions).name == "graph"


def test_spec_node_runs_tool_with_params(
    tools: ToolRegistry, conditions: ConditionRegistry
) -> None:
    func = load(COUNTER, tools, conditions).nodes["inc"].func
    assert isinstance(func, ToolCall)
    assert repr(func) == "ToolCall('inc', by=2)"
    assert func({"n": 1}) == {"n": 3}


def test_run_a_loaded_spec(tools: ToolRegistry, conditions: ConditionRegistry) -> None:
    run = WorkflowExecutor(load(COUNTER_YAML, tools, conditions)).run({"n": 0})
    assert run.status == RunStatus.COMPLETED
    assert run.state["n"] == 10
    assert run.state["notes"] == ["seen"] * 4  # after n = 2, 4, 6, 8
    assert run.state["done"] is True
    assert run.visited_nodes[:3] == ["inc", "note", "inc"]
    assert run.visited_nodes[-2:] == ["inc", "report"]


def test_run_a_spec_with_an_async_tool_and_a_join(
    tools: ToolRegistry, conditions: ConditionRegistry
) -> None:
    spec = {
        "entry": "start",
        "reducers": {"notes": "extend"},
        "nodes": {
            "start": {"tool": "note", "params": {"text": "start"}},
            "double": {"tool": "adouble"},
            "left": {"tool": "note", "params": {"text": "left"}},
            "done": {"tool": "report"},
        },
        "edges": [
            {"from": "start", "to": "double"},
            {"from": "start", "to": "left"},
            {"from": ["double", "left"], "to": "done"},
            {"from": "done", "to": "END"},
        ],
    }
    graph = load(spec, tools, conditions)
    assert graph.nodes["double"].is_async
    run = WorkflowExecutor(graph).run({"n": 4})
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state["n"] == 8
    assert run.state["done"] is True
    assert run.visited_nodes.count("done") == 1


def test_missing_state_key_in_a_condition_fails_the_run_clearly(
    tools: ToolRegistry, conditions: ConditionRegistry
) -> None:
    spec = with_edge(0, {"from": "inc", "to": "note", "when": "count < 10"})
    run = WorkflowExecutor(load(spec, tools, conditions)).run({"n": 0})
    assert run.status == RunStatus.FAILED
    assert "condition at edges[0].when: state has no key 'count'" in str(run.error)


# -- errors, each with its location ---------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (with_(nodez={}), "unknown spec key 'nodez'; did you mean 'nodes'?"),
        (with_(nodes=None), "a spec needs 'nodes': a mapping of node names to {tool: NAME}"),
        (with_(entry=None), "a spec needs 'entry': the name of the node the run starts at"),
        (with_(nodes={}), "nodes: 'nodes' must be a non-empty mapping of names to nodes"),
        (with_(nodes=["inc"]), "nodes: 'nodes' must be a non-empty mapping of names to nodes"),
        (with_(edges={"a": 1}), "edges: 'edges' must be a list of {from, to} mappings"),
        (with_(entry="incc"), "entry: unknown node 'incc'; did you mean 'inc'?"),
        (with_(entry="zzz"), "entry: unknown node 'zzz' (known: inc, note, report)"),
        (with_(name=""), "name: 'name' must be a non-empty string, got ''"),
        (with_(description=3), "description: must be a string, got int"),
        (with_(max_steps="many"), "max_steps: must be a positive integer, got 'many'"),
        (with_(max_steps=2.5), "max_steps: must be a positive integer, got 2.5"),
        (with_(max_steps=True), "max_steps: must be a positive integer, got True"),
        (with_(max_steps=0), "max_steps: must be a positive integer, got 0"),
        (with_(reducers={"notes": "extnd"}), "reducers.notes: unknown reducer 'extnd'; did you "),
        (with_(reducers=["notes"]), "reducers: 'reducers' must map state keys to reducer names"),
        (with_node("inc", "inc"), "nodes.inc: a node must be a mapping like {tool: NAME}, got str"),
        (with_node("inc", {"tool": "incc"}), "nodes.inc.tool: unknown tool 'incc'; did you mean"),
        (with_node("inc", {"tool": "zzz"}), "nodes.inc.tool: unknown tool 'zzz' (known: adouble,"),
        (with_node("inc", {}), "nodes.inc: a node needs 'tool': the name of a registered tool"),
        (with_node("inc", {"tool": "inc", "tiemout": 1}), "nodes.inc: unknown node key 'tiemout'"),
        (with_node("inc", {"tool": "inc", "params": [1]}), "nodes.inc.params: 'params' must map"),
        (
            with_node("inc", {"tool": "inc", "params": {"step": 1}}),
            "nodes.inc.params: tool 'inc' cannot be called as tool(state, **params): "
            "got an unexpected keyword argument 'step'",
        ),
        (
            with_node("inc", {"tool": "inc", "retry": {"max_attempt": 3}}),
            "nodes.inc.retry: unknown retry field(s) ['max_attempt']",
        ),
        (
            with_node("inc", {"tool": "inc", "retry": {"max_attempts": 0}}),
            "nodes.inc.retry: invalid retry policy: retry max_attempts must be an integer >= 1",
        ),
        (
            with_node("inc", {"tool": "inc", "retry": {"retry_on": ["NoSuchError"]}}),
            "nodes.inc.retry: retry_on: 'NoSuchError' is not a built-in exception type",
        ),
        (with_node("inc", {"tool": "inc", "retry": "3"}), "nodes.inc.retry: retry must be a"),
        (with_node("inc", {"tool": "inc", "timeout": -1}), "nodes.inc.timeout: must be a positive"),
        (with_node("inc", {"tool": "inc", "timeout": "1m"}), "nodes.inc.timeout: must be a pos"),
        (with_node("END", {"tool": "inc"}), "nodes.END: 'END' is reserved for the end of a branch"),
        (with_edge(3, ["report", "END"]), "edges[3]: an edge must be a mapping like {from: a, "),
        (with_edge(3, {"from": "report"}), "edges[3]: an edge needs 'from' and 'to'"),
        (with_edge(3, {"from": "report", "to": "reprot"}), "edges[3].to: unknown node 'reprot'; "),
        (with_edge(3, {"from": "reprot", "to": "END"}), "edges[3].from: unknown node 'reprot'; "),
        (with_edge(3, {"from": "END", "to": "inc"}), "edges[3].from: an edge cannot start at END"),
        (with_edge(3, {"from": ["report", "nte"], "to": "END"}), "edges[3].from[1]: unknown node"),
        (
            with_edge(3, {"from": [], "to": "END"}),
            "edges[3].from: a join needs at least one source",
        ),
        (
            with_edge(3, {"from": ["report", "report"], "to": "END"}),
            "edges[3].from: a join names a source",
        ),
        (with_edge(3, {"from": "report", "to": 3}), "edges[3].to: must be a node name, got 3"),
        (with_edge(3, {"from": "report", "to": "END", "wen": "x"}), "edges[3]: unknown edge key"),
        (
            with_edge(3, {"from": "report", "to": "END", "default": "yes"}),
            "edges[3].default: must be true or false, got 'yes'",
        ),
        (
            with_edge(1, {"from": "inc", "to": "report", "default": True, "when": "n > 1"}),
            "edges[1]: a default edge is followed when no condition fired; it cannot have 'when'",
        ),
        (
            with_edge(3, {"from": "report", "to": "END", "when": {"strategy": "tresh"}}),
            "edges[3].when: unknown condition strategy 'tresh'",
        ),
        (
            with_edge(3, {"from": "report", "to": "END", "when": "n.real > 1"}),
            "edges[3].when: expression 'n.real > 1': attribute access is not allowed",
        ),
        (
            with_edge(3, {"from": "report", "to": "END", "when": {"all": ["n > 1", "(n"]}}),
            "edges[3].when.all[1]: invalid expression '(n'",
        ),
        (
            with_edge(3, {"from": "report", "to": "END", "when": None}),
            "edges[3].when: a condition must be an expression string",
        ),
    ],
)
def test_spec_errors_say_what_and_where(
    spec: dict[str, Any], expected: str, tools: ToolRegistry, conditions: ConditionRegistry
) -> None:
    error = spec_error(spec, tools, conditions)
    assert str(error).startswith(expected), str(error)
    assert error.source is None


def test_unknown_strategy_suggests_a_registered_plugin_strategy(
    tools: ToolRegistry, conditions: ConditionRegistry
) -> None:
    conditions.register("thresh", lambda spec, compile: lambda state: True)
    spec = with_edge(3, {"from": "report", "to": "END", "when": {"strategy": "tresh"}})
    error = spec_error(spec, tools, conditions)
    assert isinstance(error, ConditionError)
    assert str(error) == "edges[3].when: unknown condition strategy 'tresh'; did you mean 'thresh'?"
    assert error.where == "edges[3].when"


def test_spec_must_be_a_mapping(tools: ToolRegistry, conditions: ConditionRegistry) -> None:
    assert "got list" in str(spec_error("- a\n- b\n", tools, conditions))
    assert "got empty" in str(spec_error("# nothing\n", tools, conditions))
    assert "got int" in str(spec_error(42, tools, conditions))


def test_yaml_syntax_error_has_the_line(
    tmp_path: Path, tools: ToolRegistry, conditions: ConditionRegistry
) -> None:
    path = tmp_path / "spec.yaml"
    lines = COUNTER_YAML.splitlines()
    lines[6] = "  inc: tool: inc"  # line 7: a mapping value where none is allowed
    path.write_text("\n".join(lines) + "\n")
    error = spec_error(path, tools, conditions)
    assert str(error).startswith(f"{path}: line 7: YAML syntax error: mapping values are not ")
    assert (error.source, error.where) == (str(path), "line 7")


def test_yaml_string_syntax_error_has_the_line(
    tools: ToolRegistry, conditions: ConditionRegistry
) -> None:
    error = spec_error("entry: a\nnodes:\n  a: [tool\n", tools, conditions)
    assert str(error).startswith("line 4: YAML syntax error: ")


def test_yaml_duplicate_key_is_refused(tools: ToolRegistry, conditions: ConditionRegistry) -> None:
    text = COUNTER_YAML.replace("  note: {tool: note}", "  note: {tool: note}\n  inc: {tool: inc}")
    error = spec_error(text, tools, conditions)
    assert str(error).startswith("line 14: YAML syntax error: duplicate key 'inc'")


def test_json_syntax_error_has_the_line(
    tmp_path: Path, tools: ToolRegistry, conditions: ConditionRegistry
) -> None:
    path = tmp_path / "spec.json"
    path.write_text('{\n  "entry": "inc",\n  "nodes": {"inc": {"tool": "inc"},}\n}\n')
    error = spec_error(path, tools, conditions)
    assert str(error).startswith(f"{path}: line 3: JSON syntax error: ")


def test_json_duplicate_key_is_refused(
    tmp_path: Path, tools: ToolRegistry, conditions: ConditionRegistry
) -> None:
    path = tmp_path / "spec.json"
    path.write_text('{"entry": "a", "entry": "b", "nodes": {}}')
    assert str(spec_error(path, tools, conditions)) == f"{path}: JSON error: duplicate key 'entry'"


def test_file_not_found(tmp_path: Path, tools: ToolRegistry, conditions: ConditionRegistry) -> None:
    path = tmp_path / "nope.yaml"
    assert str(spec_error(path, tools, conditions)) == f"{path}: spec file not found"
    assert str(spec_error(str(path), tools, conditions)) == f"{path}: spec file not found"


def test_unsupported_extension(
    tmp_path: Path, tools: ToolRegistry, conditions: ConditionRegistry
) -> None:
    path = tmp_path / "spec.toml"
    path.write_text("x = 1")
    message = str(spec_error(path, tools, conditions))
    assert message == f"{path}: unsupported spec file extension '.toml'; use .yaml, .yml, .json"
    message = str(spec_error("spec.toml", tools, conditions))
    assert message.startswith("'spec.toml' is neither a spec nor a spec file")


def test_errors_in_a_file_name_the_file(
    tmp_path: Path, tools: ToolRegistry, conditions: ConditionRegistry
) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text(COUNTER_YAML.replace("to: END}", "to: ENDD}"))
    error = spec_error(path, tools, conditions)
    assert str(error) == f"{path}: edges[3].to: unknown node 'ENDD' (known: inc, note, report)"
    assert (error.source, error.where) == (str(path), "edges[3].to")


def test_size_limits(tools: ToolRegistry, conditions: ConditionRegistry) -> None:
    assert load(COUNTER, tools, conditions, max_nodes=3, max_edges=4)
    error = spec_error(COUNTER, tools, conditions, max_nodes=2)
    assert str(error) == "nodes: the spec has 3 nodes; the limit is 2"
    error = spec_error(COUNTER, tools, conditions, max_edges=3)
    assert str(error) == "edges: the spec has 4 edges; the limit is 3"


def test_graph_validation_errors_become_spec_errors(
    tools: ToolRegistry, conditions: ConditionRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the loader checks everything graph.validate() does first; should a graph-level check
    # still fail, its problems come back as one SpecError
    def invalid(self: Graph) -> list[str]:
        raise GraphValidationError(self.name, ["first problem", "second problem"])

    monkeypatch.setattr(Graph, "validate", invalid)
    error = spec_error(COUNTER, tools, conditions)
    assert str(error) == "graph 'counter' is invalid: first problem; second problem"


# -- writing back --------------------------------------------------------------------------


def test_dump_writes_what_was_loaded(tools: ToolRegistry, conditions: ConditionRegistry) -> None:
    assert dump_spec(load(COUNTER, tools, conditions)) == COUNTER


def test_round_trip_load_dump_load(tools: ToolRegistry, conditions: ConditionRegistry) -> None:
    first = dump_spec(load(COUNTER_YAML, tools, conditions))
    second = dump_spec(load(first, tools, conditions))
    assert first == second == COUNTER
    again = dump_spec(load(yaml.safe_dump(first), tools, conditions))
    assert again == COUNTER
    assert dump_spec(load(json.dumps(first), tools, conditions)) == COUNTER


def test_round_trip_keeps_joins_and_full_retry_policies(
    tools: ToolRegistry, conditions: ConditionRegistry
) -> None:
    spec = {
        "name": "joined",
        "entry": "a",
        "nodes": {
            "a": {"tool": "inc", "retry": {"max_attempts": 5, "jitter": False}},
            "b": {"tool": "inc", "retry": {"retry_on": ["TimeoutError", "OSError"]}},
            "c": {"tool": "report"},
        },
        "edges": [
            {"from": "a", "to": "b", "description": "always"},
            {"from": "a", "to": "c"},
            {"from": ["a", "b"], "to": "c"},
            {"from": "c", "to": "END", "when": {"not": {"key": "n", "op": ">", "value": 5}}},
        ],
    }
    assert dump_spec(load(spec, tools, conditions)) == spec


def test_dump_refuses_python_nodes_and_conditions() -> None:
    graph = Graph("code").add_node("step", lambda s: {}).add_edge("step", END)
    with pytest.raises(SpecError) as info:
        dump_spec(graph.set_entry_point("step"))
    assert str(info.value).startswith("nodes.step: node 'step' runs a Python function")

    graph = Graph("cond").add_node("a", ToolCall(inc), tool="inc")
    graph.add_edge("a", END, condition=lambda s: True).set_entry_point("a")
    with pytest.raises(SpecError) as info:
        dump_spec(graph)
    assert str(info.value).startswith("edges[0]: the edge a -> END has a Python condition")

    graph = Graph("red").add_node("a", inc, tool="inc").add_edge("a", END)
    graph.set_reducer("n", lambda old, new: new)
    with pytest.raises(SpecError) as info:
        dump_spec(graph)
    assert str(info.value).startswith("reducers.n: reducer ")


# -- the example specs ---------------------------------------------------------------------


def stub_tools(spec: dict[str, Any]) -> ToolRegistry:
    reg = ToolRegistry()
    for node in spec["nodes"].values():
        if "tool" in node and node["tool"] not in reg:
            reg.register(node["tool"], lambda state, **params: None)
    return reg


@pytest.mark.parametrize(
    "path",
    sorted(p for p in EXAMPLES.glob("*.*") if p.suffix in {".yaml", ".yml", ".json"}),
    ids=lambda p: p.name if isinstance(p, Path) else p,
)
def test_example_specs_load_and_round_trip(path: Path, conditions: ConditionRegistry) -> None:
    raw = yaml.safe_load(path.read_text())
    graph = load(path, stub_tools(raw), conditions)
    assert dump_spec(graph) == dump_spec(load(dump_spec(graph), stub_tools(raw), conditions))


def test_yaml_aliases_are_refused_with_their_line() -> None:
    from wfengine import SpecError, ToolRegistry
    from wfengine.registry import ConditionRegistry
    from wfengine.spec import load_spec

    bomb = "a: &a [1, 2]\nb: &b [*a, *a]\nnodes: {}\nentry: x\n"
    with pytest.raises(SpecError, match=r"line 2: .*aliases"):
        load_spec(bomb, tools=ToolRegistry(), conditions=ConditionRegistry())
