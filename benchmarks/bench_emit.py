"""The cost of ``wfengine.emit()`` when nothing listens (issue 16: at most 1 us per call).

A node may call ``emit`` in its inner loop; with no consumer (no stream, no
``wfengine_node_progress`` hook, no JSON log) each call must cost next to nothing. Measured
in this process against an empty function call with the same arguments, inside a node (the
driver set no sink) and outside any node; the best of several repeats is kept.

    python benchmarks/bench_emit.py
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import wfengine
from wfengine import END, Engine, Graph

CALLS = 1_000_000
REPEATS = 7
TARGET_US = 1.0


def empty(kind: str, data: Any = None) -> None:
    return None


def loop(func: Callable[..., None]) -> float:
    """Seconds for ``CALLS`` calls of ``func("progress", data)``, best of ``REPEATS``."""
    data = {"done": 1, "total": CALLS}
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(CALLS):
            func("progress", data)
        best = min(best, time.perf_counter() - start)
    return best


def in_node() -> float:
    """``loop(wfengine.emit)`` timed inside a node of a run nobody listens to."""
    took: list[float] = []

    def node(state: dict[str, Any]) -> dict[str, Any]:
        took.append(loop(wfengine.emit))
        return {}

    graph = Graph("bench-emit").add_node("n", node).add_edge("n", END).set_entry_point("n")
    with Engine(load_entrypoints=False) as engine:
        engine.run(graph)
    return took[0]


def main() -> dict[str, float]:
    base = loop(empty)
    outside = loop(wfengine.emit)
    inside = in_node()
    per_call = {
        "empty_call_us": base / CALLS * 1e6,
        "emit_outside_node_us": outside / CALLS * 1e6,
        "emit_in_node_us": inside / CALLS * 1e6,
    }
    per_call["ratio_vs_empty_call"] = per_call["emit_in_node_us"] / per_call["empty_call_us"]
    for name, value in per_call.items():
        print(f"{name:24s} {value:8.3f}")
    verdict = "ok" if per_call["emit_in_node_us"] <= TARGET_US else "OVER"
    print(f"target: emit with no consumer <= {TARGET_US} us per call: {verdict}")
    return per_call


if __name__ == "__main__":
    main()
