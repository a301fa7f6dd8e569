"""The full event sequence of runs with a fan-out, a retry and a failure, read back from a file."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from wfengine import END, Engine, Graph

from wfengine_jsonlog import JsonLogPlugin

Reader = Callable[[Path], list[dict[str, Any]]]
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
COMMON = ("ts", "level", "event", "run_id", "graph_id")


def summary(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """(event, node, step, attempt, level, status) of each line, for whole-sequence checks."""
    return [
        (e["event"], e.get("node"), e["step"], e.get("attempt"), e["level"], e["status"])
        for e in events
    ]


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "logs" / "nested" / "events.jsonl"


@pytest.fixture
def engine(log_path: Path) -> Engine:
    return Engine(plugins=[JsonLogPlugin(log_path)], load_entrypoints=False, store="memory://")


@pytest.fixture(autouse=True)
def _no_hook_failures(caplog: pytest.LogCaptureFixture) -> Any:
    """The engine logs a warning when a hook raises: the plugin must never raise."""
    with caplog.at_level(logging.WARNING, logger="wfengine"):
        yield
    failures = [r for r in caplog.records if "failed in hook" in r.getMessage()]
    assert not failures, [r.getMessage() for r in failures]


def check_common(events: list[dict[str, Any]], run_id: str, graph_id: str, t0: float) -> None:
    for event in events:
        for field in COMMON:
            assert field in event, (field, event)
        assert event["run_id"] == run_id
        assert event["graph_id"] == graph_id
        assert TS.match(event["ts"]), event["ts"]
        when = datetime.strptime(event["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        assert t0 - 1 <= when.timestamp() <= time.time() + 1
        if event["event"] in ("node_finished", "node_failed", "run_finished"):
            assert isinstance(event["duration_ms"], float) and event["duration_ms"] >= 0


def test_fanout_run_logs_every_event_in_order(
    engine: Engine, fanout: Graph, log_path: Path, read_log: Reader
) -> None:
    t0 = time.time()
    run = engine.run(fanout, {})
    assert run.status.value == "completed"
    events = read_log(log_path)
    check_common(events, run.run_id, "fanout", t0)
    rows = summary(events)
    assert rows[:3] == [
        ("run_started", None, 0, None, "info", "running"),
        ("node_started", "start", 1, 1, "info", "running"),
        ("node_finished", "start", 1, 1, "info", "completed"),
    ]
    # the two branches of step 2 run in parallel: any interleaving, but each starts first
    branch = rows[3:7]
    assert sorted(branch) == sorted(
        [
            ("node_started", "left", 2, 1, "info", "running"),
            ("node_finished", "left", 2, 1, "info", "completed"),
            ("node_started", "right", 2, 1, "info", "running"),
            ("node_finished", "right", 2, 1, "info", "completed"),
        ]
    )
    for node in ("left", "right"):
        assert branch.index(("node_started", node, 2, 1, "info", "running")) < branch.index(
            ("node_finished", node, 2, 1, "info", "completed")
        )
    assert rows[7:] == [
        ("node_started", "join", 3, 1, "info", "running"),
        ("node_finished", "join", 3, 1, "info", "completed"),
        ("run_finished", None, 3, None, "info", "completed"),
    ]
    fields = {e["event"]: sorted(e) for e in events}
    assert fields == {
        "run_started": sorted([*COMMON, "step", "status"]),
        "node_started": sorted([*COMMON, "node", "step", "attempt", "status"]),
        "node_finished": sorted(
            [*COMMON, "node", "step", "attempt", "status", "duration_ms", "keys"]
        ),
        "run_finished": sorted([*COMMON, "step", "status", "duration_ms"]),
    }
    keys = {e["node"]: e["keys"] for e in events if e["event"] == "node_finished"}
    # join returns the whole state plus "total": only the changed key is listed
    assert keys == {"start": ["n"], "left": ["left"], "right": ["right"], "join": ["total"]}
    assert not any("values" in e or "error" in e for e in events)


def test_retry_logs_a_warning_then_the_second_attempt(
    engine: Engine, retrying: Graph, log_path: Path, read_log: Reader
) -> None:
    t0 = time.time()
    run = engine.run(retrying, {})
    assert run.status.value == "completed"
    events = read_log(log_path)
    check_common(events, run.run_id, "retry", t0)
    assert summary(events) == [
        ("run_started", None, 0, None, "info", "running"),
        ("node_started", "prepare", 1, 1, "info", "running"),
        ("node_finished", "prepare", 1, 1, "info", "completed"),
        ("node_started", "flaky", 2, 1, "info", "running"),
        ("node_failed", "flaky", 2, 1, "warning", "retrying"),
        ("node_started", "flaky", 2, 2, "info", "running"),
        ("node_finished", "flaky", 2, 2, "info", "completed"),
        ("run_finished", None, 2, None, "info", "completed"),
    ]
    failed = events[4]
    assert failed["will_retry"] is True
    assert failed["error"]["type"] == "ConnectionError"
    assert failed["error"]["message"] == "transient outage"
    assert "Traceback" in failed["error"]["traceback"]
    assert "in flaky" in failed["error"]["traceback"]
    assert events[6]["keys"] == ["fetched"]


def test_failure_logs_errors_for_the_node_and_the_run(
    engine: Engine, failing: Graph, log_path: Path, read_log: Reader
) -> None:
    t0 = time.time()
    run = engine.run(failing, {})
    assert run.status.value == "failed"
    events = read_log(log_path)
    check_common(events, run.run_id, "failing", t0)
    assert summary(events) == [
        ("run_started", None, 0, None, "info", "running"),
        ("node_started", "ok", 1, 1, "info", "running"),
        ("node_finished", "ok", 1, 1, "info", "completed"),
        ("node_started", "boom", 2, 1, "info", "running"),
        ("node_failed", "boom", 2, 1, "error", "failed"),
        ("run_finished", None, 1, None, "error", "failed"),
    ]
    node_error, run_error = events[4]["error"], events[5]["error"]
    assert events[4]["will_retry"] is False
    for error in (node_error, run_error):
        assert error["type"] == "RuntimeError"
        assert error["message"] == "the boom node exploded"
        assert "raise RuntimeError" in error["traceback"]


def test_lines_are_appended_across_runs(
    engine: Engine, failing: Graph, fanout: Graph, log_path: Path, read_log: Reader
) -> None:
    first = engine.run(fanout, {})
    second = engine.run(failing, {})
    events = read_log(log_path)
    assert [e["run_id"] for e in events if e["event"] == "run_finished"] == [
        first.run_id,
        second.run_id,
    ]
    assert len(events) == 10 + 6


def test_paused_run_is_info_and_cancelled_run_a_warning(
    engine: Engine, log_path: Path, read_log: Reader
) -> None:
    graph = (
        Graph("pausing")
        .add_node("a", lambda s: {"x": 1})
        .add_node("review", lambda s: None)
        .add_edge("a", "review")
        .add_edge("review", END)
        .set_entry_point("a")
    )
    paused = engine.run(graph, {}, interrupt_before=["review"])
    assert paused.status.value == "paused"
    gate = threading.Event()
    held = (
        Graph("held")
        .add_node("wait", lambda s: {"opened": gate.wait(10)})
        .add_node("after", lambda s: None)
        .add_edge("wait", "after")
        .add_edge("after", END)
        .set_entry_point("wait")
    )
    for event in engine.stream(held, {}):
        if event.type.value == "run_started":
            engine.cancel(event.run_id)  # stops the run before its next step
            gate.set()
    finished = [
        (e["status"], e["level"]) for e in read_log(log_path) if e["event"] == "run_finished"
    ]
    assert finished == [("paused", "info"), ("cancelled", "warning")]


def test_resumed_run_logs_from_the_failed_step(
    engine: Engine, log_path: Path, read_log: Reader
) -> None:
    flag = {"fail": True}

    def fragile(state: dict[str, Any]) -> dict[str, Any]:
        if flag["fail"]:
            raise ValueError("not yet")
        return {"done": True}

    graph = (
        Graph("fragile")
        .add_node("a", lambda s: {"x": 1})
        .add_node("b", fragile)
        .add_edge("a", "b")
        .add_edge("b", END)
        .set_entry_point("a")
    )
    engine.workflows.register("fragile", graph)
    run = engine.run("fragile", {})
    assert run.status.value == "failed"
    flag["fail"] = False
    engine.resume(run.run_id)
    rows = summary(read_log(log_path))
    assert rows[-4:] == [
        ("run_started", None, 1, None, "info", "running"),
        ("node_started", "b", 2, 1, "info", "running"),
        ("node_finished", "b", 2, 1, "info", "completed"),
        ("run_finished", None, 2, None, "info", "completed"),
    ]


def test_async_run_is_logged_like_a_sync_one(
    engine: Engine, log_path: Path, read_log: Reader
) -> None:
    async def fetch(state: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"fetched": 1}

    graph = Graph("async").add_node("fetch", fetch).add_edge("fetch", END)
    graph.set_entry_point("fetch")
    run = asyncio.run(engine.arun(graph, {}))
    assert run.status.value == "completed"
    assert [e["event"] for e in read_log(log_path)] == [
        "run_started",
        "node_started",
        "node_finished",
        "run_finished",
    ]


def test_entry_point_instance_follows_the_environment(
    env_engine: Engine,
    fanout: Graph,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    read_log: Reader,
) -> None:
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    monkeypatch.setenv("WFENGINE_JSONLOG", str(first))
    env_engine.run(fanout, {})
    monkeypatch.setenv("WFENGINE_JSONLOG", str(second))  # re-read at the next run
    env_engine.run(fanout, {})
    monkeypatch.delenv("WFENGINE_JSONLOG")
    env_engine.run(fanout, {})
    assert len(read_log(first)) == 10
    assert len(read_log(second)) == 10
    assert len({e["run_id"] for e in read_log(first) + read_log(second)}) == 2
