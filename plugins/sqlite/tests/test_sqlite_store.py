"""Every store operation, on the store directly: graphs, runs, steps, listing, deleting,
pruning, history, schema versions, URLs."""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from wfengine import LogEntry, RunStatus, WorkflowRun
from wfengine.errors import RunNotFoundError, StoreError

from wfengine_sqlite import SQLiteStore, default_url, parse_url, schema
from wfengine_sqlite.errors import SchemaVersionError, StoreURLError


def make_run(**fields: object) -> WorkflowRun:
    run = WorkflowRun(graph_id="g", state={"i": 0}, next_nodes=["a"])
    for name, value in fields.items():
        setattr(run, name, value)
    return run


def advance(
    store: SQLiteStore,
    run: WorkflowRun,
    node: str,
    update: dict[str, object],
    next_nodes: list[str],
) -> None:
    """Do what the executor does for one completed step, then checkpoint it."""
    run.state.update(update)
    run.step += 1
    run.visited_nodes.append(node)
    run.next_nodes = next_nodes
    entry = LogEntry(node, run.step, 1, time.time(), 0.25, "completed")
    run.logs.append(entry)
    store.save_step(run, update, [entry])


def count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_keeps_the_store_contract(tmp_path: Path) -> None:
    from wfengine.testing import check_store_contract

    check_store_contract(lambda: SQLiteStore(f"sqlite:///{tmp_path}/contract.db"))
    assert SQLiteStore.durable is True


def test_keeps_the_store_contract_with_history_through_the_pytest_fixture(
    tmp_path: Path, store_contract: Any
) -> None:
    store_contract(lambda: SQLiteStore(f"sqlite:///{tmp_path}/history.db"))


# -- graphs --------------------------------------------------------------------------------


def test_graphs_are_saved_read_listed_and_replaced(store: SQLiteStore) -> None:
    spec = {"name": "etl", "version": 2, "nodes": {"a": {"tool": "t"}}, "when": dt.date(2026, 1, 1)}
    store.save_graph("g1", spec)
    time.sleep(0.01)
    store.save_graph("g2", {"name": "other"})
    assert store.get_graph("g1") == spec
    assert store.get_graph("missing") is None
    listed = store.list_graphs()
    assert [g["graph_id"] for g in listed] == ["g2", "g1"]
    assert listed[1]["name"] == "etl" and listed[1]["version"] == 2
    assert listed[0]["version"] == 1 and listed[0]["created_at"].endswith("Z")
    store.save_graph("g1", {"name": "etl", "version": 3})
    assert store.get_graph("g1") == {"name": "etl", "version": 3}
    assert len(store.list_graphs()) == 2


# -- runs ----------------------------------------------------------------------------------


def test_a_run_round_trips_with_every_field(store: SQLiteStore) -> None:
    run = WorkflowRun(
        graph_id="g",
        state={"when": dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "amount": Decimal("9.99")},
        status=RunStatus.FAILED,
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
        ],
        error={"type": "ValueError", "message": "bad", "node": "b", "step": 2},
        step=1,
        next_nodes=["b"],
        join_progress={"3": ["x"]},
        max_steps=40,
        interrupt_before=["b"],
        finished=1700000002.0,
    )
    store.save_run(run)
    back = store.get_run(run.run_id)
    assert back is not None and back is not run
    assert back.to_dict() == run.to_dict()
    assert back.logs[1].state_before == {"i": 1}
    assert back.created == run.created
    assert store.get_run("nope") is None


def test_steps_update_the_stored_run(store: SQLiteStore, db_path: Path) -> None:
    run = make_run()
    store.save_run(run)
    advance(store, run, "a", {"i": 1, "seen": {1}}, ["b"])
    advance(store, run, "b", {}, ["a"])
    advance(store, run, "a", {"i": 2, "seen": {1, 2}}, [])
    back = store.get_run(run.run_id)
    assert back is not None
    assert back.state == {"i": 2, "seen": {1, 2}}
    assert (back.step, back.next_nodes, back.visited_nodes) == (3, [], ["a", "b", "a"])
    assert [(e.node, e.step) for e in back.logs] == [("a", 1), ("b", 2), ("a", 3)]
    assert back.status == RunStatus.PENDING  # the status is written by save_run, not per step
    assert count(db_path, "steps") == 3


def test_log_times_are_kept_exactly(store: SQLiteStore) -> None:
    run = make_run(logs=[LogEntry("a", 1, 1, 1764169941.123456, 0.012345, "completed")])
    store.save_run(run)
    entry = store.get_run(run.run_id).logs[0]  # type: ignore[union-attr]
    assert entry.started_at == run.logs[0].started_at
    assert (entry.started, entry.duration_ms) == (1764169941.123456, 0.012345)


def test_failed_step_logs_are_kept_in_order_around_committed_steps(store: SQLiteStore) -> None:
    run = make_run()
    store.save_run(run)
    advance(store, run, "a", {"i": 1}, ["b"])
    run.logs.append(LogEntry("b", 2, 1, time.time(), 1.0, "failed", {"message": "x"}))
    run.status = RunStatus.FAILED
    store.save_run(run)  # the executor saves the failed run: the attempt belongs to no step
    run.status = RunStatus.RUNNING
    store.save_run(run)  # resumed
    advance(store, run, "b", {"i": 2}, [])
    store.save_run(run)
    back = store.get_run(run.run_id)
    assert back is not None
    assert [(e.node, e.step, e.status) for e in back.logs] == [
        ("a", 1, "completed"),
        ("b", 2, "failed"),
        ("b", 2, "completed"),
    ]


def test_save_run_replaces_steps_beyond_its_step(store: SQLiteStore) -> None:
    run = make_run()
    store.save_run(run)
    advance(store, run, "a", {"i": 1}, ["b"])
    advance(store, run, "b", {"i": 2}, ["a"])
    older = make_run(
        run_id=run.run_id,
        state={"i": 1},
        step=1,
        visited_nodes=["a"],
        next_nodes=["b"],
        created=run.created,
    )
    store.save_run(older)
    back = store.get_run(run.run_id)
    assert back is not None and (back.step, back.state) == (1, {"i": 1})


def test_a_step_stored_twice_is_refused(store: SQLiteStore) -> None:
    run = make_run()
    store.save_run(run)
    advance(store, run, "a", {"i": 1}, ["b"])
    with pytest.raises(StoreError, match="already stored; is the run being executed by another"):
        store.save_step(run, {"i": 1}, [])


def test_a_run_deleted_or_replaced_elsewhere_while_it_runs(db_url: str) -> None:
    with SQLiteStore(db_url) as runner, SQLiteStore(db_url) as other:
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


def test_save_step_of_an_unknown_run_says_so(store: SQLiteStore) -> None:
    run = make_run(step=1)
    with pytest.raises(RunNotFoundError, match="save_run it before"):
        store.save_step(run, {"i": 1}, [])


def test_an_unstorable_update_stores_nothing(store: SQLiteStore, db_path: Path) -> None:
    run = make_run()
    store.save_run(run)
    advance(store, run, "a", {"i": 1}, ["b"])
    run.step += 1
    with pytest.raises(StoreError, match=r'state\["bad"\]\[0\]: cannot store'):
        store.save_step(run, {"bad": [object()]}, [])
    assert count(db_path, "steps") == 1
    assert store.get_run(run.run_id).state == {"i": 1}  # type: ignore[union-attr]


# -- listing -------------------------------------------------------------------------------


def test_list_runs_filters_limits_and_pages(store: SQLiteStore) -> None:
    runs = []
    for i in range(7):
        run = make_run(
            graph_id="g1" if i % 2 else "g2",
            status=RunStatus.COMPLETED if i < 5 else RunStatus.FAILED,
            created=1000.0 + i // 2,
        )  # ties on created: ordered by run_id then
        store.save_run(run)
        runs.append(run)
    newest_first = sorted(runs, key=lambda r: (r.created, r.run_id), reverse=True)
    everything, cursor = store.list_runs()
    assert [r.run_id for r in everything] == [r.run_id for r in newest_first]
    assert cursor is None

    seen, cursor, pages = [], None, 0
    while True:
        page, cursor = store.list_runs(limit=3, cursor=cursor)
        seen += [r.run_id for r in page]
        pages += 1
        if cursor is None:
            break
    assert seen == [r.run_id for r in newest_first] and pages == 3

    only = store.list_runs(graph_id="g1", status="completed")[0]
    assert {r.run_id for r in only} == {
        r.run_id for r in runs if r.graph_id == "g1" and r.status == "completed"
    }
    assert store.list_runs(status=RunStatus.FAILED)[0][0].status == RunStatus.FAILED
    with pytest.raises(StoreError, match="invalid list_runs cursor"):
        store.list_runs(cursor="garbage")
    with pytest.raises(ValueError, match="limit must be at least 1"):  # what callers check
        store.list_runs(limit=0)


# -- deleting and pruning -------------------------------------------------------------------


def test_delete_run_removes_its_steps_and_snapshots(store: SQLiteStore, db_path: Path) -> None:
    keep, doomed = make_run(), make_run()
    for run in (keep, doomed):
        store.save_run(run)
        advance(store, run, "a", {"i": 1}, [])
    assert store.delete_run(doomed.run_id) is True
    assert store.delete_run(doomed.run_id) is False
    assert store.get_run(doomed.run_id) is None
    assert store.get_run(keep.run_id) is not None
    assert (count(db_path, "runs"), count(db_path, "steps"), count(db_path, "snapshots")) == (
        1,
        1,
        1,
    )


def test_prune_by_age_count_and_status(store: SQLiteStore, db_path: Path) -> None:
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
    assert count(db_path, "steps") == 2


# -- history and time travel -----------------------------------------------------------------


def test_state_at_every_step(store: SQLiteStore) -> None:
    run = make_run()
    store.save_run(run)
    for i in range(1, 6):
        advance(store, run, "a", {"i": i, f"k{i}": dt.date(2026, 1, i)}, ["a"])
        if i == 3:
            store.save_run(run)  # a snapshot in the middle (as on a resume)
    for step in range(6):
        expected = {"i": step, **{f"k{j}": dt.date(2026, 1, j) for j in range(1, step + 1)}}
        assert store.state_at(run.run_id, step) == expected
    with pytest.raises(StoreError, match="has no step 6; its last stored step is 5"):
        store.state_at(run.run_id, 6)
    with pytest.raises(RunNotFoundError):
        store.state_at("missing", 0)
    history = store.steps(run.run_id)
    assert [h["step"] for h in history] == [1, 2, 3, 4, 5]
    assert history[1] == {
        "step": 2,
        "nodes": ["a"],
        "update": {"i": 2, "k2": dt.date(2026, 1, 2)},
        "added": {},
        "next_nodes": ["a"],
    }


def test_fork_run_starts_a_new_run_at_an_earlier_step(store: SQLiteStore) -> None:
    run = make_run(max_steps=99, interrupt_before=["z"])
    store.save_run(run)
    advance(store, run, "a", {"i": 1}, ["b"])
    advance(store, run, "b", {"i": 2}, ["c"])
    advance(store, run, "c", {"i": 3}, [])
    run.status = RunStatus.COMPLETED
    store.save_run(run)

    fork = store.fork_run(run.run_id, 1)
    assert fork.run_id != run.run_id and fork.status == RunStatus.PENDING
    stored = store.get_run(fork.run_id)
    assert stored is not None
    for got in (fork, stored):
        assert (got.step, got.state, got.next_nodes, got.visited_nodes) == (
            1,
            {"i": 1},
            ["b"],
            ["a"],
        )
        assert (got.max_steps, got.interrupt_before, got.logs) == (99, ["z"], [])
    assert store.state_at(fork.run_id, 0) == {"i": 0}
    assert store.get_run(run.run_id).step == 3  # type: ignore[union-attr]
    with pytest.raises(StoreError, match="has no step 7"):
        store.fork_run(run.run_id, 7)


# -- files, URLs and schema versions ----------------------------------------------------------


def test_two_stores_on_one_file_see_each_other(db_url: str) -> None:
    with SQLiteStore(db_url) as one, SQLiteStore(db_url) as two:
        run = make_run()
        one.save_run(run)
        advance(one, run, "a", {"i": 1}, [])
        assert two.get_run(run.run_id).state == {"i": 1}  # type: ignore[union-attr]


def test_a_closed_store_says_so(db_url: str) -> None:
    store = SQLiteStore(db_url)
    store.close()
    with pytest.raises(StoreError, match="is closed"):
        store.get_run("x")
    with pytest.raises(StoreError, match="is closed"):
        store.save_run(make_run())


def test_in_memory_store() -> None:
    with SQLiteStore("sqlite://:memory:") as store:
        run = make_run()
        store.save_run(run)
        advance(store, run, "a", {"i": 1}, [])
        assert store.get_run(run.run_id).state == {"i": 1}  # type: ignore[union-attr]
        assert store.state_at(run.run_id, 0) == {"i": 0}


@pytest.mark.parametrize(
    ("url", "path", "synchronous"),
    [
        ("sqlite:///runs.db", "runs.db", "normal"),
        ("sqlite:////tmp/x%20y.db?synchronous=FULL", "/tmp/x y.db", "full"),
        ("sqlite://:memory:", ":memory:", "normal"),
        ("sqlite:///:memory:?timeout=2", ":memory:", "normal"),
    ],
)
def test_urls(url: str, path: str, synchronous: str) -> None:
    location = parse_url(url)
    assert (location.path, location.synchronous) == (path, synchronous)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqlite://runs.db", "names no database file"),
        ("sqlite:///x.db?synchronous=maybe", "synchronous must be one of"),
        ("sqlite:///x.db?timeout=-1", "timeout must be a number"),
        ("sqlite:///x.db?journal=wal", "unknown option"),
        ("sqlite:////no/such/dir/x.db", "does not exist; create it first"),
        ("postgres://x", "not a sqlite store URL"),
    ],
)
def test_bad_urls_are_explained(url: str, message: str) -> None:
    with pytest.raises(StoreURLError, match=message):
        parse_url(url)


def test_synchronous_full_is_applied(tmp_path: Path) -> None:
    store = SQLiteStore(f"sqlite:///{tmp_path}/f.db?synchronous=full")
    with store, store._reading("check") as conn:
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_default_url_is_in_the_app_dir(tmp_path: Path) -> None:
    url = default_url()
    location = parse_url(url)
    assert location.path.endswith("/wfengine/wfengine.db")
    assert location.path.startswith(str(tmp_path))  # XDG dirs point into tmp (conftest)
    assert Path(location.path).parent.is_dir()


def test_an_empty_version_0_database_is_migrated(db_path: Path) -> None:
    sqlite3.connect(db_path).close()
    with SQLiteStore(f"sqlite:///{db_path}") as store:
        store.save_run(make_run())
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION


def test_an_older_schema_is_migrated_keeping_its_data(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SQLiteStore(f"sqlite:///{db_path}") as store:
        run = make_run()
        store.save_run(run)

    def add_label(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE runs ADD COLUMN label TEXT")

    current = schema.SCHEMA_VERSION
    monkeypatch.setattr(schema, "SCHEMA_VERSION", current + 1)
    monkeypatch.setitem(schema.MIGRATIONS, current, add_label)
    with SQLiteStore(f"sqlite:///{db_path}") as store:
        assert store.get_run(run.run_id) is not None
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == current + 1
        assert "label" in [row[1] for row in conn.execute("PRAGMA table_info(runs)")]


def test_a_newer_schema_is_refused(db_path: Path) -> None:
    with sqlite3.connect(db_path) as conn:
        conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
    with pytest.raises(SchemaVersionError, match="newer than this wfengine-sqlite supports"):
        SQLiteStore(f"sqlite:///{db_path}")


def test_a_listing_can_leave_the_logs_out(store: SQLiteStore) -> None:
    run = make_run()
    store.save_run(run)
    for n in range(3):
        advance(store, run, "a", {"i": n + 1}, ["a"])
    [full], _ = store.list_runs()
    [light], _ = store.list_runs(logs=False)
    assert len(full.logs) == 3 and light.logs == []
    assert light.state == full.state == {"i": 3} and light.step == 3


@pytest.mark.parametrize("made_on_first_use", [False, True])
def test_a_version_4_database_gets_the_pending_writes_table(
    db_path: Path, made_on_first_use: bool
) -> None:
    """Schema 5 made ``pending_writes`` a numbered migration; 0.x databases at version 4 may
    or may not have the table (it used to be created on first use)."""
    conn = sqlite3.connect(db_path)
    with conn:
        for version in range(4):
            schema.MIGRATIONS[version](conn)
        if made_on_first_use:
            schema.MIGRATIONS[4](conn)
        conn.execute("PRAGMA user_version = 4")
    conn.close()
    with SQLiteStore(f"sqlite:///{db_path}") as store:
        run = make_run()
        store.save_run(run)
        store.save_pending_writes(run.run_id, 1, {"a": {"x": 1}})
        assert store.get_pending_writes(run.run_id, 1) == {"a": {"x": 1}}
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
