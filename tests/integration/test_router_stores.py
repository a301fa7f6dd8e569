"""Routers over the memory and SQLite stores: copies, the join over zero items, and resume
after a failing copy (finished copies are not run again)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from wfengine import END, Engine, Graph, Send


def jokes_graph(joke: Any = None) -> Graph:
    """The LangGraph map-reduce: topics -> (router) N x joke -> best."""
    return (
        Graph("jokes", reducers={"jokes": "extend"})
        .add_node("topics", lambda s: {"subjects": [x.upper() for x in s["subjects"]]})
        .add_node("joke", joke or (lambda s: {"jokes": [f"joke about {s['subject']}"]}))
        .add_node("best", lambda s: {"best": len(s.get("jokes", []))})
        .add_router(
            "topics", lambda s: [Send("joke", {"subject": x}) for x in s["subjects"]], ["joke"]
        )
        .add_edge("joke", "best")
        .add_edge("best", END)
        .set_entry_point("topics")
    )


@pytest.fixture(params=["memory", "sqlite"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'runs.db'}"
    return "memory://"


@pytest.fixture
def any_engine(store_url: str) -> Iterator[Engine]:
    import wfengine_sqlite.plugin

    engine = Engine(plugins=[wfengine_sqlite.plugin], load_entrypoints=False, store=store_url)
    try:
        yield engine
    finally:
        engine.close()


@pytest.mark.parametrize("lean", ["1", "0"])
def test_router_sends_run_as_copies_in_the_next_step_then_the_join(
    any_engine: Engine, monkeypatch: pytest.MonkeyPatch, lean: str
) -> None:
    monkeypatch.setenv("WFENGINE_LEAN_STEPS", lean)
    run = any_engine.run(jokes_graph(), {"subjects": ["cats", "dogs", "eels"]})
    assert run.status == "completed", run.error
    assert run.state["jokes"] == ["joke about CATS", "joke about DOGS", "joke about EELS"]
    assert run.state["best"] == 3
    # step 1: topics; step 2: the dispatch node and its copies; step 3: the join, once
    assert run.visited_nodes == ["topics", "topics@send", "joke", "joke", "joke", "best"]
    assert run.step == 3
    assert [e.step for e in run.logs if e.node == "joke"] == [2, 2, 2]
    assert "subject" not in run.state  # a copy's item is its own


def test_a_router_returning_no_sends_still_fires_the_join(any_engine: Engine) -> None:
    run = any_engine.run(jokes_graph(), {"subjects": []})
    assert run.status == "completed", run.error
    assert run.visited_nodes == ["topics", "topics@send", "best"]
    assert run.state == {"subjects": [], "best": 0}


def test_resume_after_a_failing_copy_runs_only_the_copies_that_did_not_finish(
    any_engine: Engine,
) -> None:
    calls: Counter[str] = Counter()
    lock = threading.Lock()
    broken = {"C": True}

    def joke(state: dict[str, Any]) -> dict[str, Any]:
        with lock:
            calls[state["subject"]] += 1
        if broken.get(state["subject"]):
            raise RuntimeError(f"no joke about {state['subject']}")
        return {"jokes": [state["subject"]]}

    graph = jokes_graph(joke)
    failed = any_engine.run(graph, {"subjects": ["a", "b", "c", "d"]})
    assert failed.status == "failed" and failed.error["node"] == "joke"
    assert "no joke about C" in failed.error["message"]
    assert calls == {"A": 1, "B": 1, "C": 1, "D": 1}
    broken.clear()
    done = any_engine.resume(failed.run_id, graph=graph)
    assert done.status == "completed", done.error
    assert calls == {"A": 1, "B": 1, "C": 2, "D": 1}  # the finished copies were kept
    assert done.state["jokes"] == ["A", "B", "C", "D"] and done.state["best"] == 4
