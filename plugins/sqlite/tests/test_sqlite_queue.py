"""The SQLite store as a work queue (schema version 6): the queue contract, claims that
survive the worker's own saves, a migration from version 5."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from wfengine import RunStatus, WorkflowRun
from wfengine.storage import QueueStore
from wfengine.testing import check_queue_contract

from wfengine_sqlite import SQLiteStore, schema


def queued_run() -> WorkflowRun:
    run = WorkflowRun(graph_id="g", state={"i": 0}, status=RunStatus.QUEUED, next_nodes=["a"])
    return run


def claim_row(path: Path, run_id: str) -> tuple[Any, ...]:
    with sqlite3.connect(path) as conn:
        row = conn.execute(
            "SELECT claimed_by, lease_until, cancel_requested, claims FROM runs WHERE run_id = ?",
            (run_id,),
        ).fetchone()
    return tuple(row)


def test_keeps_the_queue_contract(tmp_path: Path) -> None:
    check_queue_contract(lambda: SQLiteStore(f"sqlite:///{tmp_path}/queue.db"))


def test_the_store_contract_fixture_checks_the_queue_too(
    tmp_path: Path, store_contract: Any
) -> None:
    url = f"sqlite:///{tmp_path}/all.db"
    probe = SQLiteStore(url)
    assert isinstance(probe, QueueStore)
    probe.close()
    store_contract(lambda: SQLiteStore(url))


def test_saving_a_claimed_run_keeps_its_claim(store: SQLiteStore, db_path: Path) -> None:
    run = queued_run()
    store.save_run(run)
    assert store.claim_run("w1", 30.0) == run.run_id
    store.request_cancel(run.run_id)
    run.status = RunStatus.RUNNING
    store.save_run(run)  # what the worker's executor does when it starts the run
    holder, lease, cancel, claims = claim_row(db_path, run.run_id)
    assert holder == "w1" and lease is not None and cancel == 1 and claims == 1
    assert store.heartbeat(run.run_id, "w1", 30.0) is True
    assert store.cancel_requested(run.run_id) is True


def test_a_released_run_forgets_its_cancel_flag_and_counts_claims(
    store: SQLiteStore, db_path: Path
) -> None:
    run = queued_run()
    store.save_run(run)
    store.claim_run("w1", 30.0)
    store.release_run(run.run_id, "w1", requeue=True)
    assert store.claim_run("w2", 30.0) == run.run_id
    assert claim_row(db_path, run.run_id)[3] == 2
    store.release_run(run.run_id, "w2")
    assert claim_row(db_path, run.run_id)[:3] == (None, None, 0)


def test_a_run_that_never_was_claimed_is_not_taken_over(store: SQLiteStore) -> None:
    """A run left 'running' by a crashed `wf run` has no lease: no worker takes it."""
    run = queued_run()
    run.status = RunStatus.RUNNING
    store.save_run(run)
    assert store.claim_run("w1", 30.0) is None


def test_a_final_run_is_not_requeued(store: SQLiteStore) -> None:
    run = queued_run()
    store.save_run(run)
    store.claim_run("w1", 30.0)
    run.status = RunStatus.COMPLETED
    store.save_run(run)
    store.release_run(run.run_id, "w1", requeue=True)
    got = store.get_run(run.run_id)
    assert got is not None and got.status == RunStatus.COMPLETED


def test_a_version_5_database_migrates_to_the_queue_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for version in range(5):
        schema.MIGRATIONS[version](conn)
    conn.execute("PRAGMA user_version = 5")
    conn.execute(
        "INSERT INTO runs (run_id, graph_id, status, created, interrupt_before) "
        "VALUES ('old', 'g', 'queued', 1.0, '[]')"
    )
    conn.commit()
    conn.close()
    store = SQLiteStore(f"sqlite:///{path}")
    try:
        assert store.claim_run("w1", 30.0) == "old"
    finally:
        store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION == 6
