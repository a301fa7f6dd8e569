"""Replay of composed runs (issue 17's "replay covers map/Command/answered-interrupt runs"):
a node's Command, a node's sends, a router's sends, a run paused by ``interrupt()`` and
answered, a map step resumed after a failing copy. Each replays as recorded through
``assert_replays``, on the memory store with history and on SQLite, and a changed graph is
reported at the step where it diverges (the ``wf runs export`` / ``wf runs replay`` route:
``test_replay_compose_cli.py``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from wfengine import END, Command, Engine, Graph, Send, interrupt
from wfengine.replay import replay
from wfengine.testing import assert_replays
from wfengine.wfrun import export_run


@pytest.fixture(params=["memory", "sqlite"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    import wfengine_sqlite.plugin

    url = (
        f"sqlite:///{tmp_path / 'runs.db'}" if request.param == "sqlite" else "memory://?history=on"
    )
    made = Engine(plugins=[wfengine_sqlite.plugin], load_entrypoints=False, store=url)
    try:
        yield made
    finally:
        made.close()


def export(engine: Engine, run_id: str, tmp_path: Path) -> Path:
    return export_run(engine.store, run_id, tmp_path / f"{run_id}.wfrun")


def diverged(path: Path, graph: Graph) -> dict[str, Any]:
    result = replay(path, graph)["diverged"]
    assert result is not None, "the changed graph replays as recorded"
    return result


# -- Command ------------------------------------------------------------------------------


def triage(routes: list[str], limit: int = 3) -> Graph:
    def classify(state: dict[str, Any]) -> Command:
        spam = "win money" in state["text"]
        return Command(goto="quarantine" if spam else END, update={"spam": spam})

    return (
        Graph("triage")
        .add_node("classify", classify, routes=routes)
        .add_node("quarantine", lambda s: {"checks": s.get("checks", 0) + 1})
        .add_node("archive", lambda s: {"archived": True})
        .add_edge("classify", "archive")  # replaced by the Command's goto
        .add_edge("quarantine", "quarantine", condition=lambda s: s["checks"] < limit)
        .add_edge("quarantine", END, default=True)
        .set_entry_point("classify")
    )


@pytest.mark.parametrize("lean", ["1", "0"])
def test_a_command_run_replays_by_its_recorded_choice(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lean: str
) -> None:
    monkeypatch.setenv("WFENGINE_LEAN_STEPS", lean)
    graph = triage(["quarantine", END])
    run = engine.run(graph, {"text": "win money now"})
    assert run.visited_nodes == ["classify", "quarantine", "quarantine", "quarantine"]
    assert [e.goto for e in run.logs] == [["quarantine"], None, None, None]
    path = export(engine, run.run_id, tmp_path)
    assert_replays(path, graph)
    ham = engine.run(graph, {"text": "hello"})
    assert ham.visited_nodes == ["classify"] and ham.logs[0].goto == [END]
    assert_replays(export(engine, ham.run_id, tmp_path), graph)


def test_a_command_target_no_longer_declared_is_reported(engine: Engine, tmp_path: Path) -> None:
    run = engine.run(triage(["quarantine", END]), {"text": "win money"})
    path = export(engine, run.run_id, tmp_path)
    found = diverged(path, triage(["archive", END]))
    assert found["step"] == 1 and found["recorded"] == ["quarantine"]
    assert (
        "node 'classify' chose 'quarantine' (Command goto), which is no longer among its "
        in (found["reason"])
    )
    with pytest.raises(AssertionError, match=r"step 1 \(classify\).*no longer among its routes"):
        assert_replays(path, triage(["archive", END]))


def test_a_changed_condition_after_a_command_is_caught_at_its_step(
    engine: Engine, tmp_path: Path
) -> None:
    run = engine.run(triage(["quarantine", END], limit=3), {"text": "win money"})
    path = export(engine, run.run_id, tmp_path)
    found = diverged(path, triage(["quarantine", END], limit=2))
    assert found == {
        "step": 3,
        "nodes": ["quarantine"],
        "recorded": ["quarantine"],
        "routed": [],
        "missing_nodes": [],
        "reason": None,
    }


# -- a node's sends and a spec map --------------------------------------------------------


def summaries(routes: list[str], limit: int = 2) -> Graph:
    return (
        Graph("summaries", reducers={"summaries": "extend"})
        .add_node(
            "fan_out",
            lambda s: [Send("summarise", {"doc": d}) for d in s["docs"]],
            routes=routes,
        )
        .add_node("summarise", lambda s: {"summaries": [s["doc"][:3]]})
        .add_node("short", lambda s: {"short": True})
        .add_node("long", lambda s: {"long": True})
        .add_edge("fan_out", "short", condition=lambda s: len(s["summaries"]) <= limit)
        .add_edge("fan_out", "long", default=True)
        .add_edge("short", END)
        .add_edge("long", END)
        .set_entry_point("fan_out")
    )


def test_a_send_run_replays_and_its_join_is_checked(engine: Engine, tmp_path: Path) -> None:
    run = engine.run(summaries(["summarise"]), {"docs": ["alpha", "beta"]})
    assert run.visited_nodes == ["fan_out", "summarise", "summarise", "short"]
    path = export(engine, run.run_id, tmp_path)
    assert_replays(path, summaries(["summarise"]))
    changed = diverged(path, summaries(["summarise"], limit=1))  # the join's condition
    assert changed["step"] == 1 and changed["routed"] == ["long"]
    assert changed["recorded"] == ["short"] and changed["reason"] is None
    undeclared = diverged(path, summaries(["short"]))  # the fan-out target
    assert undeclared["step"] == 1
    assert (
        "ran copies of 'summarise', which no node of the step (fan_out) declares"
        in (undeclared["reason"])
    )


def test_a_map_step_resumed_after_a_failing_copy_replays(engine: Engine, tmp_path: Path) -> None:
    broken = {"beta": True}
    lock = threading.Lock()
    calls: list[str] = []

    def summarise(state: dict[str, Any]) -> dict[str, Any]:
        with lock:
            calls.append(state["doc"])
        if broken.get(state["doc"]):
            raise RuntimeError("broken doc")
        return {"summaries": [state["doc"][:3]]}

    graph = summaries(["summarise"], limit=5)
    graph.nodes["summarise"].func = summarise
    failed = engine.run(graph, {"docs": ["alpha", "beta", "gamma"]})
    assert failed.status == "failed"
    broken.clear()
    done = engine.resume(failed.run_id, graph=graph)
    assert done.status == "completed" and sorted(calls) == ["alpha", "beta", "beta", "gamma"]
    assert_replays(export(engine, done.run_id, tmp_path), graph)


# -- a router's sends ---------------------------------------------------------------------


def jokes(send_to: str = "joke", targets: tuple[str, ...] = ("joke", "pun")) -> Graph:
    return (
        Graph("jokes", reducers={"jokes": "extend"})
        .add_node("topics", lambda s: None)
        .add_node("joke", lambda s: {"jokes": [f"joke about {s['subject']}"]})
        .add_node("pun", lambda s: {"jokes": [f"pun on {s['subject']}"]})
        .add_node("best", lambda s: {"best": len(s.get("jokes", []))})
        .add_router(
            "topics",
            lambda s: (
                [Send(send_to, {"subject": x}) for x in s["subjects"]] if s["subjects"] else END
            ),
            list(targets),
        )
        .add_edge("joke", "best")
        .add_edge("pun", "best")
        .add_edge("best", END)
        .set_entry_point("topics")
    )


def test_a_router_run_replays_and_a_changed_router_is_caught(
    engine: Engine, tmp_path: Path
) -> None:
    run = engine.run(jokes(), {"subjects": ["cats", "dogs"]})
    assert run.visited_nodes == ["topics", "topics@send", "joke", "joke", "best"]
    path = export(engine, run.run_id, tmp_path)
    assert_replays(path, jokes())
    found = diverged(path, jokes(send_to="pun"))
    assert found["step"] == 2 and found["nodes"] == ["topics@send", "joke", "joke"]
    assert (
        "router <lambda> of node 'topics' now sends to ['pun'], but the run's copies ran "
        in (found["reason"])
    )
    undeclared = diverged(path, jokes(targets=("pun",)))
    assert undeclared["step"] == 1  # the router's sends are checked where it routes
    assert "sent to Send('joke'), which is not among its targets (pun)" in undeclared["reason"]


def test_a_router_run_over_zero_items_replays(engine: Engine, tmp_path: Path) -> None:
    graph = (
        Graph("none", reducers={"jokes": "extend"})
        .add_node("topics", lambda s: None)
        .add_node("joke", lambda s: {"jokes": [s["subject"]]})
        .add_node("best", lambda s: {"best": len(s.get("jokes", []))})
        .add_router("topics", lambda s: [Send("joke", {"subject": x}) for x in s["xs"]], ["joke"])
        .add_edge("joke", "best")
        .add_edge("best", END)
        .set_entry_point("topics")
    )
    run = engine.run(graph, {"xs": []})
    assert run.visited_nodes == ["topics", "topics@send", "best"]
    assert_replays(export(engine, run.run_id, tmp_path), graph)


# -- a question answered ------------------------------------------------------------------


def approval(threshold: int) -> Graph:
    def review(state: dict[str, Any]) -> dict[str, Any]:
        answer = interrupt({"approve": state["amount"]})
        return {"approved": bool(answer)}

    return (
        Graph("approval")
        .add_node("review", review)
        .add_node("pay", lambda s: {"paid": True})
        .add_node("big", lambda s: {"flagged": True})
        .add_edge("review", "pay", condition=lambda s: s["approved"])
        .add_edge("review", END, default=True)
        .add_edge("pay", "big", condition=lambda s: s["amount"] > threshold)
        .add_edge("pay", END, default=True)
        .set_entry_point("review")
    )


def test_a_run_paused_by_interrupt_and_answered_replays(engine: Engine, tmp_path: Path) -> None:
    graph = approval(100)
    paused = engine.run(graph, {"amount": 500})
    assert paused.status == "paused" and paused.questions
    done = engine.resume(paused.run_id, graph=graph, answer=True)
    assert done.status == "completed" and done.visited_nodes == ["review", "pay", "big"]
    path = export(engine, done.run_id, tmp_path)
    assert_replays(path, graph)
    found = diverged(path, approval(1000))
    assert found["step"] == 2 and found["routed"] == [] and found["recorded"] == ["big"]


def test_a_parallel_step_with_a_restored_branch_replays(engine: Engine, tmp_path: Path) -> None:
    """The resumed step logs only the branch that ran again (the other was restored from
    its pending write): replay runs the nodes the step before went to, not the logged ones."""
    broken = {"b": True}

    def b(state: dict[str, Any]) -> dict[str, Any]:
        if broken.get("b"):
            raise RuntimeError("b broke")
        return {"b": True}

    graph = (
        Graph("fan")
        .add_node("start", lambda s: None)
        .add_node("a", lambda s: {"a": True})
        .add_node("b", b)
        .add_node("after", lambda s: {"both": s["a"] and s["b"]})
        .add_edge("start", "a")
        .add_edge("start", "b")
        .add_edge(["a", "b"], "after")
        .add_edge("after", END)
        .set_entry_point("start")
    )
    failed = engine.run(graph, {})
    broken.clear()
    done = engine.resume(failed.run_id, graph=graph)
    assert done.status == "completed" and done.visited_nodes == ["start", "b", "after"]
    assert_replays(export(engine, done.run_id, tmp_path), graph)


def test_commands_and_router_sends_inside_a_subgraph_replay(engine: Engine, tmp_path: Path) -> None:
    parent = (
        Graph("outer", reducers={"jokes": "extend"})
        .add_subgraph("inner", jokes())
        .add_subgraph("check", triage(["quarantine", END]))
        .add_edge("inner", "check")
        .add_edge("check", END)
        .set_entry_point("inner")
    )
    run = engine.run(parent, {"subjects": ["a", "b"], "text": "win money"})
    assert run.status == "completed", run.error
    assert "inner/topics@send" in run.visited_nodes and "check/quarantine" in run.visited_nodes
    goto = [e.goto for e in run.logs if e.node == "check/classify"]
    assert goto == [["check/quarantine"]]
    assert_replays(export(engine, run.run_id, tmp_path), parent)


def test_a_wfrun_with_command_choices_is_format_2_and_imports_them(
    engine: Engine, tmp_path: Path
) -> None:
    from wfengine.storage import MemoryStore
    from wfengine.wfrun import import_run, read_run

    plain = engine.run(summaries(["summarise"]), {"docs": ["alpha"]})
    assert read_run(export(engine, plain.run_id, tmp_path))["meta"]["format_version"] == "1"
    chose = engine.run(triage(["quarantine", END]), {"text": "win money"})
    path = export(engine, chose.run_id, tmp_path)
    data = read_run(path)
    assert data["meta"]["format_version"] == "2"  # older wfengine refuses it clearly
    assert data["logs"][0].goto == ["quarantine"]
    other = MemoryStore("memory://?history=on")
    imported = import_run(other, path)
    assert imported.logs[0].goto == ["quarantine"]
