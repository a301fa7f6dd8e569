"""Keys that only grow are stored as what each step added (schema version 3), with periodic
full snapshots; older (version 2) files keep working."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
import wfengine.rows
from sqlite_testgraphs import open_engine
from wfengine import END, Graph, RunStatus

from wfengine_sqlite import SQLiteStore, schema


def chat(n: int, *, fail_at: int | None = None) -> Graph:
    """``n`` steps; each appends a ~60-byte message and merges one entry into ``seen``."""
    failed: list[int] = []

    def talk(state: dict[str, Any]) -> dict[str, Any]:
        i = state["i"] + 1
        if i == fail_at and not failed:
            failed.append(i)
            raise RuntimeError("the model timed out")
        return {
            "i": i,
            "messages": {"role": "user", "text": f"message number {i:06d} " + "x" * 20},
            "seen": {f"m{i}": i},
        }

    graph = Graph("chat", reducers={"messages": "append", "seen": "merge"}, max_steps=n + 5)
    graph.add_node("talk", talk)
    graph.add_edge("talk", "talk", condition=lambda s: s["i"] < n)
    graph.add_edge("talk", END, default=True)
    graph.set_entry_point("talk")
    return graph


def expected(step: int) -> dict[str, Any]:
    return {
        "i": step,
        "messages": [
            {"role": "user", "text": f"message number {i:06d} " + "x" * 20}
            for i in range(1, step + 1)
        ],
        "seen": {f"m{i}": i for i in range(1, step + 1)},
    }


def stored_step_bytes(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(
            conn.execute(
                "SELECT sum(length(changes) + coalesce(length(grown), 0)) FROM steps"
            ).fetchone()[0]
        )


def test_an_append_key_stores_what_each_step_added(db_path: Path) -> None:
    engine = open_engine(f"sqlite:///{db_path}")
    run = engine.run(chat(200), {"i": 0, "messages": [], "seen": {}})
    assert run.status == RunStatus.COMPLETED, run.error
    data = len(json.dumps(run.state["messages"])) + len(json.dumps(run.state["seen"]))
    # the whole list at every step would be ~100x the data; what each step added is ~1x
    assert stored_step_bytes(db_path) < 2 * data
    store = engine.store
    assert isinstance(store, SQLiteStore)
    for step in (0, 1, 2, 77, 200):
        assert store.state_at(run.run_id, step) == expected(step)
    history = store.steps(run.run_id)
    assert history[2]["update"] == {"i": 3}
    assert history[2]["added"] == {"messages": expected(3)["messages"][2:], "seen": {"m3": 3}}
    fork = store.fork_run(run.run_id, 50)
    assert fork.state == expected(50) == store.state_at(fork.run_id, 50)
    engine.close()


def test_an_unstorable_appended_item_is_named_where_it_lands(db_path: Path) -> None:
    def two_steps(second: dict[str, Any]) -> Graph:
        graph = Graph("bad", reducers={"messages": "append", "seen": "merge"})
        graph.add_node("one", lambda s: {"messages": "fine", "seen": {"a": 1}})
        graph.add_node("two", lambda s: second)
        return graph.add_edge("one", "two").add_edge("two", END).set_entry_point("one")

    engine = open_engine(f"sqlite:///{db_path}")
    run = engine.run(two_steps({"messages": {"at": object()}}), {"messages": ["first"]})
    assert run.status == RunStatus.FAILED and run.error is not None
    # the list's new items start at index 2: the first of them holds the bad value
    assert run.error["message"].startswith('state["messages"][2:][0]["at"]: cannot store <class')
    assert run.state == {"messages": ["first", "fine"], "seen": {"a": 1}}  # step 2 undone
    again = engine.run(two_steps({"seen": {"b": object()}}), {})
    assert again.error is not None
    assert again.error["message"].startswith('state["seen"]["b"]: cannot store <class')
    engine.close()


def test_a_run_resumes_on_the_rebuilt_values(db_path: Path) -> None:
    url = f"sqlite:///{db_path}"
    first = open_engine(url)
    graph = chat(30, fail_at=12)
    run = first.run(graph, {"i": 0, "messages": [], "seen": {}})
    assert run.status == RunStatus.FAILED and run.step == 11
    first.close()
    second = open_engine(url)
    done = second.resume(run.run_id, graph=graph)
    assert done.status == RunStatus.COMPLETED, done.error
    assert done.state == expected(30)
    loaded = second.get_run(run.run_id)
    assert loaded is not None and loaded.state == expected(30)
    second.close()


def test_a_state_patch_on_resume_is_what_later_steps_grow(db_path: Path) -> None:
    url = f"sqlite:///{db_path}"
    engine = open_engine(url)
    graph = chat(10, fail_at=4)
    run = engine.run(graph, {"i": 0, "messages": [], "seen": {}})
    assert run.step == 3
    engine.resume(run.run_id, graph=graph, state_patch={"messages": [], "seen": {"x": 0}})
    store = engine.store
    assert isinstance(store, SQLiteStore)
    final = store.state_at(run.run_id, 10)
    assert final["messages"] == expected(10)["messages"][3:]
    assert final["seen"] == {"x": 0, **{f"m{i}": i for i in range(4, 11)}}
    engine.close()


def test_a_long_run_takes_snapshots_on_the_way(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wfengine.rows, "SNAPSHOT_EVERY", 10)
    engine = open_engine(f"sqlite:///{db_path}")
    run = engine.run(chat(100), {"i": 0, "messages": [], "seen": {}})
    assert run.status == RunStatus.COMPLETED, run.error
    with sqlite3.connect(db_path) as conn:
        steps = [row[0] for row in conn.execute("SELECT step FROM snapshots ORDER BY step")]
    # the start, the end, and in between whenever the steps since the last snapshot hold
    # SNAPSHOT_RATIO times its bytes: ever further apart as the state grows
    assert steps[0] == 0 and steps[-1] == 100 and len(steps) >= 4
    gaps = [b - a for a, b in zip(steps[1:-1], steps[2:-1], strict=False)]
    assert gaps == sorted(gaps)
    store = engine.store
    assert isinstance(store, SQLiteStore)
    for step in range(0, 101, 7):
        assert store.state_at(run.run_id, step) == expected(step)
    engine.close()


def write_v2_database(path: Path) -> None:
    """A database as wfengine-sqlite wrote it at schema version 2: every step stores the
    whole value of a growing key."""
    conn = sqlite3.connect(path)
    with conn:
        schema.MIGRATIONS[0](conn)
        schema.MIGRATIONS[1](conn)
        conn.execute("PRAGMA user_version = 2")
        conn.execute(
            "INSERT INTO runs (run_id, graph_id, status, created, max_steps, "
            "interrupt_before, graph_version) VALUES ('old', 'chat', 'paused', ?, 50, '[]', NULL)",
            (time.time(),),
        )
        conn.execute(
            "INSERT INTO snapshots (run_pk, step, state, next_nodes, join_progress, visited) "
            "VALUES (1, 0, ?, '[\"talk\"]', NULL, '[]')",
            (json.dumps({"i": 0, "messages": [], "seen": {}}),),
        )
        for step in range(1, 4):
            state = expected(step)
            conn.execute(
                "INSERT INTO steps (run_pk, step, nodes, next_nodes, join_progress, changes, "
                "log_seq, logs) VALUES (1, ?, '[\"talk\"]', '[\"talk\"]', NULL, ?, ?, ?)",
                (
                    step,
                    json.dumps(state),
                    step - 1,
                    json.dumps([["talk", step, 1, time.time(), 0.5, "completed"]]),
                ),
            )
    conn.close()


def test_a_version_2_file_is_migrated_and_its_runs_resume(db_path: Path) -> None:
    write_v2_database(db_path)
    engine = open_engine(f"sqlite:///{db_path}")
    old = engine.get_run("old")
    assert old is not None and old.state == expected(3) and len(old.logs) == 3
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION == 6
    done = engine.resume("old", graph=chat(8))
    assert done.status == RunStatus.COMPLETED, done.error
    store = engine.store
    assert isinstance(store, SQLiteStore)
    for step in range(9):
        assert store.state_at("old", step) == expected(step)
    engine.close()
