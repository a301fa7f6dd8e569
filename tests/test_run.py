"""Runs, their logs and events, ``stream()``, and the memory store (issue 2, "WorkflowRun")."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from wfengine import (
    END,
    Event,
    EventType,
    Graph,
    GraphStore,
    LogEntry,
    MemoryStore,
    RunStatus,
    RunStore,
    WorkflowExecutor,
    WorkflowRun,
)

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def seed_graph(name: str = "seed") -> Graph:
    return (
        Graph(name)
        .add_node("A", lambda s: {"value": s["value"] * 2})
        .add_node("B", lambda s: {"value": s["value"] + 5})
        .add_edge("A", "B")
        .add_edge("B", END)
        .set_entry_point("A")
    )


def failing_graph() -> Graph:
    def boom(state: dict[str, Any]) -> None:
        raise ValueError("boom")

    return (
        Graph("failing")
        .add_node("A", lambda s: {"value": 1})
        .add_node("boom", boom, retry={"max_attempts": 2, "initial_delay": 0})
        .add_edge("A", "boom")
        .add_edge("boom", END)
        .set_entry_point("A")
    )


# -- the run record ---------------------------------------------------------------------------


def test_run_fields() -> None:
    before = time.time()
    run = WorkflowExecutor(seed_graph()).run({"value": 10})
    assert re.fullmatch(r"[0-9a-f]{32}", run.run_id)
    assert uuid.UUID(run.run_id).version == 4
    assert run.graph_id == "seed"
    assert run.status == RunStatus.COMPLETED and run.status == "completed"
    assert run.status.is_final and not RunStatus.PAUSED.is_final
    assert before - 1 <= run.created <= time.time()
    assert run.finished is not None and run.finished >= run.created
    assert ISO_UTC.match(run.created_at)
    assert run.finished_at is not None and ISO_UTC.match(run.finished_at)


def test_graph_id_can_be_given() -> None:
    run = WorkflowExecutor(seed_graph(), graph_id="g-123").run({"value": 1})
    assert run.graph_id == "g-123"


def test_log_entries_have_node_step_attempt_start_duration_status_error() -> None:
    before = datetime.now(UTC)
    run = WorkflowExecutor(failing_graph()).run({})
    after = datetime.now(UTC)
    entries = run.logs
    assert [(e.node, e.step, e.attempt, e.status) for e in entries] == [
        ("A", 1, 1, "completed"),
        ("boom", 2, 1, "retrying"),
        ("boom", 2, 2, "failed"),
    ]
    for entry in entries:
        assert isinstance(entry, LogEntry)
        assert ISO_UTC.match(entry.started_at)
        started = datetime.fromisoformat(entry.started_at.replace("Z", "+00:00"))
        assert before.timestamp() - 0.01 <= started.timestamp() <= after.timestamp() + 0.01
        assert entry.duration_ms >= 0
    assert entries[0].started <= entries[1].started <= entries[2].started
    assert entries[0].error is None
    assert entries[2].error is not None
    assert set(entries[2].error) >= {"type", "message", "traceback"}
    assert entries[2].state_before == {"value": 1}


def test_log_duration_measures_the_node() -> None:
    def nap(state: dict[str, Any]) -> None:
        time.sleep(0.03)

    graph = Graph("nap").add_node("nap", nap).add_edge("nap", END).set_entry_point("nap")
    run = WorkflowExecutor(graph).run({})
    assert 25 <= run.logs[0].duration_ms < 2000


def test_to_dict_is_json_serialisable() -> None:
    run = WorkflowExecutor(failing_graph()).run({})
    data = json.loads(json.dumps(run.to_dict()))
    assert data["run_id"] == run.run_id
    assert data["graph_id"] == "failing"
    assert data["status"] == "failed"
    assert data["state"] == {"value": 1}
    assert data["visited_nodes"] == ["A"]
    assert data["error"]["type"] == "ValueError" and data["error"]["node"] == "boom"
    assert data["error"]["step"] == 2 and "Traceback" in data["error"]["traceback"]
    assert ISO_UTC.match(data["created_at"]) and ISO_UTC.match(data["finished_at"])
    assert [e["status"] for e in data["logs"]] == ["completed", "retrying", "failed"]
    assert data["logs"][2]["state_before"] == {"value": 1}
    assert "state_before" not in data["logs"][0]
    assert set(data["logs"][0]) == {
        "node", "step", "attempt", "started_at", "duration_ms", "status", "error",
    }  # fmt: skip
    assert "logs" not in run.to_dict(logs=False)


def test_from_dict_round_trips() -> None:
    run = WorkflowExecutor(failing_graph()).run({})
    data = run.to_dict()
    copy = WorkflowRun.from_dict(json.loads(json.dumps(data)))
    assert copy.to_dict() == data
    assert copy.run_id == run.run_id
    assert copy.status is RunStatus.FAILED
    assert copy.error == run.error
    assert copy.created == pytest.approx(run.created, abs=1e-5)
    assert copy.logs[2].state_before == {"value": 1}
    assert [e.started_at for e in copy.logs] == [e.started_at for e in run.logs]


def test_from_dict_round_trips_a_paused_run_mid_join() -> None:
    graph = (
        Graph("j")
        .add_node("s", lambda s: None)
        .add_node("a", lambda s: {"a": 1})
        .add_node("b1", lambda s: None)
        .add_node("b2", lambda s: {"b": 2})
        .add_node("c", lambda s: {"c": s["a"] + s["b"]})
        .add_edge("s", "a")
        .add_edge("s", "b1")
        .add_edge("b1", "b2")
        .add_edge(["a", "b2"], "c")
        .add_edge("c", END)
        .set_entry_point("s")
    )
    executor = WorkflowExecutor(graph)
    run = executor.run({}, interrupt_before=["b2"])
    assert run.status == RunStatus.PAUSED
    assert run.join_progress == {"3": ["a"]}
    copy = WorkflowRun.from_dict(json.loads(json.dumps(run.to_dict())))
    assert copy.to_dict() == run.to_dict()
    executor.resume(copy)
    assert copy.status == RunStatus.COMPLETED
    assert copy.state["c"] == 3


def test_status_values() -> None:
    assert [s.value for s in RunStatus] == [
        "pending", "queued", "running", "paused", "completed", "failed", "cancelled",
    ]  # fmt: skip
    assert WorkflowExecutor(seed_graph()).new_run({"value": 1}).status == RunStatus.PENDING


# -- stream ------------------------------------------------------------------------------------


def test_stream_yields_events_in_order() -> None:
    events = list(WorkflowExecutor(seed_graph()).stream({"value": 10}))
    assert all(isinstance(e, Event) for e in events)
    assert [(e.type, e.node, e.step) for e in events] == [
        (EventType.RUN_STARTED, None, 0),
        (EventType.NODE_STARTED, "A", 1),
        (EventType.NODE_FINISHED, "A", 1),
        (EventType.STEP_FINISHED, None, 1),
        (EventType.NODE_STARTED, "B", 2),
        (EventType.NODE_FINISHED, "B", 2),
        (EventType.STEP_FINISHED, None, 2),
        (EventType.RUN_FINISHED, None, 2),
    ]
    assert events[1].state == {"value": 10}
    assert events[1].data["attempt"] == 1
    assert events[5].data["update"] == {"value": 25}
    assert events[6].data == {"update": {"value": 25}, "next_nodes": []}
    assert events[-1].data == {"status": "completed", "error": None}
    assert [e.ts for e in events] == sorted(e.ts for e in events)
    for event in events:
        data = json.loads(json.dumps(event.to_dict()))
        assert data["type"] == event.type.value and data["run_id"] == event.run_id


def test_stream_delivers_node_started_before_a_slow_node_finishes() -> None:
    release = threading.Event()

    def slow(state: dict[str, Any]) -> dict[str, Any]:
        if not release.wait(5):
            raise TimeoutError("the test never saw node_started")
        return {"done": True}

    graph = Graph("slow").add_node("slow", slow).add_edge("slow", END).set_entry_point("slow")
    seen: list[EventType] = []
    for event in WorkflowExecutor(graph).stream({}):
        seen.append(event.type)
        if event.type == EventType.NODE_STARTED:
            release.set()
    assert seen == [
        EventType.RUN_STARTED,
        EventType.NODE_STARTED,
        EventType.NODE_FINISHED,
        EventType.STEP_FINISHED,
        EventType.RUN_FINISHED,
    ]


def test_stream_reports_failures_and_retries() -> None:
    events = list(WorkflowExecutor(failing_graph()).stream({}))
    failed = [e for e in events if e.type == EventType.NODE_FAILED]
    assert [(e.node, e.data["attempt"], e.data["will_retry"]) for e in failed] == [
        ("boom", 1, True),
        ("boom", 2, False),
    ]
    assert isinstance(failed[0].exc, ValueError)
    assert failed[0].data["error"]["message"] == "boom"
    assert events[-1].type == EventType.RUN_FINISHED
    assert events[-1].data["status"] == "failed"
    assert events[-1].data["error"]["node"] == "boom"


def test_stream_of_a_parallel_step_brackets_both_branches() -> None:
    graph = (
        Graph("fan")
        .add_node("s", lambda s: None)
        .add_node("a", lambda s: {"a": 1})
        .add_node("b", lambda s: {"b": 2})
        .add_edge("s", "a")
        .add_edge("s", "b")
        .add_edge("a", END)
        .add_edge("b", END)
        .set_entry_point("s")
    )
    events = list(WorkflowExecutor(graph).stream({}))
    step2 = [e for e in events if e.step == 2]
    assert {(e.type, e.node) for e in step2[:-2]} == {
        (EventType.NODE_STARTED, "a"),
        (EventType.NODE_STARTED, "b"),
        (EventType.NODE_FINISHED, "a"),
        (EventType.NODE_FINISHED, "b"),
    }
    assert step2[-2].type == EventType.STEP_FINISHED
    assert step2[-2].data["update"] == {"a": 1, "b": 2}
    assert step2[-1].type == EventType.RUN_FINISHED


def test_stream_closed_early_cancels_the_run() -> None:
    def spin(state: dict[str, Any]) -> dict[str, Any]:
        time.sleep(0.001)  # a thousand steps (the limit) would take a second
        return {"n": state["n"] + 1}

    graph = Graph("spin").add_node("spin", spin).add_edge("spin", "spin").set_entry_point("spin")
    executor = WorkflowExecutor(graph)
    run = executor.new_run({"n": 0})
    stream = executor.stream(run=run)
    for event in stream:
        if event.type == EventType.STEP_FINISHED:
            break
    stream.close()
    assert run.status == RunStatus.CANCELLED
    assert run.step < 1000


def test_stream_also_calls_the_executors_emit() -> None:
    received: list[tuple[str, EventType]] = []
    executor = WorkflowExecutor(
        seed_graph(), emit=lambda run, e: received.append((run.run_id, e.type))
    )
    streamed = list(executor.stream({"value": 1}))
    assert [t for _, t in received] == [e.type for e in streamed]


def test_emit_sees_every_event_of_a_plain_run() -> None:
    received: list[EventType] = []
    run = WorkflowExecutor(seed_graph(), emit=lambda r, e: received.append(e.type)).run(
        {"value": 10}
    )
    assert run.state == {"value": 25}
    assert received[0] == EventType.RUN_STARTED and received[-1] == EventType.RUN_FINISHED
    assert received.count(EventType.NODE_FINISHED) == 2


# -- stores ------------------------------------------------------------------------------------


def test_memory_store_keeps_the_store_contract() -> None:
    from wfengine.testing import check_store_contract

    check_store_contract(MemoryStore)
    assert MemoryStore.durable is False


def test_executor_saves_runs_in_the_memory_store() -> None:
    store = MemoryStore()
    executor = WorkflowExecutor(seed_graph(), store=store)
    run = executor.run({"value": 10})
    stored = store.get_run(run.run_id)
    assert stored is not None
    assert stored.status == RunStatus.COMPLETED and stored.state == {"value": 25}
    assert len(stored.logs) == 2
    failed = WorkflowExecutor(failing_graph(), store=store).run({})
    stored_failed = store.get_run(failed.run_id)
    assert stored_failed is not None and stored_failed.status == RunStatus.FAILED
    assert store.get_run("nope") is None


def test_store_sees_a_running_run() -> None:
    store = MemoryStore()
    statuses: list[str] = []

    def peek(state: dict[str, Any]) -> None:
        (only,) = store.list_runs()[0]
        statuses.append(only.status)

    graph = Graph("peek").add_node("peek", peek).add_edge("peek", END).set_entry_point("peek")
    WorkflowExecutor(graph, store=store).run({})
    assert statuses == ["running"]


def test_graph_store_save_get_list() -> None:
    graphs = GraphStore()
    spec = seed_graph().to_dict()
    gid = graphs.save(spec)
    assert re.fullmatch(r"[0-9a-f]{32}", gid)
    assert graphs.get(gid) == spec
    assert graphs.save({"name": "named"}, graph_id="mine") == "mine"
    assert graphs.get("missing") is None
    listed = graphs.list()
    assert {g["graph_id"] for g in listed} == {gid, "mine"}
    assert {g["name"] for g in listed} == {"seed", "named"}


def test_run_store_save_get_and_runs_by_graph() -> None:
    runs = RunStore()
    first = WorkflowExecutor(seed_graph("one")).run({"value": 1})
    second = WorkflowExecutor(seed_graph("one")).run({"value": 2})
    other = WorkflowExecutor(seed_graph("two")).run({"value": 3})
    for run in (first, second, other):
        runs.save(run)
    assert runs.get(first.run_id) is first
    assert runs.get("missing") is None
    assert [r.run_id for r in runs.get_by_graph("one")] == [second.run_id, first.run_id]
    assert [r.run_id for r in runs.get_by_graph("two")] == [other.run_id]
    assert runs.get_by_graph("three") == []


def test_seed_wrappers_share_one_store() -> None:
    store = MemoryStore()
    GraphStore(store).save({"name": "g"}, graph_id="g")
    run = WorkflowExecutor(seed_graph(), store=store, graph_id="g").run({"value": 1})
    assert store.get_graph("g") == {"name": "g"}
    assert RunStore(store).get_by_graph("g") == [run]


def make_runs(store: MemoryStore, count: int, graph_id: str = "g") -> list[WorkflowRun]:
    """``count`` completed runs, one second apart (oldest first)."""
    runs = []
    for i in range(count):
        run = WorkflowRun(graph_id=graph_id, status=RunStatus.COMPLETED, created=1000.0 + i)
        store.save_run(run)
        runs.append(run)
    return runs


def test_list_runs_pages_newest_first() -> None:
    store = MemoryStore()
    runs = make_runs(store, 5)
    page1, cursor = store.list_runs(limit=2)
    assert [r.run_id for r in page1] == [runs[4].run_id, runs[3].run_id]
    assert cursor is not None
    page2, cursor = store.list_runs(limit=2, cursor=cursor)
    assert [r.run_id for r in page2] == [runs[2].run_id, runs[1].run_id]
    page3, cursor = store.list_runs(limit=2, cursor=cursor)
    assert [r.run_id for r in page3] == [runs[0].run_id]
    assert cursor is None
    everything, cursor = store.list_runs()
    assert len(everything) == 5 and cursor is None


def test_list_runs_filters_by_graph_and_status() -> None:
    store = MemoryStore()
    make_runs(store, 3, "a")
    b_runs = make_runs(store, 2, "b")
    b_runs[0].status = RunStatus.FAILED
    assert len(store.list_runs(graph_id="a")[0]) == 3
    assert [r.run_id for r in store.list_runs(graph_id="b", status="failed")[0]] == [
        b_runs[0].run_id
    ]
    assert len(store.list_runs(status="completed")[0]) == 4
    assert store.list_runs(graph_id="zzz") == ([], None)


def test_prune_keep_last() -> None:
    store = MemoryStore()
    runs = make_runs(store, 5)
    assert store.prune(keep_last=2) == 3
    assert [r.run_id for r in store.list_runs()[0]] == [runs[4].run_id, runs[3].run_id]


def test_prune_older_than_keeps_recent_and_unfinished_runs() -> None:
    store = MemoryStore()
    old = make_runs(store, 3)
    recent = WorkflowRun(graph_id="g", status=RunStatus.COMPLETED)
    paused = WorkflowRun(graph_id="g", status=RunStatus.PAUSED, created=1.0)
    running = WorkflowRun(graph_id="g", status=RunStatus.RUNNING, created=1.0)
    for run in (recent, paused, running):
        store.save_run(run)
    assert store.prune(older_than=60) == 3
    left = {r.run_id for r in store.list_runs()[0]}
    assert left == {recent.run_id, paused.run_id, running.run_id}
    assert not left & {r.run_id for r in old}


def test_prune_by_status() -> None:
    store = MemoryStore()
    runs = make_runs(store, 4)
    runs[0].status = RunStatus.FAILED
    paused = WorkflowRun(graph_id="g", status=RunStatus.PAUSED, created=1.0)
    store.save_run(paused)
    assert store.prune(older_than=0, status="failed") == 1
    assert store.get_run(runs[0].run_id) is None
    assert store.prune(older_than=0, status="paused") == 1
    assert store.get_run(paused.run_id) is None
    assert store.prune() == 0
    assert len(store.list_runs()[0]) == 3


def test_delete_run() -> None:
    store = MemoryStore()
    (run,) = make_runs(store, 1)
    assert store.delete_run(run.run_id) is True
    assert store.delete_run(run.run_id) is False
    assert store.get_run(run.run_id) is None


def test_run_ids_are_random_version_4_uuids() -> None:
    from wfengine.run import new_run_id

    ids = {new_run_id() for _ in range(2000)}
    assert len(ids) == 2000
    for run_id in list(ids)[:200]:
        parsed = uuid.UUID(run_id)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and parsed.hex == run_id
