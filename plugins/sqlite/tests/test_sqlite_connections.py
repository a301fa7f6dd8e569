"""Connections: one per reading thread (closed when the thread ends), a store inherited across
fork() opens its own, and importing the plugin (as ``wf --help`` does) loads no sqlite3."""

from __future__ import annotations

import gc
import multiprocessing
import subprocess
import sys
import threading

from wfengine import WorkflowRun

from wfengine_sqlite import SQLiteStore


def test_a_finished_threads_connection_is_closed(store: SQLiteStore) -> None:
    run = WorkflowRun(graph_id="g")
    store.save_run(run)

    def read() -> None:
        assert store.get_run(run.run_id) is not None

    for _ in range(20):
        thread = threading.Thread(target=read)
        thread.start()
        thread.join()
    gc.collect()
    assert len(store._readers) <= 1


def _child_saves(store: SQLiteStore, run_id: str) -> None:
    # SQLite forbids using a connection across fork(): the child must start without any
    if store._writer_conn is not None or len(store._readers):
        raise SystemExit(3)
    store.save_run(WorkflowRun(graph_id="from-child", run_id=run_id))
    store.close()


def test_a_store_inherited_through_fork_opens_its_own_connections(store: SQLiteStore) -> None:
    store.save_run(WorkflowRun(graph_id="g", run_id="parent"))
    assert store.get_run("parent") is not None  # the parent has a reader open as well
    child = multiprocessing.get_context("fork").Process(target=_child_saves, args=(store, "child"))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    found = store.get_run("child")
    assert found is not None and found.graph_id == "from-child"
    store.save_run(WorkflowRun(graph_id="g", run_id="parent-again"))
    assert {r.run_id for r in store.list_runs()[0]} == {"parent", "child", "parent-again"}


def test_importing_the_plugin_loads_neither_sqlite3_nor_the_store() -> None:
    code = (
        "import sys, wfengine_sqlite.plugin, wfengine_sqlite; "
        "print(sorted(m for m in ('sqlite3', 'wfengine_sqlite.store') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_the_writer_checkpoints_the_wal_every_8_mib_not_every_1000_pages(
    store: SQLiteStore,
) -> None:
    from wfengine_sqlite.database import PAGE_SIZE, WAL_CHECKPOINT_PAGES

    store.save_run(WorkflowRun(graph_id="g"))  # opens the writer
    conn = store._writer()
    assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == WAL_CHECKPOINT_PAGES
    limit = conn.execute("PRAGMA journal_size_limit").fetchone()[0]
    assert limit == WAL_CHECKPOINT_PAGES * PAGE_SIZE  # the WAL grows to its size limit
