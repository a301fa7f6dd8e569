"""What every store keeps beyond the contract checks, on memory, SQLite and PostgreSQL:
faithful types, unstorable values refused atomically, O(N) storage of growing keys, pending
writes, caches, pruning, a failed run resumed by a second engine on a second store object,
and the per-step checkpoint's rules (each step once, a deleted run, an unknown run)."""

from __future__ import annotations

import datetime as dt
import json
import math
import pathlib
import threading
import time
import uuid
from collections import Counter
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from store_suite import StoreUnderTest
from wfengine import END, Engine, Graph, LogEntry, RunStatus, WorkflowRun
from wfengine.errors import RunNotFoundError, StoreError, UnstorableValueError
from wfengine.storage import CacheStore, PendingWritesStore


def make_run(**fields: object) -> WorkflowRun:
    run = WorkflowRun(graph_id="g", state={"i": 0}, next_nodes=["a"])
    for name, value in fields.items():
        setattr(run, name, value)
    return run


def advance(
    store: Any, run: WorkflowRun, node: str, update: dict[str, Any], nxt: list[str]
) -> None:
    """Do what the executor does for one completed step, then checkpoint it."""
    run.state.update(update)
    run.step += 1
    run.visited_nodes.append(node)
    run.next_nodes = nxt
    entry = LogEntry(node, run.step, 1, time.time(), 0.25, "completed")
    run.logs.append(entry)
    store.save_step(run, update, [entry])


RICH = {
    "when": dt.datetime(2026, 3, 29, 2, 30, tzinfo=ZoneInfo("Europe/Paris")),
    "utc": dt.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC),
    "naive": dt.datetime(2026, 1, 2, 3, 4, 5),
    "day": dt.date(2026, 1, 2),
    "clock": dt.time(23, 59, 59, 999999),
    "span": dt.timedelta(days=-1, seconds=5, microseconds=7),
    "money": Decimal("9.990"),
    "id": uuid.UUID(int=7),
    "raw": b"\x00\xffbytes",
    "buffer": bytearray(b"abc"),
    "pair": (1, (2, "x")),
    "tags": {"b", "a"},
    "frozen": frozenset({1, 2}),
    "path": pathlib.PurePosixPath("a/b"),
    "inf": math.inf,
    "big": 2**70,
    "keys": {1: "int key", (2, 3): "tuple key", None: "none key"},
    "tagged": {"$t": "not a tag"},
    "text": "nul \x00 and é and \U0001f600",
    "order": {"z": 1, "a": 2, "m": 3},
}


def same(a: Any, b: Any) -> bool:
    """Equal, of the same types all the way down (dict key order too)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def test_values_come_back_equal_and_of_the_same_type(any_store: StoreUnderTest) -> None:
    graph = Graph("rich").add_node("a", lambda s: {"copy": s["rich"], "nan": math.nan})
    graph.set_entry_point("a").add_edge("a", END)
    with Engine(load_entrypoints=False, store=any_store.open()) as engine:
        run = engine.run(graph, {"rich": RICH})
        assert run.status == RunStatus.COMPLETED, run.error
    reader = any_store.open() if any_store.durable else engine.store
    back = reader.get_run(run.run_id)
    assert back is not None
    assert same(back.state["rich"], RICH) and same(back.state["copy"], RICH)
    assert math.isnan(back.state["nan"])
    if any_store.durable:
        assert back.state["rich"]["when"].tzinfo == ZoneInfo("Europe/Paris")


def test_an_unstorable_value_is_refused_and_nothing_of_the_step_is_stored(
    durable_store: StoreUnderTest,
) -> None:
    store = durable_store.open()
    run = make_run()
    store.save_run(run)
    advance(store, run, "a", {"i": 1}, ["b"])
    run.step += 1
    with pytest.raises(UnstorableValueError, match=r'state\["bad"\]\[0\]: cannot store'):
        store.save_step(run, {"i": 2, "bad": [object()]}, [])
    back = durable_store.open().get_run(run.run_id)
    assert back is not None and back.state == {"i": 1} and back.step == 1
    assert (
        durable_store.scalar is not None and durable_store.scalar("SELECT count(*) FROM steps") == 1
    )


def test_a_run_with_an_unstorable_value_fails_cleanly_and_resumes(
    durable_store: StoreUnderTest,
) -> None:
    bad = {"on": True}
    graph = Graph("g", max_steps=10)
    graph.add_node(
        "a", lambda s: {"i": s["i"] + 1, "x": object() if bad["on"] and s["i"] == 2 else 1}
    )
    graph.add_edge("a", "a", when="i < 4").add_edge("a", END, default=True).set_entry_point("a")
    with Engine(load_entrypoints=False, store=durable_store.open()) as engine:
        run = engine.run(graph, {"i": 0})
        assert run.status == RunStatus.FAILED and run.step == 2
        assert "cannot store" in run.error["message"]
    bad["on"] = False
    with Engine(load_entrypoints=False, store=durable_store.open()) as other:
        done = other.resume(run.run_id, graph=graph)
        assert done.status == RunStatus.COMPLETED and done.state == {"i": 4, "x": 1}


def chat(n: int) -> Graph:
    def talk(state: dict[str, Any]) -> dict[str, Any]:
        i = state["i"] + 1
        return {"i": i, "messages": f"message number {i:06d} " + "x" * 20, "seen": {f"m{i}": i}}

    graph = Graph("chat", reducers={"messages": "append", "seen": "merge"}, max_steps=n + 5)
    graph.add_node("talk", talk).set_entry_point("talk")
    graph.add_edge("talk", "talk", condition=lambda s: s["i"] < n).add_edge(
        "talk", END, default=True
    )
    return graph


def test_growing_keys_cost_what_they_added(durable_store: StoreUnderTest) -> None:
    store = durable_store.open()
    with Engine(load_entrypoints=False, store=store) as engine:
        run = engine.run(chat(300), {"i": 0, "messages": [], "seen": {}})
    assert run.status == RunStatus.COMPLETED, run.error
    data = len(json.dumps(run.state["messages"])) + len(json.dumps(run.state["seen"]))
    assert durable_store.scalar is not None
    stored = durable_store.scalar(
        "SELECT sum(length(changes) + coalesce(length(grown), 0)) FROM steps"
    )
    assert stored < 2 * data, "the whole list at every step would be ~150x the data"
    reader = durable_store.open()
    assert reader.state_at(run.run_id, 300) == run.state
    assert reader.state_at(run.run_id, 2)["messages"] == run.state["messages"][:2]


def test_pending_writes_keep_a_finished_sibling(any_store: StoreUnderTest) -> None:
    calls: Counter[str] = Counter()
    lock = threading.Lock()
    fail = {"b": True}

    def branch(name: str) -> Any:
        def node(state: dict[str, Any]) -> dict[str, Any]:
            with lock:
                calls[name] += 1
            if fail.get(name):
                raise RuntimeError(f"{name} broke")
            return {name: {1, 2}}

        return node

    graph = (
        Graph("fan")
        .add_node("start", lambda s: None)
        .add_node("a", branch("a"))
        .add_node("b", branch("b"))
        .add_edge("start", "a")
        .add_edge("start", "b")
        .add_edge(["a", "b"], END)
        .set_entry_point("start")
    )
    store = any_store.open()
    assert isinstance(store, PendingWritesStore)
    with Engine(load_entrypoints=False, store=store) as engine:
        run = engine.run(graph, {})
        assert run.status == RunStatus.FAILED
    fail["b"] = False
    second = any_store.open() if any_store.durable else store
    with Engine(load_entrypoints=False, store=second) as other:
        done = other.resume(run.run_id, graph=graph)
        kept = second.get_pending_writes(run.run_id, 2)
    assert done.status == RunStatus.COMPLETED, done.error
    assert done.state == {"a": {1, 2}, "b": {1, 2}}
    assert calls == {"a": 1, "b": 2}, "a finished before b failed: its update was kept"
    assert kept == {}, "dropped when the run completed"


def test_pending_writes_are_replaced_per_task(any_store: StoreUnderTest) -> None:
    store = any_store.open()
    run = make_run()
    store.save_run(run)
    store.save_pending_writes(run.run_id, 2, {"a": {"x": {1, 2}}})
    store.save_pending_writes(run.run_id, 2, {"a": {"x": {3}}})
    store.save_pending_writes(run.run_id, 3, {"b": None})
    assert store.get_pending_writes(run.run_id, 2) == {"a": {"x": {3}}}
    assert store.get_pending_writes(run.run_id, 3) == {"b": None}
    assert store.get_pending_writes("no-such-run", 2) == {}


def test_node_caches(any_store: StoreUnderTest) -> None:
    store = any_store.open()
    assert isinstance(store, CacheStore)

    def entry(key: str, graph_id: str, node: str, created: float) -> dict[str, Any]:
        parts = {"params": {"p": (1, 2)}, "code": key}
        update = {"out": Decimal("1.5"), "key": key}
        return {"key": key, "graph_id": graph_id, "node": node, "parts": parts,
                "update": update, "created": created, "ttl": None}  # fmt: skip

    store.put_cache_entry(entry("k1", "g", "a", 100.0))
    store.put_cache_entry(entry("k2", "g", "a", 200.0))
    store.put_cache_entry(entry("k3", "h", "b", 300.0))
    got = store.get_cache_entry("k1")
    assert got == entry("k1", "g", "a", 100.0)
    got["update"]["out"] = 0
    assert store.get_cache_entry("k1")["update"]["out"] == Decimal("1.5"), "a copy"
    assert store.get_cache_entry("nope") is None
    latest = store.latest_cache_entry("g", "a")
    assert latest is not None and latest["key"] == "k2" and latest["created"] == 200.0
    assert [e["key"] for e in store.list_cache_entries()] == ["k3", "k2", "k1"]
    assert [e["key"] for e in store.list_cache_entries("g")] == ["k2", "k1"]
    store.put_cache_entry({**entry("k1", "g", "a", 400.0), "ttl": 5.0})  # replaced
    assert store.get_cache_entry("k1")["ttl"] == 5.0
    assert store.clear_cache("g") == 2 and store.list_cache_entries("g") == []
    assert store.clear_cache() == 1


def test_prune_by_age_count_and_status(any_store: StoreUnderTest) -> None:
    store = any_store.open()
    now = time.time()
    old_done = make_run(status=RunStatus.COMPLETED, created=now - 3600)
    old_running = make_run(status=RunStatus.RUNNING, created=now - 3500)
    old_failed = make_run(status=RunStatus.FAILED, created=now - 3400)
    new_done = [make_run(status=RunStatus.COMPLETED, created=now - i) for i in range(3)]
    for run in (old_done, old_running, old_failed, *new_done):
        store.save_run(run)
        advance(store, run, "a", {"i": 1}, [])
    assert store.prune(older_than=600, status="failed") == 1
    assert store.get_run(old_failed.run_id) is None
    assert store.prune(older_than=600) == 1  # old_done; the running one is kept
    assert store.get_run(old_running.run_id) is not None
    assert store.prune(keep_last=2) == 1  # the third-newest final run
    assert {r.run_id for r in store.list_runs()[0]} == {
        new_done[0].run_id,
        new_done[1].run_id,
        old_running.run_id,
    }
    assert store.prune(older_than=600, status="running") == 1
    assert store.prune() == 0
    if any_store.scalar is not None:
        assert any_store.scalar("SELECT count(*) FROM steps") == 2


def test_a_failed_run_resumes_in_a_second_engine(any_store: StoreUnderTest) -> None:
    broken = {"at": 7}

    def talk(state: dict[str, Any]) -> dict[str, Any]:
        if state["i"] + 1 == broken["at"]:
            raise RuntimeError("the model timed out")
        return {"i": state["i"] + 1, "said": [state["i"]]}

    graph = Graph("talk", reducers={"said": "extend"}, max_steps=30).add_node("talk", talk)
    graph.add_edge("talk", "talk", when="i < 12").add_edge("talk", END, default=True)
    graph.set_entry_point("talk")
    store = any_store.open()
    with Engine(load_entrypoints=False, store=store) as first:
        run = first.run(graph, {"i": 0, "said": []})
    assert run.status == RunStatus.FAILED and run.step == 6
    broken["at"] = -1
    second_store = any_store.open() if any_store.durable else store
    stored = second_store.get_run(run.run_id)
    assert stored is not None and stored.step == 6 and stored.state["said"] == list(range(6))
    with Engine(load_entrypoints=False, store=second_store) as second:
        done = second.resume(run.run_id, graph=graph)
        again = second_store.get_run(run.run_id)
    assert done.status == RunStatus.COMPLETED and done.state == {"i": 12, "said": list(range(12))}
    assert again is not None and again.status == RunStatus.COMPLETED
    assert [(e.step, e.status) for e in again.logs if e.step in (6, 7)] == [
        (6, "completed"),
        (7, "failed"),
        (7, "completed"),
    ]


def test_steps_update_the_stored_run(durable_store: StoreUnderTest) -> None:
    store = durable_store.open()
    run = make_run()
    store.save_run(run)
    advance(store, run, "a", {"i": 1, "seen": {1}}, ["b"])
    advance(store, run, "b", {}, ["a"])
    advance(store, run, "a", {"i": 2, "seen": {1, 2}}, [])
    back = durable_store.open().get_run(run.run_id)
    assert back is not None
    assert back.state == {"i": 2, "seen": {1, 2}}
    assert (back.step, back.next_nodes, back.visited_nodes) == (3, [], ["a", "b", "a"])
    assert [(e.node, e.step) for e in back.logs] == [("a", 1), ("b", 2), ("a", 3)]
    assert back.status == RunStatus.PENDING  # the status is written by save_run, not per step


def test_a_run_round_trips_with_every_field(durable_store: StoreUnderTest) -> None:
    store = durable_store.open()
    run = WorkflowRun(
        graph_id="g",
        state={"when": dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "amount": Decimal("9.99")},
        status=RunStatus.PAUSED,
        visited_nodes=["a", "b"],
        logs=[
            LogEntry("a", 1, 1, 1700000000.123456, 1.5, "completed"),
            LogEntry(
                "b",
                2,
                1,
                1700000001.5,
                2.0,
                "failed",
                {"type": "ValueError", "message": "bad", "traceback": "..."},
                {"i": 1},
            ),
        ],  # fmt: skip
        error={"type": "ValueError", "message": "bad", "node": "b", "step": 2},
        step=1,
        next_nodes=["b"],
        join_progress={"3": ["x"]},
        max_steps=40,
        interrupt_before=["b"],
        interrupt_after=["a"],
        questions={"b": {"value": {"ask": "ok?"}, "index": 0}},
        answers={"b": [True]},
        budget={"steps": 10.0},
        spent={"seconds": 1.5},
        pause_reason="budget: steps 10 of 10 spent",
        cache_log=[{"node": "a", "step": 1, "result": "miss", "reason": "new"}],
        finished=1700000002.0,
        graph_version="ab" * 32,
    )
    store.save_run(run)
    back = durable_store.open().get_run(run.run_id)
    assert back is not None and back is not run
    assert back.to_dict() == run.to_dict()
    assert back.logs[1].state_before == {"i": 1}
    assert (back.created, back.logs[0].started) == (run.created, 1700000000.123456)


def test_failed_step_logs_are_kept_in_order_around_committed_steps(
    durable_store: StoreUnderTest,
) -> None:
    store = durable_store.open()
    run = make_run()
    store.save_run(run)
    advance(store, run, "a", {"i": 1}, ["b"])
    run.logs.append(LogEntry("b", 2, 1, time.time(), 1.0, "failed", {"message": "x"}))
    run.status = RunStatus.FAILED
    store.save_run(run)
    run.status = RunStatus.RUNNING
    store.save_run(run)
    advance(store, run, "b", {"i": 2}, [])
    store.save_run(run)
    back = store.get_run(run.run_id)
    assert back is not None
    assert [(e.node, e.step, e.status) for e in back.logs] == [
        ("a", 1, "completed"),
        ("b", 2, "failed"),
        ("b", 2, "completed"),
    ]


def test_save_run_replaces_steps_beyond_its_step(durable_store: StoreUnderTest) -> None:
    store = durable_store.open()
    run = make_run()
    store.save_run(run)
    advance(store, run, "a", {"i": 1}, ["b"])
    advance(store, run, "b", {"i": 2}, ["a"])
    older = make_run(
        run_id=run.run_id, state={"i": 1}, step=1, visited_nodes=["a"], next_nodes=["b"],
        created=run.created,
    )  # fmt: skip
    store.save_run(older)
    back = store.get_run(run.run_id)
    assert back is not None and (back.step, back.state) == (1, {"i": 1})


def test_a_step_stored_twice_is_refused(durable_store: StoreUnderTest) -> None:
    store = durable_store.open()
    run = make_run()
    store.save_run(run)
    advance(store, run, "a", {"i": 1}, ["b"])
    with pytest.raises(StoreError, match="already stored; is the run being executed by another"):
        store.save_step(run, {"i": 1}, [])


def test_a_run_deleted_or_replaced_elsewhere_while_it_runs(durable_store: StoreUnderTest) -> None:
    runner, other = durable_store.open(), durable_store.open()
    run = make_run()
    runner.save_run(run)
    advance(runner, run, "a", {"i": 1}, ["b"])
    other.delete_run(run.run_id)
    with pytest.raises(StoreError, match="the run was deleted from the store while it ran"):
        advance(runner, run, "b", {"i": 2}, ["c"])
    # saved again elsewhere (a new row): the runner's next checkpoint finds it
    other.save_run(make_run(run_id=run.run_id, state={"i": 2}, step=2, next_nodes=["c"]))
    advance(runner, run, "c", {"i": 3}, [])
    assert other.get_run(run.run_id).state == {"i": 3}  # type: ignore[union-attr]


def test_save_step_of_an_unknown_run_says_so(durable_store: StoreUnderTest) -> None:
    with pytest.raises(RunNotFoundError, match="save_run it before"):
        durable_store.open().save_step(make_run(step=1), {"i": 1}, [])


def test_list_runs_pages_through_ties_and_refuses_bad_arguments(any_store: StoreUnderTest) -> None:
    store = any_store.open()
    runs = []
    for i in range(7):
        run = make_run(
            graph_id="g1" if i % 2 else "g2",
            status=RunStatus.COMPLETED if i < 5 else RunStatus.FAILED,
            created=1000.0 + i // 2,
        )  # ties on created: ordered by run_id then
        store.save_run(run)
        runs.append(run)
    newest_first = [
        r.run_id for r in sorted(runs, key=lambda r: (r.created, r.run_id), reverse=True)
    ]
    assert [r.run_id for r in store.list_runs()[0]] == newest_first
    seen: list[str] = []
    cursor = None
    while True:
        page, cursor = store.list_runs(limit=3, cursor=cursor, logs=False)
        seen += [r.run_id for r in page]
        if cursor is None:
            break
    assert seen == newest_first
    if any_store.durable:
        with pytest.raises(StoreError, match="invalid list_runs cursor"):
            store.list_runs(cursor="garbage")
        with pytest.raises(ValueError, match="limit must be at least 1"):
            store.list_runs(limit=0)


def test_a_commands_goto_round_trips_on_its_log_entry(durable_store: StoreUnderTest) -> None:
    """What a ``Command`` chose is kept on its log entry (replay reads it), on a committed
    step's entry and on a failed attempt's alike."""
    store = durable_store.open()
    run = WorkflowRun(graph_id="g", state={"i": 0}, next_nodes=["a"])
    store.save_run(run)
    run.step = 1
    run.visited_nodes.append("a")
    entry = LogEntry("a", 1, 1, time.time(), 0.5, "completed", goto=["b", "END"])
    run.logs.append(entry)
    store.save_step(run, {}, [entry])
    failed = LogEntry("c", 2, 1, time.time(), 0.5, "failed", {"message": "x"}, {"i": 0}, ["d"])
    run.logs.append(failed)
    store.save_run(run)
    back = durable_store.open().get_run(run.run_id)
    assert back is not None
    assert [e.goto for e in back.logs] == [["b", "END"], ["d"]]
    assert back.logs[0].error is None and back.logs[0].state_before is None
    assert back.logs[1].state_before == {"i": 0}
    assert back.logs[0].to_dict()["goto"] == ["b", "END"]


def test_resume_patches_are_kept_and_a_fork_inherits_them(durable_store: StoreUnderTest) -> None:
    """``run.patches`` (what ``wf runs blame`` marks as a resume patch) survive the store, and
    a fork after the patched step takes them along (on every durable store)."""
    store = durable_store.open()
    graph = Graph("patched", max_steps=20)
    graph.add_node("tick", lambda s: {"n": s["n"] + 1})
    graph.add_edge("tick", "tick", when="n < 4").add_edge("tick", END, default=True)
    graph.set_entry_point("tick")
    with Engine(load_entrypoints=False, store=store) as engine:
        paused = engine.run(graph, {"n": 0, "note": "a"}, interrupt_before=["tick"])
        engine.resume(paused.run_id, {"note": "b"}, graph=graph)
        again = engine.run(graph, {"n": 0, "note": "a"}, max_steps=2)
        assert again.status == RunStatus.FAILED
        done = engine.resume(again.run_id, {"note": "patched"}, graph=graph, max_steps=20)
        assert done.status == RunStatus.COMPLETED
    back = durable_store.open().get_run(done.run_id)
    assert back is not None and back.patches == [{"step": 2, "keys": ["note"]}]
    fork = durable_store.open().fork_run(done.run_id, 3)
    assert fork.patches == [{"step": 2, "keys": ["note"]}]
    forked = durable_store.open().get_run(fork.run_id)
    assert forked is not None and forked.patches == fork.patches


def test_an_unstorable_appended_item_is_named_where_it_lands(
    durable_store: StoreUnderTest,
) -> None:
    """What a step added to a growing key is encoded part by part, so the error names the
    item (every SQL store: they share ``wfengine.rows``)."""
    graph = Graph("bad", reducers={"messages": "append"})
    graph.add_node("one", lambda s: {"messages": "fine"})
    graph.add_node("two", lambda s: {"messages": {"at": object()}})
    graph.add_edge("one", "two").add_edge("two", END).set_entry_point("one")
    with Engine(load_entrypoints=False, store=durable_store.open()) as engine:
        run = engine.run(graph, {"messages": ["first"]})
    assert run.status == RunStatus.FAILED and run.error is not None
    assert run.error["message"].startswith('state["messages"][2:][0]["at"]: cannot store <class')
    assert run.state == {"messages": ["first", "fine"]}  # step 2 undone
