"""A run killed with SIGKILL resumes from its last committed step in a new process: committed
steps never run again, the step in flight runs again, the result equals an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlite_testgraphs import STEPS, counting_loop, initial_state, open_engine

HELPER = Path(__file__).with_name("sqlite_testgraphs.py")


def child(*args: object, expect: int = 0) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HELPER.parent), *sys.path])}
    done = subprocess.run(
        [sys.executable, str(HELPER), *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == expect, (done.returncode, done.stdout, done.stderr)
    return done.stdout


def reference_state(tmp_path: Path, steps: int) -> dict[str, object]:
    with open_engine("memory://") as engine:
        run = engine.run(counting_loop(tmp_path / "reference.txt", steps=steps), initial_state())
    assert run.status == "completed"
    return run.state


def calls(effects: Path) -> Counter[int]:
    return Counter(int(line.split()[0]) for line in effects.read_text().splitlines())


def crash_and_resume(tmp_path: Path, steps: int, *kill: object) -> tuple[int, Counter[int]]:
    url = f"sqlite:///{tmp_path}/crash.db"
    effects = tmp_path / "effects.txt"
    child(*kill[:1], url, effects, *kill[1:], expect=-signal.SIGKILL)

    with open_engine(url) as engine:
        (run,), _ = engine.store.list_runs()
        assert run.status == "running"  # as the killed process left it
        committed = run.step
        assert run.state["i"] == committed and len(run.visited_nodes) == committed
    before = calls(effects)

    assert child("resume", url, effects, steps, run.run_id).strip() == "completed"
    with open_engine(url) as engine:
        final = engine.get_run(run.run_id)
    assert final.status == "completed" and final.step == steps
    assert final.state == reference_state(tmp_path, steps)
    assert len(final.logs) == steps
    assert sum(before.values()) >= committed
    return committed, calls(effects)


def test_killed_mid_step_resumes_from_the_last_committed_step(tmp_path: Path) -> None:
    committed, ran = crash_and_resume(tmp_path, STEPS, "killed", 26)
    assert committed == 25
    assert ran == Counter({**{s: 1 for s in range(1, STEPS + 1)}, 26: 2})


@pytest.mark.parametrize("delay", [0.02, 0.06, 0.12])
def test_killed_at_a_random_moment_loses_no_committed_step(tmp_path: Path, delay: float) -> None:
    steps = 10_000  # well over the delay even on a fast machine
    committed, ran = crash_and_resume(tmp_path, steps, "killed-after", steps, delay)
    assert 0 < committed < steps
    print(f"killed after {committed} committed steps")
    for step in range(1, steps + 1):
        if step == committed + 1:
            assert ran[step] in (1, 2)  # the step in flight may have run before the kill
        else:
            assert ran[step] == 1, (step, committed)
