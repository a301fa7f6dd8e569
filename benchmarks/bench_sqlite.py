"""Cost of the SQLite store's checkpoint per step, and the database size per step.

The graph is a 2-node loop: ``a`` adds one to ``i``, ``b`` changes nothing, ``b`` goes back to
``a`` while ``i < N``. Every step is checkpointed (one node per step, so ``2 * N`` steps). The
same graph runs first with the in-memory store without history (``memory://?history=off``,
the engine alone: the baseline, in this process), then with a SQLite file. Size is the
database file plus its ``-wal`` after the store is closed (closing folds the WAL into the
file; no VACUUM), divided by the number of steps.

Targets: at most 30 µs per step with SQLite, at most 200 bytes per step.

    python benchmarks/bench_sqlite.py [--loops N] [--repeat R] [--dir DIR] [--synchronous full]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from wfengine import END, Engine, Graph

TARGET_US_PER_STEP = 30.0
TARGET_BYTES_PER_STEP = 200.0


def build_loop(n: int) -> Graph:
    """The 2-node loop of ``2 * n`` steps."""
    graph = Graph("bench-loop", max_steps=2 * n + 10)
    graph.add_node("a", lambda s: {"i": s["i"] + 1})
    graph.add_node("b", lambda s: None)
    graph.add_edge("a", "b")
    graph.add_edge("b", "a", condition=lambda s: s["i"] < n)
    graph.add_edge("b", END, default=True)
    graph.set_entry_point("a")
    return graph


def time_runs(engine: Engine, graph: Graph, repeat: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU seconds per step of ``repeat`` runs (after one warm-up run).

    CPU time (this process only) is the steadier figure on a busy machine: it leaves out the
    time spent waiting for a CPU.
    """
    engine.run(graph, {"i": 0})
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        run = engine.run(graph, {"i": 0})
        elapsed, elapsed_cpu = time.perf_counter() - start, time.process_time() - start_cpu
        assert run.status == "completed", run.error
        wall.append(elapsed / run.step)
        cpu.append(elapsed_cpu / run.step)
    return wall, cpu


def db_bytes(path: Path) -> int:
    """The database file plus its WAL (if any is left)."""
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loops", type=int, default=10_000, help="N: the loop runs 2N steps")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per store")
    parser.add_argument("--dir", default=None, help="where to put the database (default: tmp)")
    parser.add_argument("--synchronous", default="normal", choices=["normal", "full"])
    args = parser.parse_args(argv)

    import wfengine_sqlite.plugin

    graph = build_loop(args.loops)
    steps = 2 * args.loops

    with Engine(load_entrypoints=False, store="memory://?history=off") as memory:
        base_wall, base_cpu = time_runs(memory, graph, args.repeat)

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "bench.db"
        url = f"sqlite:///{path}?synchronous={args.synchronous}"
        with Engine(load_entrypoints=False, plugins=[wfengine_sqlite.plugin], store=url) as eng:
            wall, cpu = time_runs(eng, graph, args.repeat)
            runs = 1 + args.repeat
        size_all = db_bytes(path)

        # the size of one run alone, in a fresh file
        single = Path(tmp) / "single.db"
        url = f"sqlite:///{single}"
        with Engine(load_entrypoints=False, plugins=[wfengine_sqlite.plugin], store=url) as eng:
            eng.run(graph, {"i": 0})
        size_one = db_bytes(single)

    def us(values: list[float]) -> str:
        return f"best {min(values) * 1e6:6.2f}  median {statistics.median(values) * 1e6:6.2f}"

    per_step_bytes = size_one / steps
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"2-node loop, {steps} steps per run, {args.repeat} timed runs, Python "
        f"{sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {load:.2f}"
    )
    print("µs per step                wall clock                  CPU (this process)")
    print(f"memory store (baseline):   {us(base_wall)}    {us(base_cpu)}")
    print(f"sqlite store:              {us(wall)}    {us(cpu)}")
    print(
        f"checkpoint adds (best):    {(min(wall) - min(base_wall)) * 1e6:6.2f} µs wall, "
        f"{(min(cpu) - min(base_cpu)) * 1e6:6.2f} µs CPU; sqlite/memory "
        f"{min(wall) / min(base_wall):.1f}x"
    )
    print(
        f"sqlite size:               {per_step_bytes:.1f} bytes/step for one run "
        f"({size_one} bytes); {size_all / (steps * runs):.1f} bytes/step over {runs} runs"
    )
    best = min(wall) * 1e6
    ok = best <= TARGET_US_PER_STEP and per_step_bytes <= TARGET_BYTES_PER_STEP
    print(
        f"targets: <= {TARGET_US_PER_STEP:.0f} µs/step (best wall), "
        f"<= {TARGET_BYTES_PER_STEP:.0f} bytes/step: {'met' if ok else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
