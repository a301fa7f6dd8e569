"""Cost of the PostgreSQL store's checkpoint per step, against SQLite in the same process.

The graph is bench_sqlite.py's 2-node loop (``a`` adds one to ``i``, ``b`` changes nothing;
``2 * N`` steps, each checkpointed). It runs on the memory store (no checkpoint: the
engine's own cost), on SQLite at its default (``synchronous=normal``) and at
``synchronous=full`` (an fsync per commit), and on PostgreSQL over loopback: with its default
durability (``synchronous_commit=on``, ``fsync=on``: a commit returns once its WAL is on
disk), and with ``synchronous_commit=off`` given in the URL (``?options=-c%20synchronous_
commit%3Doff``: what SQLite's ``normal`` is, a commit survives the client's crash, a
server crash may lose the last few hundred milliseconds of commits, never corrupts).

The floor row is a bare ``INSERT`` of a step-sized row on one psycopg connection of the same
server (no engine, no pool): what the server and this machine's disk cost by themselves.

PostgreSQL is a private cluster this script starts (``wfengine_postgres.testing``, the
server's default settings) unless ``--url`` names a database.

The anchor (issue 19): LangGraph's ``PostgresSaver`` running the same loop on the same
server, when ``--langgraph-python`` names a Python that has ``langgraph`` and
``langgraph-checkpoint-postgres`` (a benchmark-only environment, never a dependency)::

    python -m venv /tmp/venv-lg
    /tmp/venv-lg/bin/pip install langgraph langgraph-checkpoint-postgres "psycopg[binary]"
    python benchmarks/bench_postgres.py --langgraph-python /tmp/venv-lg/bin/python

Target: at most 300 µs per step on PostgreSQL (loopback).

    python benchmarks/bench_postgres.py [--loops N] [--repeat R] [--url postgresql://...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from wfengine import END, Engine, Graph

TARGET_US_PER_STEP = 300.0
ASYNC_COMMIT = "options=-c%20synchronous_commit%3Doff"


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
    """Wall-clock and CPU µs per step of ``repeat`` runs (after one warm-up run)."""
    engine.run(graph, {"i": 0})
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        run = engine.run(graph, {"i": 0})
        elapsed, elapsed_cpu = time.perf_counter() - start, time.process_time() - start_cpu
        assert run.status == "completed", run.error
        wall.append(elapsed / run.step * 1e6)
        cpu.append(elapsed_cpu / run.step * 1e6)
    return wall, cpu


def bare_inserts(url: str, count: int, repeat: int) -> tuple[list[float], list[float]]:
    """µs per ``INSERT`` of a step-sized row, autocommit, on one connection."""
    import psycopg

    wall, cpu = [], []
    with psycopg.connect(url, autocommit=True) as conn:
        # a real table: a temporary one writes no WAL, so its commits wait for no flush
        conn.execute("DROP TABLE IF EXISTS bench_floor")
        conn.execute("CREATE TABLE bench_floor (k int PRIMARY KEY, a text, b text, c text)")
        row = ['["a"]', '["b"]', '{"i":1}']
        for attempt in range(repeat + 1):
            conn.execute("TRUNCATE bench_floor")
            start, start_cpu = time.perf_counter(), time.process_time()
            for k in range(count):
                conn.execute("INSERT INTO bench_floor VALUES (%s, %s, %s, %s)", (k, *row))
            if attempt:  # the first round warms up (and prepares the statement)
                wall.append((time.perf_counter() - start) / count * 1e6)
                cpu.append((time.process_time() - start_cpu) / count * 1e6)
        conn.execute("DROP TABLE bench_floor")
    return wall, cpu


LANGGRAPH_LOOP = """
import sys, time
from typing import TypedDict
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.graph import END, START, StateGraph

url, n, repeat = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

class S(TypedDict):
    i: int

g = StateGraph(S)
g.add_node("a", lambda s: {"i": s["i"] + 1})
g.add_node("b", lambda s: {})
g.add_edge(START, "a")
g.add_edge("a", "b")
g.add_conditional_edges("b", lambda s: "a" if s["i"] < n else END)
with PostgresSaver.from_conn_string(url) as saver:
    saver.setup()
    app = g.compile(checkpointer=saver)
    for run in range(repeat + 1):  # the first warms up
        config = {"configurable": {"thread_id": f"t{run}"}, "recursion_limit": 2 * n + 10}
        start, cpu = time.perf_counter(), time.process_time()
        app.invoke({"i": 0}, config)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        if run:
            print(wall / (2 * n) * 1e6, cpu / (2 * n) * 1e6)
"""


def langgraph_loop(
    python: str, url: str, loops: int, repeat: int
) -> tuple[list[float], list[float]]:
    """µs per step of the same loop on LangGraph's PostgresSaver, in ``python``."""
    import subprocess

    done = subprocess.run(
        [python, "-c", LANGGRAPH_LOOP, url, str(loops), str(repeat)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"the LangGraph loop failed:\n{done.stderr}")
    pairs = [tuple(map(float, line.split())) for line in done.stdout.split("\n") if line]
    return [wall for wall, _ in pairs], [cpu for _, cpu in pairs]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loops", type=int, default=2_000, help="N: the loop runs 2N steps")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per store")
    parser.add_argument("--url", default=None, help="a PostgreSQL database to use instead")
    parser.add_argument(
        "--langgraph-python",
        default=None,
        help="a Python with langgraph-checkpoint-postgres: adds LangGraph's PostgresSaver row",
    )
    args = parser.parse_args(argv)

    import wfengine_postgres.plugin
    import wfengine_sqlite.plugin
    from wfengine_postgres.testing import create_database, postgres_server

    graph = build_loop(args.loops)
    plugins = [wfengine_sqlite.plugin, wfengine_postgres.plugin]
    rows: list[tuple[str, list[float], list[float]]] = []
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        if args.url:
            pg_url = args.url
        else:
            server = stack.enter_context(postgres_server())  # PostgreSQL's defaults: durable
            pg_url = create_database(server.url, "bench")
        joiner = "&" if "?" in pg_url else "?"
        stores = [
            ("memory (no checkpoint)", "memory://"),
            ("sqlite synchronous=normal", f"sqlite:///{tmp}/normal.db"),
            ("sqlite synchronous=full", f"sqlite:///{tmp}/full.db?synchronous=full"),
            ("postgresql (default: durable)", pg_url),
            ("postgresql synchronous_commit=off", pg_url + joiner + ASYNC_COMMIT),
        ]
        for name, url in stores:
            with Engine(load_entrypoints=False, plugins=plugins, store=url) as engine:
                rows.append((name, *time_runs(engine, graph, args.repeat)))
        if args.langgraph_python:
            lg_url = create_database(server.url, "bench_lg") if not args.url else pg_url
            lg = langgraph_loop(args.langgraph_python, lg_url, args.loops, args.repeat)
        rows.append(("floor: bare INSERT (durable)", *bare_inserts(pg_url, 2000, args.repeat)))
        rows.append(
            (
                "floor: bare INSERT (sync off)",
                *bare_inserts(pg_url + joiner + ASYNC_COMMIT, 2000, args.repeat),
            )
        )
        if args.langgraph_python:
            rows.append(("langgraph PostgresSaver (durable)", *lg))

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"checkpointed 2-node loop, {2 * args.loops} steps, {args.repeat} timed runs, "
        f"{os.cpu_count()} CPUs, load average {load:.2f}"
    )
    print(f"{'µs per step':<36} {'best':>7} {'median':>7} {'CPU median':>11}")
    for name, wall, cpu in rows:
        print(f"{name:<36} {min(wall):>7.1f} {statistics.median(wall):>7.1f} "
              f"{statistics.median(cpu):>11.1f}")  # fmt: skip
    durable = min(rows[3][1])
    print(
        f"target: <= {TARGET_US_PER_STEP:.0f} µs/step on PostgreSQL (best wall, default "
        f"durability): {'met' if durable <= TARGET_US_PER_STEP else 'NOT met'} "
        f"({durable:.0f} µs; the bare durable INSERT costs {min(rows[5][1]):.0f} µs here)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
