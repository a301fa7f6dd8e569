"""The per-step checkpoint's less travelled paths: snapshots during a long run, and a commit
whose reply was lost with the connection (the retry finds its own row and goes on)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
import wfengine.rows
from wfengine import END, Engine, Graph, LogEntry, RunStatus, WorkflowRun
from wfengine.errors import StoreError

from wfengine_postgres import PostgresStore


def chat(n: int) -> Graph:
    def talk(state: dict[str, Any]) -> dict[str, Any]:
        i = state["i"] + 1
        return {"i": i, "messages": f"message {i:04d} " + "x" * 40, "seen": {f"m{i}": i}}

    graph = Graph("chat", reducers={"messages": "append", "seen": "merge"}, max_steps=n + 5)
    graph.add_node("talk", talk).set_entry_point("talk")
    graph.add_edge("talk", "talk", condition=lambda s: s["i"] < n).add_edge(
        "talk", END, default=True
    )
    return graph


def expected(step: int) -> dict[str, Any]:
    return {
        "i": step,
        "messages": [f"message {i:04d} " + "x" * 40 for i in range(1, step + 1)],
        "seen": {f"m{i}": i for i in range(1, step + 1)},
    }


def test_a_long_run_takes_snapshots_on_the_way(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wfengine.rows, "SNAPSHOT_EVERY", 10)
    with Engine(load_entrypoints=False, store=PostgresStore(postgres_url)) as engine:
        run = engine.run(chat(120), {"i": 0, "messages": [], "seen": {}})
        assert run.status == RunStatus.COMPLETED, run.error
    with psycopg.connect(postgres_url) as conn:
        row = conn.execute("SELECT count(*), max(step) FROM snapshots").fetchone()
    assert row is not None and 3 <= row[0] <= 13 and row[1] == 120  # start, some, the end
    with PostgresStore(postgres_url) as store:
        for step in (0, 1, 9, 10, 11, 57, 119, 120):
            assert store.state_at(run.run_id, step) == expected(step)
        fork = store.fork_run(run.run_id, 64)
        assert fork.state == expected(64) == store.state_at(fork.run_id, 64)


def step_of(run: WorkflowRun, update: dict[str, Any]) -> list[LogEntry]:
    run.state.update(update)
    run.step += 1
    run.visited_nodes.append("a")
    entry = LogEntry("a", run.step, 1, time.time(), 0.5, "completed")
    run.logs.append(entry)
    return [entry]


@contextmanager
def reply_lost(store: PostgresStore, *, before: bool = False) -> Iterator[None]:
    """The next pooled operation commits, then its connection breaks before the reply
    (``before``: the connection breaks before the statement is sent)."""
    real = store._pool.connection
    calls = {"n": 0}

    @contextmanager
    def connection(*args: Any, **kwargs: Any) -> Iterator[Any]:
        calls["n"] += 1
        if before and calls["n"] == 1:
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        with real(*args, **kwargs) as conn:
            yield conn
            if not before and calls["n"] == 1:
                raise psycopg.OperationalError("server closed the connection unexpectedly")

    store._pool.connection = connection  # type: ignore[method-assign]
    try:
        yield
    finally:
        store._pool.connection = real  # type: ignore[method-assign]


def test_a_checkpoint_whose_reply_was_lost_is_not_stored_twice(store: PostgresStore) -> None:
    run = WorkflowRun(graph_id="g", state={"i": 0}, next_nodes=["a"])
    store.save_run(run)
    with reply_lost(store):
        store.save_step(run, {"i": 1}, step_of(run, {"i": 1}))
    store.save_step(run, {"i": 2}, step_of(run, {"i": 2}))
    back = store.get_run(run.run_id)
    assert back is not None and back.step == 2 and back.state == {"i": 2}
    assert [e.step for e in back.logs] == [1, 2]


def test_a_lost_reply_does_not_hide_another_writer(store: PostgresStore) -> None:
    run = WorkflowRun(graph_id="g", state={"i": 0}, next_nodes=["a"])
    store.save_run(run)
    store.save_step(run, {"i": 1}, step_of(run, {"i": 1}))  # "another process" stored step 1
    run.step -= 1
    with (
        reply_lost(store, before=True),
        pytest.raises(StoreError, match="that step is already stored"),
    ):
        store.save_step(run, {"i": 99}, step_of(run, {"i": 99}))
