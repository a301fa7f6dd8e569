"""4 processes x 8 threads running runs against one fresh database file at once (plus a reader
thread each): no errors, every run complete and readable, row counts exact."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from sqlite_testgraphs import open_engine

HELPER = Path(__file__).with_name("sqlite_testgraphs.py")
PROCESSES, THREADS, RUNS = 4, 8, 15
STEPS = 10  # short_loop(10)


def test_many_processes_and_threads_share_one_database(tmp_path: Path) -> None:
    db = tmp_path / "load.db"
    url = f"sqlite:///{db}?timeout=60"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HELPER.parent), *sys.path])}
    start = time.monotonic()
    children = [
        subprocess.Popen(
            [sys.executable, str(HELPER), "load", url, str(THREADS), str(RUNS)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    ids: list[str] = []
    for proc in children:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, (out, err)
        report = json.loads(out)
        assert report["errors"] == []
        ids += report["ids"]
    elapsed = time.monotonic() - start

    total = PROCESSES * THREADS * RUNS
    assert len(ids) == len(set(ids)) == total
    with open_engine(url) as engine:
        for run_id in ids:
            run = engine.get_run(run_id)
            assert run.status == "completed" and run.step == STEPS
            assert run.state == {"i": STEPS // 2, "trail": list(range(STEPS // 2))}
            assert len(run.logs) == STEPS
        assert len(engine.store.list_runs()[0]) == total
    with sqlite3.connect(db) as conn:
        counts = {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("runs", "steps", "snapshots", "attempts")
        }
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # a snapshot at the start (step 0) and at the end of each run
    assert counts == {"runs": total, "steps": total * STEPS, "snapshots": 2 * total, "attempts": 0}
    assert elapsed < 60, f"took {elapsed:.1f} s"
