"""Composition: node-chosen routing (Command) and dynamic map-reduce (Send, spec map nodes)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from wfengine import END, Command, Engine, Graph, GraphValidationError, Send, SpecError
from wfengine.compose import MapOver


def router_graph(choose: Any) -> Graph:
    return (
        Graph("router")
        .add_node("decide", choose, routes=["yes", "no"])
        .add_node("yes", lambda s: {"went": "yes"})
        .add_node("no", lambda s: {"went": "no"})
        .add_node("static", lambda s: {"went": "static"})
        .add_edge("decide", "static")  # replaced by the command's goto for that step
        .add_edge("yes", END)
        .add_edge("no", END)
        .add_edge("static", END)
        .set_entry_point("decide")
    )


# -- Command ------------------------------------------------------------------------------


@pytest.mark.parametrize("lean", ["1", "0"])
def test_command_goto_replaces_the_static_edges_and_applies_its_update(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, lean: str
) -> None:
    monkeypatch.setenv("WFENGINE_LEAN_STEPS", lean)
    graph = router_graph(lambda s: Command(goto="no" if s["x"] < 0 else "yes", update={"d": 1}))
    run = engine.run(graph, {"x": -1})
    assert run.status == "completed", run.error
    assert run.state == {"x": -1, "d": 1, "went": "no"}
    assert run.visited_nodes == ["decide", "no"]
    run = engine.run(graph, {"x": 1})
    assert run.visited_nodes == ["decide", "yes"]


def test_command_without_goto_follows_the_static_edges(engine: Engine) -> None:
    run = engine.run(router_graph(lambda s: Command(update={"d": 2})), {})
    assert run.visited_nodes == ["decide", "static"] and run.state["d"] == 2


def test_command_goto_end_finishes_the_branch(engine: Engine) -> None:
    graph = (
        Graph("g")
        .add_node("a", lambda s: Command(goto=END, update={"a": 1}), routes=[END, "b"])
        .add_node("b", lambda s: {"b": 1})
        .add_edge("a", "b")
        .add_edge("b", END)
        .set_entry_point("a")
    )
    run = engine.run(graph, {})
    assert run.status == "completed" and run.visited_nodes == ["a"] and run.state == {"a": 1}


def test_command_to_an_undeclared_target_fails_the_node_clearly(engine: Engine) -> None:
    run = engine.run(router_graph(lambda s: Command(goto="static")), {})
    assert run.status == "failed"
    assert run.error["node"] == "decide"
    assert "Command(goto='static'), which is not among its routes (yes, no)" in run.error["message"]
    assert "routes=[...]" in run.error["message"]


def test_command_in_a_parallel_step_routes_only_its_own_node(engine: Engine) -> None:
    graph = (
        Graph("p")
        .add_node("start", lambda s: None)
        .add_node("a", lambda s: Command(goto="x", update={"a": 1}), routes=["x"])
        .add_node("b", lambda s: {"b": 1})
        .add_node("x", lambda s: {"x": 1})
        .add_node("y", lambda s: {"y": 1})
        .add_edge("start", "a")
        .add_edge("start", "b")
        .add_edge("a", "y")  # replaced
        .add_edge("b", "y")
        .add_edge("x", END)
        .add_edge("y", END)
        .set_entry_point("start")
    )
    run = engine.run(graph, {})
    assert run.status == "completed", run.error
    assert run.visited_nodes == ["start", "a", "b", "x", "y"]


def test_unknown_route_target_is_a_validation_error() -> None:
    graph = Graph("g").add_node("a", lambda s: None, routes=["nope"]).set_entry_point("a")
    with pytest.raises(GraphValidationError, match="unknown route target 'nope'"):
        graph.validate()


def test_routes_count_for_reachability_warnings_and_drawings() -> None:
    graph = router_graph(lambda s: None)
    assert graph.validate() == []
    mermaid = graph.to_mermaid()
    assert 'n0 -.->|"route"| n1' in mermaid and 'n0 -.->|"route"| n2' in mermaid
    assert graph.to_dict()["nodes"]["decide"]["routes"] == ["yes", "no"]


# -- Send ---------------------------------------------------------------------------------


def map_graph(work: Any, *, max_parallel: int | None = None, retry: Any = None) -> Graph:
    return (
        Graph("map", reducers={"out": "extend"})
        .add_node(
            "split",
            lambda s: [Send("work", {"doc": d}) for d in s["docs"]],
            routes=["work"],
            max_parallel=max_parallel,
        )
        .add_node("work", work, retry=retry)
        .add_node("join", lambda s: {"n": len(s.get("out", []))})
        .add_edge("split", "join")
        .add_edge("join", END)
        .set_entry_point("split")
    )


def slow_double(state: dict[str, Any]) -> dict[str, Any]:
    time.sleep(0.001 * ((7 * state["doc"]) % 5))  # finishing order differs from input order
    return {"out": [state["doc"] * 2]}


def test_sends_run_one_copy_each_merged_in_input_order_then_the_senders_edges(
    engine: Engine,
) -> None:
    run = engine.run(map_graph(slow_double), {"docs": list(range(20))})
    assert run.status == "completed", run.error
    assert run.state["out"] == [d * 2 for d in range(20)]
    assert run.state["n"] == 20
    assert "doc" not in run.state  # the overlay is the copy's, not the run's
    assert run.visited_nodes == ["split", *["work"] * 20, "join"]  # every call made
    copies = [e for e in run.logs if e.node == "work"]
    assert len(copies) == 20 and {e.step for e in copies} == {1}


def test_zero_sends_still_fire_the_join(engine: Engine) -> None:
    run = engine.run(map_graph(slow_double), {"docs": []})
    assert run.status == "completed", run.error
    assert run.state["n"] == 0 and [e.node for e in run.logs] == ["split", "join"]


def test_max_parallel_bounds_the_copies_in_flight(engine: Engine) -> None:
    lock = threading.Lock()
    live = [0, 0]  # now, most

    def work(state: dict[str, Any]) -> dict[str, Any]:
        with lock:
            live[0] += 1
            live[1] = max(live[1], live[0])
        time.sleep(0.002)
        with lock:
            live[0] -= 1
        return {"out": [state["doc"]]}

    run = engine.run(map_graph(work, max_parallel=3), {"docs": list(range(30))})
    assert run.status == "completed", run.error
    assert run.state["out"] == list(range(30))
    assert 1 < live[1] <= 3


def test_one_failing_copy_fails_the_step_after_the_others_finish(engine: Engine) -> None:
    finished: list[int] = []

    def work(state: dict[str, Any]) -> dict[str, Any]:
        if state["doc"] == 3:
            raise ValueError("bad doc 3")
        time.sleep(0.002)
        finished.append(state["doc"])
        return {"out": [state["doc"]]}

    run = engine.run(map_graph(work, max_parallel=4), {"docs": list(range(10))})
    assert run.status == "failed"
    assert run.error["node"] == "work" and "bad doc 3" in run.error["message"]
    assert sorted(finished) == [d for d in range(10) if d != 3]
    assert "out" not in run.state  # the step did not commit
    statuses = [(e.node, e.status) for e in run.logs]
    assert statuses.count(("work", "completed")) == 9 and ("work", "failed") in statuses


def test_retry_applies_per_copy_with_one_log_entry_per_attempt(engine: Engine) -> None:
    tries: dict[int, int] = {}
    lock = threading.Lock()

    def flaky(state: dict[str, Any]) -> dict[str, Any]:
        with lock:
            tries[state["doc"]] = tries.get(state["doc"], 0) + 1
            if state["doc"] % 2 and tries[state["doc"]] == 1:
                raise ConnectionError("flaky")
        return {"out": [state["doc"]]}

    retry = {"max_attempts": 2, "initial_delay": 0.001, "jitter": False}
    run = engine.run(map_graph(flaky, retry=retry), {"docs": list(range(6))})
    assert run.status == "completed", run.error
    assert run.state["out"] == list(range(6))
    assert tries == {0: 1, 1: 2, 2: 1, 3: 2, 4: 1, 5: 2}
    work = [e for e in run.logs if e.node == "work"]
    assert len(work) == 9 and sum(e.status == "retrying" for e in work) == 3


def test_a_send_to_an_undeclared_node_fails_clearly(engine: Engine) -> None:
    graph = (
        Graph("g")
        .add_node("a", lambda s: [Send("b", {"x": 1})])
        .add_node("b", lambda s: None)
        .set_entry_point("a")
    )
    run = engine.run(graph, {})
    assert (
        run.status == "failed"
        and "sent to Send('b'), which is not among its routes (none declared)"
        in (run.error["message"])
    )


def test_command_goto_can_mix_targets_and_sends(engine: Engine) -> None:
    graph = (
        Graph("g", reducers={"out": "append"})
        .add_node(
            "a",
            lambda s: Command(goto=["z", Send("w", {"i": 1}), Send("w", {"i": 2})]),
            routes=["w", "z"],
        )
        .add_node("w", lambda s: {"out": s["i"]})
        .add_node("z", lambda s: {"z": list(s["out"])})
        .add_edge("z", END)
        .set_entry_point("a")
    )
    run = engine.run(graph, {})
    assert run.status == "completed", run.error
    assert run.state == {"out": [1, 2], "z": [1, 2]}


def test_sends_on_the_event_loop(engine: Engine) -> None:
    async def work(state: dict[str, Any]) -> dict[str, Any]:
        return {"out": [state["doc"] + 1]}

    run = engine.run(map_graph(work, max_parallel=2), {"docs": [1, 2, 3]})
    assert run.status == "completed", run.error
    assert run.state["out"] == [2, 3, 4]


def test_hooks_see_mappings_for_a_command_and_none_for_sends(engine: Engine) -> None:
    seen: list[tuple[str, Any]] = []

    class Recorder:
        from wfengine import hookimpl

        @hookimpl
        def wfengine_node_finished(self, node: str, update: Any) -> None:
            seen.append((node, update))

    engine.register_plugin(Recorder(), name="recorder")
    engine.run(map_graph(slow_double), {"docs": [1]})
    engine.run(router_graph(lambda s: Command(goto="yes", update={"d": 1})), {})
    assert ("split", None) in seen and ("decide", {"d": 1}) in seen


# -- spec map nodes -------------------------------------------------------------------------

SPEC = {
    "name": "summaries",
    "entry": "each",
    "reducers": {"summaries": "extend"},
    "nodes": {
        "each": {"map": {"over": "docs", "as": "doc", "node": "summarise", "max_parallel": 2}},
        "summarise": {"tool": "summarise"},
        "pick": {"tool": "pick", "routes": ["long", "END"]},
        "long": {"tool": "long"},
    },
    "edges": [
        {"from": "each", "to": "pick"},
        {"from": "long", "to": "END"},
    ],
}


@pytest.fixture
def spec_engine(engine: Engine) -> Engine:
    engine.tools.register("summarise", lambda s: {"summaries": [s["doc"][:3]]})
    engine.tools.register(
        "pick", lambda s: Command(goto="long" if len(s.get("summaries", [])) > 2 else END)
    )
    engine.tools.register("long", lambda s: {"long": True})
    return engine


def test_a_spec_map_node_maps_over_a_state_list(spec_engine: Engine) -> None:
    graph = spec_engine.load_spec(SPEC)
    assert graph.validate() == []
    run = spec_engine.run(graph, {"docs": ["alpha", "beta", "gamma"]})
    assert run.status == "completed", run.error
    assert run.state["summaries"] == ["alp", "bet", "gam"] and run.state["long"] is True
    run = spec_engine.run(graph, {"docs": []})
    assert run.status == "completed", run.error
    assert run.state == {"docs": []} and run.visited_nodes == ["each", "pick"]


def test_a_spec_map_round_trips_and_draws(spec_engine: Engine) -> None:
    from wfengine import dump_spec

    graph = spec_engine.load_spec(SPEC)
    dumped = dump_spec(graph)
    assert dumped["nodes"]["each"] == SPEC["nodes"]["each"]
    assert dumped["nodes"]["pick"]["routes"] == ["long", "END"]
    assert dump_spec(spec_engine.load_spec(dumped)) == dumped
    assert '-.->|"map"|' in graph.to_mermaid()


def test_map_over_a_missing_key_fails_saying_which(spec_engine: Engine) -> None:
    run = spec_engine.run(spec_engine.load_spec(SPEC), {})
    assert run.status == "failed" and run.error["node"] == "each"
    assert "the state has no key 'docs'" in run.error["message"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"each": {"map": {"over": "docs", "as": "doc", "node": "nope"}}}, "unknown node 'nope'"),
        ({"each": {"map": {"over": "docs", "node": "summarise"}}}, "'as' must be a state key"),
        (
            {"each": {"map": {"over": "d", "as": "x", "node": "summarise", "max_parallel": 0}}},
            "must be a positive integer",
        ),
        (
            {"each": {"map": {"over": "d", "as": "x", "node": "summarise", "ovr": 1}}},
            "unknown map key 'ovr'",
        ),
        (
            {"each": {"map": {"over": "d", "as": "x", "node": "summarise"}, "tool": "pick"}},
            "a map node has no 'tool'",
        ),
        ({"pick": {"tool": "pick", "routes": ["lng"]}}, "unknown node 'lng'"),
        ({"pick": {"tool": "pick", "routes": "long"}}, "'routes' must be a list"),
    ],
)
def test_bad_map_and_routes_specs_are_clear_errors(
    spec_engine: Engine, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(SpecError, match=message):
        spec_engine.load_spec({**SPEC, "nodes": {**SPEC["nodes"], **change}})


def test_map_over_is_a_callable_returning_sends() -> None:
    sends = MapOver("docs", "doc", "s")({"docs": [1, 2]})
    assert sends == [Send("s", {"doc": 1}), Send("s", {"doc": 2})]
    with pytest.raises(Exception, match="expected a list, got str"):
        MapOver("docs", "doc", "s")({"docs": "abc"})


def test_ten_thousand_copies_use_a_bounded_number_of_threads(engine: Engine) -> None:
    most = [0]

    def work(state: dict[str, Any]) -> dict[str, Any]:
        if state["doc"] % 500 == 0:
            most[0] = max(most[0], threading.active_count())
        return {"out": [state["doc"]]}

    before = threading.active_count()
    run = engine.run(map_graph(work), {"docs": list(range(10_000))})
    assert run.status == "completed", run.error
    assert run.state["out"] == list(range(10_000))
    assert most[0] - before <= 32  # the runner's workers, not one per item
    assert sum(e.node == "work" for e in run.logs) == 10_000


def test_a_command_may_carry_the_nodes_own_state_view(engine: Engine) -> None:
    def decide(state: dict[str, Any]) -> Command:
        state["d"] = 5
        return Command(goto="yes", update=state)

    run = engine.run(router_graph(decide), {})
    assert run.status == "completed", run.error
    assert run.state == {"d": 5, "went": "yes"}


def test_routes_are_part_of_a_python_graphs_version() -> None:
    from wfengine.versions import graph_version

    def same(s: Any) -> None:
        return None

    first = router_graph(same)
    second = router_graph(same)
    second.nodes["decide"].routes = ("yes",)
    assert graph_version(first).version != graph_version(second).version
