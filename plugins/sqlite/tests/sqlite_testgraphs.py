"""Graphs the SQLite tests run, importable by the test processes and their subprocesses.

``counting_loop`` records every node call as a line in a side-effect file, so a test can count
how often each step ran across a crash; it can kill its own process in the middle of a step.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

from wfengine import END, Engine, Graph

import wfengine_sqlite.plugin

STEPS = 50


def open_engine(url: str) -> Engine:
    """An engine with only the SQLite plugin, on ``url``."""
    return Engine(load_entrypoints=False, plugins=[wfengine_sqlite.plugin], store=url)


def initial_state() -> dict[str, Any]:
    """The state a counting loop starts from (with values plain JSON would not keep)."""
    return {"i": 0, "total": Decimal("0.00"), "since": dt.date(2026, 1, 1), "tags": set()}


def counting_loop(
    effects: Path,
    *,
    kill_at: int | None = None,
    kill_after: float | None = None,
    steps: int = STEPS,
) -> Graph:
    """``steps`` steps alternating nodes ``add`` and ``check``; each call appends
    ``<step> <node>`` to ``effects``. With ``kill_at``, the node running step ``kill_at``
    writes its line and then SIGKILLs its own process (mid-step: nothing of it committed).
    With ``kill_after``, step 1 starts a timer that SIGKILLs the process that many seconds
    later, wherever it is (in a node, the executor or a commit)."""

    def record(state: dict[str, Any], node: str) -> int:
        step = state["i"] + 1
        if kill_after is not None and step == 1:
            threading.Timer(kill_after, os.kill, (os.getpid(), signal.SIGKILL)).start()
        with effects.open("a") as f:
            f.write(f"{step} {node}\n")
            f.flush()
        if kill_at is not None and step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return step

    def add(state: dict[str, Any]) -> dict[str, Any]:
        step = record(state, "add")
        return {
            "i": step,
            "total": state["total"] + Decimal("1.25"),
            "tags": state["tags"] | {step % 7},
        }

    def check(state: dict[str, Any]) -> dict[str, Any]:
        step = record(state, "check")
        return {"i": step, "since": state["since"] + dt.timedelta(days=1)}

    graph = Graph("counting-loop", max_steps=steps + 10)
    graph.add_node("add", add)
    graph.add_node("check", check)
    graph.add_edge("add", "check")
    graph.add_edge("check", "add", condition=lambda s: s["i"] < steps)
    graph.add_edge("check", END, default=True)
    graph.set_entry_point("add")
    return graph


def short_loop(steps: int = 10) -> Graph:
    """A loop of ``steps`` steps incrementing ``i`` (for load tests)."""
    graph = Graph("short-loop", max_steps=steps + 10)
    graph.add_node("inc", lambda s: {"i": s["i"] + 1, "trail": [*s["trail"], s["i"]]})
    graph.add_node("noop", lambda s: None)
    graph.add_edge("inc", "noop")
    graph.add_edge("noop", "inc", condition=lambda s: s["i"] < steps // 2)
    graph.add_edge("noop", END, default=True)
    graph.set_entry_point("inc")
    return graph


# -- subprocess entry points: python sqlite_testgraphs.py MODE URL ... ---------------------------


def _run_killed(url: str, effects: str, kill_at: str) -> None:
    """Run the 50-step loop; the node of step ``kill_at`` SIGKILLs this process."""
    with open_engine(url) as engine:
        engine.run(counting_loop(Path(effects), kill_at=int(kill_at)), initial_state())
    raise SystemExit("the run finished: the kill never happened")


def _run_killed_after(url: str, effects: str, steps: str, delay: str) -> None:
    """Run a ``steps``-step loop; a timer SIGKILLs this process ``delay`` seconds into it."""
    with open_engine(url) as engine:
        graph = counting_loop(Path(effects), steps=int(steps), kill_after=float(delay))
        engine.run(graph, initial_state())
    raise SystemExit("the run finished before the kill; lower the delay")


def _resume(url: str, effects: str, steps: str, run_id: str) -> None:
    with open_engine(url) as engine:
        run = engine.resume(run_id, graph=counting_loop(Path(effects), steps=int(steps)))
    print(run.status.value)


def _load(url: str, threads: str, runs: str) -> None:
    """``threads`` threads each running ``runs`` short loops on one engine, and one thread
    reading runs meanwhile; prints the run ids as JSON, exits 1 on any error."""
    import json
    import traceback

    errors: list[str] = []
    ids: list[str] = []
    done = threading.Event()
    with open_engine(url) as engine:
        graph = short_loop(10)

        def work() -> None:
            try:
                for _ in range(int(runs)):
                    run = engine.run(graph, {"i": 0, "trail": []})
                    if run.status != "completed":
                        errors.append(f"run {run.run_id} ended {run.status}: {run.error}")
                    ids.append(run.run_id)
            except BaseException:
                errors.append(traceback.format_exc())

        def read() -> None:
            try:
                while not done.is_set():
                    for run in engine.store.list_runs(limit=20)[0]:
                        engine.store.get_run(run.run_id)
            except BaseException:
                errors.append(traceback.format_exc())

        workers = [threading.Thread(target=work) for _ in range(int(threads))]
        reader = threading.Thread(target=read)
        reader.start()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        done.set()
        reader.join()
    print(json.dumps({"ids": ids, "errors": errors}))
    raise SystemExit(1 if errors else 0)


if __name__ == "__main__":
    import sys

    modes = {
        "killed": _run_killed,
        "killed-after": _run_killed_after,
        "resume": _resume,
        "load": _load,
    }
    modes[sys.argv[1]](*sys.argv[2:])
