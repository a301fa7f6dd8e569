"""Composition over the SQLite store: pending writes (finished branches and map copies kept
across a failure or a SIGKILL), and a crash inside a subgraph resuming inside it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from wfengine import END, Engine, Graph, Send
from wfengine.storage import PendingWritesStore

from wfengine_sqlite import SQLiteStore

HELPER = Path(__file__).with_name("compose_testgraphs.py")


def child(*args: object, expect: int = 0) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HELPER.parent), *sys.path])}
    done = subprocess.run(
        [sys.executable, str(HELPER), *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == expect, (done.returncode, done.stdout, done.stderr)
    return done.stdout


def lines(effects: Path) -> Counter[str]:
    return Counter(effects.read_text().splitlines())


def test_the_sqlite_store_keeps_pending_writes(store: SQLiteStore, engine: Engine) -> None:
    assert isinstance(store, PendingWritesStore)
    run = engine.run(Graph("g").add_node("a", lambda s: None).set_entry_point("a"), {})
    assert store.get_pending_writes(run.run_id, 1) == {}  # no table yet: none
    store.save_pending_writes(run.run_id, 2, {"a": {"x": {1, 2}}})
    store.save_pending_writes(run.run_id, 2, {"a": {"x": {3}}})  # replaced
    store.save_pending_writes(run.run_id, 3, {"b": None})
    assert store.get_pending_writes(run.run_id, 2) == {"a": {"x": {3}}}
    assert store.get_pending_writes(run.run_id, 3) == {"b": None}
    assert store.delete_run(run.run_id)


def test_a_sibling_that_finished_is_not_run_again_on_resume(engine: Engine) -> None:
    calls: Counter[str] = Counter()
    lock = threading.Lock()
    fail = {"b": True}

    def branch(name: str) -> Any:
        def node(state: dict[str, Any]) -> dict[str, Any]:
            with lock:
                calls[name] += 1
            if fail.get(name):
                raise RuntimeError("broke")
            return {name: 1}

        return node

    graph = (
        Graph("fan")
        .add_node("start", lambda s: None)
        .add_node("a", branch("a"))
        .add_node("b", branch("b"))
        .add_edge("start", "a")
        .add_edge("start", "b")
        .add_edge("a", END)
        .add_edge("b", END)
        .set_entry_point("start")
    )
    run = engine.run(graph, {})
    assert run.status == "failed"
    fail["b"] = False
    resumed = engine.resume(run.run_id, graph=graph)
    assert resumed.status == "completed", resumed.error
    assert resumed.state == {"a": 1, "b": 1} and calls == {"a": 1, "b": 2}
    reread = engine.get_run(run.run_id)
    assert reread.state == {"a": 1, "b": 1}


def test_a_map_copy_failing_keeps_the_finished_copies(engine: Engine) -> None:
    seen: Counter[int] = Counter()
    broken = {3}

    def work(state: dict[str, Any]) -> dict[str, Any]:
        seen[state["doc"]] += 1
        if state["doc"] in broken:
            raise ValueError("bad")
        return {"out": [state["doc"]]}

    graph = (
        Graph("map", reducers={"out": "extend"})
        .add_node(
            "split",
            lambda s: [Send("work", {"doc": d}) for d in s["docs"]],
            routes=["work"],
            max_parallel=2,
        )
        .add_node("work", work)
        .add_edge("split", END)
        .set_entry_point("split")
    )
    run = engine.run(graph, {"docs": list(range(8))})
    assert run.status == "failed"
    broken.clear()
    resumed = engine.resume(run.run_id, graph=graph)
    assert resumed.status == "completed", resumed.error
    assert resumed.state["out"] == list(range(8))
    assert seen == Counter({**{d: 1 for d in range(8)}, 3: 2})
    assert engine.get_run(run.run_id).state["out"] == list(range(8))


def test_killed_inside_a_subgraph_resumes_inside_it(tmp_path: Path, db_url: str) -> None:
    effects = tmp_path / "effects.txt"
    child("subgraph", db_url, effects, expect=-signal.SIGKILL)
    store = SQLiteStore(db_url)
    try:
        (run,), _ = store.list_runs()
        assert run.status == "running" and run.next_nodes == ["review/s2"]
        assert run.visited_nodes == ["load", "review/s1"]
    finally:
        store.close()
    assert child("subgraph", db_url, effects, run.run_id).strip() == "completed"
    assert lines(effects) == Counter(
        {"load": 1, "review/s1": 1, "review/s2": 2, "review/s3": 1, "done": 1}
    )


def test_killed_inside_a_map_keeps_the_finished_copies(tmp_path: Path, db_url: str) -> None:
    effects = tmp_path / "effects.txt"
    child("map", db_url, effects, expect=-signal.SIGKILL)
    store = SQLiteStore(db_url)
    try:
        (run,), _ = store.list_runs()
        assert run.status == "running" and run.step == 0
    finally:
        store.close()
    assert child("map", db_url, effects, run.run_id).strip() == "completed"
    ran = lines(effects)
    # copies 0-4 were kept before the kill; 5 ran twice (killed once); split reruns (it
    # is a single-node call: cheap, and it recomputes the same sends)
    assert ran == Counter({**{f"work {d}": 1 for d in range(10)}, "work 5": 2, "after": 1})
    store = SQLiteStore(db_url)
    try:
        final = store.get_run(run.run_id)
        assert final.state["out"] == [d * 10 for d in range(10)]
    finally:
        store.close()
