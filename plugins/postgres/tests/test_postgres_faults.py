"""The server goes away during a run: restarted, the store reconnects and the run goes on;
gone for longer than the URL's timeout, the run's attempt fails with a StoreError and a
resume (by another engine, once the server is back) continues from the last checkpoint.

These tests restart the session's private cluster (``postgres_server``): they need it, not
just a URL."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from wfengine import END, Engine, Graph, RunStatus
from wfengine.errors import StoreError

from wfengine_postgres import PostgresStore
from wfengine_postgres.testing import PostgresServer


def counting(n: int, at: int, fault: Callable[[], None], calls: Counter[int]) -> Graph:
    """``n`` steps; the step that makes ``i == at`` calls ``fault()`` first (once)."""
    done: list[int] = []

    def tick(state: dict[str, Any]) -> dict[str, Any]:
        i = state["i"] + 1
        calls[i] += 1
        if i == at and not done:
            done.append(i)
            fault()
        return {"i": i, "seen": i}

    graph = Graph("faults", reducers={"seen": "append"}, max_steps=n + 5)
    graph.add_node("tick", tick).set_entry_point("tick")
    graph.add_edge("tick", "tick", condition=lambda s: s["i"] < n).add_edge(
        "tick", END, default=True
    )
    return graph


@pytest.fixture
def server_url(postgres_server: PostgresServer) -> str:
    """A fresh database on the private cluster (the one these tests restart)."""
    return postgres_server.create_database()


def test_a_restarted_server_is_reconnected_and_the_run_goes_on(
    postgres_server: PostgresServer, server_url: str
) -> None:
    calls: Counter[int] = Counter()
    graph = counting(10, 5, postgres_server.restart, calls)
    with Engine(load_entrypoints=False, store=PostgresStore(server_url)) as engine:
        run = engine.run(graph, {"i": 0, "seen": []})
        assert run.status == RunStatus.COMPLETED, run.error
    with PostgresStore(server_url) as reader:
        stored = reader.get_run(run.run_id)
        assert stored is not None and stored.status == RunStatus.COMPLETED
        assert stored.state == {"i": 10, "seen": list(range(1, 11))}
        assert [s["step"] for s in reader.steps(run.run_id)] == list(range(1, 11))
    assert set(calls.values()) == {1}, "no step ran twice"


def test_a_server_gone_too_long_fails_the_attempt_and_a_resume_continues(
    postgres_server: PostgresServer, server_url: str
) -> None:
    calls: Counter[int] = Counter()
    graph = counting(10, 6, postgres_server.stop, calls)
    try:
        with Engine(
            load_entrypoints=False, store=PostgresStore(server_url + "?timeout=1")
        ) as engine:
            try:
                run = engine.run(graph, {"i": 0, "seen": []})
            except StoreError as exc:  # the failed run could not be saved either
                message = str(exc)
            else:
                assert run.status == RunStatus.FAILED
                message = run.error["message"]
            assert "could not checkpoint step 6" in message
            assert "within 1 s; check that the server is running" in message
    finally:
        postgres_server.start()
    with PostgresStore(server_url) as store:
        (stored,), _ = store.list_runs()
        assert stored.step == 5 and stored.state == {"i": 5, "seen": [1, 2, 3, 4, 5]}
        with Engine(load_entrypoints=False, store=store) as other:
            done = other.resume(stored.run_id, graph=graph)
    assert done.status == RunStatus.COMPLETED, done.error
    assert done.state == {"i": 10, "seen": list(range(1, 11))}
    assert calls == {**{i: 1 for i in range(1, 11)}, 6: 2}, "only the uncommitted step again"


def test_a_listener_listens_again_after_a_restart(
    postgres_server: PostgresServer, server_url: str
) -> None:
    with PostgresStore(server_url) as worker, PostgresStore(server_url) as server:
        server.listen_events(0.01)
        postgres_server.restart()
        deadline = time.monotonic() + 10
        got: list[dict[str, Any]] = []
        while not got and time.monotonic() < deadline:
            got = server.listen_events(0.2)  # notices the lost connection, then listens again
            worker.publish_event({"run_id": "r", "type": "step", "step": 1})
        assert got == [{"run_id": "r", "type": "step", "step": 1}]
