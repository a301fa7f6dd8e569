"""Execution backends (issue 14): what running node calls in worker processes buys and costs.

Two figures, each a ratio or a difference measured in this process:

* CPU-bound fan-out: 4 branches of ~0.3 s of pure-Python work each. Wall time on
  ``processes://?workers=N`` over wall time on ``threads://`` (the GIL runs threads one at a
  time): at most 0.6 on a 2-core machine.
* Overhead of one trivial remote node call on ``processes://`` (the pool started
  beforehand): a 1-node run on processes minus the same run on threads, per call: at most
  1 ms.

    python benchmarks/bench_backends.py [--workers N] [--repeat R]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from collections.abc import Callable
from typing import Any

from wfengine import END, Engine, Graph
from wfengine.engine import RemoteMemoryStoreWarning

BRANCHES = 4


def spin(state: dict[str, Any]) -> dict[str, Any]:
    """~0.3 s of pure-Python arithmetic (the loop count is calibrated at start)."""
    total = 0
    for k in range(state["loops"]):
        total += k * k % 7
    return {"totals": [total]}


def trivial(state: dict[str, Any]) -> dict[str, Any]:
    return {"n": state.get("n", 0) + 1}


def fan_out() -> Graph:
    graph = Graph("cpu").add_node("start", lambda s: None).set_entry_point("start")
    for k in range(BRANCHES):
        graph.add_node(f"b{k}", spin).add_edge("start", f"b{k}")
    graph.add_node("join", lambda s: None).add_edge([f"b{k}" for k in range(BRANCHES)], "join")
    return graph.add_edge("join", END).set_reducer("totals", "extend")


def one_node() -> Graph:
    return Graph("one").add_node("a", trivial).add_edge("a", END).set_entry_point("a")


def calibrate(seconds: float = 0.3) -> int:
    loops = 200_000
    while True:
        start = time.perf_counter()
        spin({"loops": loops})
        took = time.perf_counter() - start
        if took > 0.2:
            return int(loops * seconds / took)
        loops *= 2


def best(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore", RemoteMemoryStoreWarning)
    loops = calibrate()
    threads = Engine(load_entrypoints=False, backend="threads://")
    processes = Engine(load_entrypoints=False, backend=f"processes://?workers={args.workers}")
    processes.runner.start()  # type: ignore[attr-defined]
    graph, single = fan_out(), one_node()
    for engine in (threads, processes):  # warm: pools, imports, pickled functions
        engine.run(graph, {"loops": 1000})
        engine.run(single, {})

    on_threads = best(lambda: threads.run(graph, {"loops": loops}), args.repeat)
    on_processes = best(lambda: processes.run(graph, {"loops": loops}), args.repeat)
    ratio = on_processes / on_threads
    print(f"machine: {os.cpu_count()} cores; processes://?workers={args.workers}")
    alone = best(lambda: spin({"loops": loops}), 1)
    print(f"one branch alone: {alone:.2f} s (calibrated for 0.3 s; less on a loaded machine)")
    ok = "ok  " if ratio <= 0.6 else "MISS"
    print(
        f"{ok} CPU-bound fan-out {BRANCHES} x {alone:.2f} s: threads {on_threads:.2f} s, processes "
        f"{on_processes:.2f} s = {ratio:.2f}x (target <= 0.6x)"
    )

    calls = 300
    local = best(lambda: [threads.run(single, {}) for _ in range(calls)], args.repeat) / calls
    remote = best(lambda: [processes.run(single, {}) for _ in range(calls)], args.repeat) / calls
    overhead_ms = (remote - local) * 1000
    ok = "ok  " if overhead_ms <= 1.0 else "MISS"
    print(
        f"{ok} one trivial remote node call: {overhead_ms:.3f} ms over threads "
        f"({remote * 1e6:.0f} us vs {local * 1e6:.0f} us per 1-node run; target <= 1 ms)"
    )
    processes.close()
    threads.close()


if __name__ == "__main__":
    main()
