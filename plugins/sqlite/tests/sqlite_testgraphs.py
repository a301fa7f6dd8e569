"""Graphs the SQLite tests run, importable by the test processes and their subprocesses.

``counting_loop`` records every node call as a line in a side-effect file, so a test can count
how often each step ran across a crash; it can kill its own process in the middle of a step.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
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


def counting_loop(effects: Path, *, kill_at: int | None = None, steps: int = STEPS) -> Graph:
    """``steps`` steps alternating nodes ``add`` and ``check``; each call appends
    ``<step> <node>`` to ``effects``. With ``kill_at``, the node running step ``kill_at``
    writes its line and then SIGKILLs its own process (mid-step: nothing of it committed)."""

    def record(state: dict[str, Any], node: str) -> int:
        step = state["i"] + 1
        with effects.open("a") as f:
            f.write(f"{step} {node}\n")
            f.flush()
        if kill_at is not None and step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return step

    def add(state: dict[str, Any]) -> dict[str, Any]:
        step = record(state, "add")
        return {"i": step, "total": state["total"] + Decimal("1.25"),
                "tags": state["tags"] | {step % 7}}

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
