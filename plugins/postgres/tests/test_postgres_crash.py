"""A run whose process is killed with SIGKILL at a random moment resumes from its last
committed step in another process: committed steps never run again, the step in flight may
run again, the result equals an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from wfengine import Engine, RunStatus

from wfengine_postgres import PostgresStore

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from pg_crashgraph import counting  # noqa: E402

STEPS = 5_000


def lines(path: Path) -> list[int]:
    return [int(x) for x in path.read_text().split()] if path.exists() else []


@pytest.mark.parametrize("after", [20, 150])
def test_killed_at_a_random_moment_loses_no_committed_step(
    postgres_url: str, tmp_path: Path, after: int
) -> None:
    effects = tmp_path / "effects.txt"
    child = subprocess.Popen(
        [sys.executable, str(HERE / "pg_crashgraph.py"), postgres_url, str(effects), str(STEPS)]
    )
    try:
        deadline = time.monotonic() + 60
        while len(lines(effects)) < after and time.monotonic() < deadline:
            assert child.poll() is None, "the child ended before it was killed"
            time.sleep(0.005)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    before = Counter(lines(effects))

    with PostgresStore(postgres_url) as store:
        (run,), _ = store.list_runs()
        assert run.status == RunStatus.RUNNING  # as the killed process left it
        committed = run.step
        assert 0 < committed < STEPS and run.state["seen"] == list(range(1, committed + 1))
        with Engine(load_entrypoints=False, store=store) as engine:
            done = engine.resume(run.run_id, graph=counting(str(effects), STEPS))
    assert done.status == RunStatus.COMPLETED, done.error
    assert done.state == {"i": STEPS, "seen": list(range(1, STEPS + 1))}
    ran = Counter(lines(effects))
    assert sum(before.values()) >= committed
    for step in range(1, STEPS + 1):
        if step == committed + 1:
            assert ran[step] in (1, 2), "the step in flight ran again at most once"
        else:
            assert ran[step] == 1, (step, committed)
