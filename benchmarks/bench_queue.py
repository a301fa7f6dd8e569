"""Throughput of queued trivial runs with several ``wf worker`` processes on one store.

A trivial run is one node, one checkpoint (issue 19). ``--runs`` of them are submitted
(``Engine.submit``, timed apart), then ``--workers`` worker processes
(``python -m wfengine worker --exit-when-idle``) drain the queue. Reported, in runs/s:

* ``wall``: runs / seconds from starting the workers until the last one exits (process
  start-up included);
* ``steady``: runs finished between the 10th and the last finish / the time between them
  (the rate once the workers are going).

Every run is checked to have completed exactly once (its node appends a line to a file).
The store URL is an argument, so the same figure can be taken on PostgreSQL
(``postgresql://user@host/db`` with wfengine-postgres installed) or on SQLite at
``?synchronous=full``. Target (issue 19): at least 200 runs/s with 4 workers.

    python benchmarks/bench_queue.py [--store URL | --postgres] [--runs N] [--workers W]
                                     [--concurrency C]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from wfengine import Engine

TARGET_RUNS_PER_S = 200.0

NODE = """
import os

def touch(state):
    fd = os.open(os.environ["BENCH_QUEUE_SIDE"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, (state["tag"] + "\\n").encode())
    finally:
        os.close(fd)
    return {"done": True}
"""

SPEC = {
    "name": "bench-queue",
    "entry": "touch",
    "nodes": {"touch": {"call": "bench_queue_node:touch"}},
    "edges": [{"from": "touch", "to": "END"}],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", help="store URL (default: a new SQLite file in a temp dir)")
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=1, help="runs at once per worker")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="start a private PostgreSQL server (wfengine-postgres) and use it as the store",
    )
    args = parser.parse_args()
    if args.postgres:
        from wfengine_postgres.testing import postgres_server

        with postgres_server() as server:
            args.store = server.create_database()
            measure(args)
    else:
        measure(args)


def measure(args: argparse.Namespace) -> None:
    """Submit, drain with worker processes, check and print (see the module docstring)."""

    with tempfile.TemporaryDirectory(prefix="bench-queue-") as tmp:
        work = Path(tmp)
        (work / "bench_queue_node.py").write_text(NODE)
        side = work / "side.txt"
        sys.path.insert(0, str(work))
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(work), *sys.path]),
            "BENCH_QUEUE_SIDE": str(side),
        }
        os.environ["BENCH_QUEUE_SIDE"] = str(side)
        url = args.store or f"sqlite:///{work}/queue.db"
        with Engine(store=url) as engine:
            start = time.perf_counter()
            ids = [engine.submit(SPEC, {"tag": f"r{i}"}) for i in range(args.runs)]
            submit_s = time.perf_counter() - start
            command = [sys.executable, "-m", "wfengine", "--store", url, "worker"]
            options = ["--exit-when-idle", "--poll", "0.01"]
            options += ["--concurrency", str(args.concurrency)]
            start = time.perf_counter()
            procs = [
                subprocess.Popen(
                    [*command, *options, "--name", f"bench{i}"],
                    env=env,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for i in range(args.workers)
            ]
            for proc in procs:
                _out, err = proc.communicate()
                if proc.returncode:
                    raise SystemExit(f"a worker failed:\n{err}")
            wall_s = time.perf_counter() - start
            runs = [engine.store.get_run(run_id) for run_id in ids]
        done = Counter(side.read_text().split())
        assert all(run is not None and run.status == "completed" for run in runs)
        assert len(done) == args.runs and set(done.values()) == {1}, "each run exactly once"
        finished = sorted(run.finished or 0.0 for run in runs if run is not None)
        steady = (len(finished) - 10) / (finished[-1] - finished[9])

    print(f"store: {url if args.store else 'sqlite (temp file, synchronous=normal)'}")
    print(f"runs: {args.runs}, workers: {args.workers} x concurrency {args.concurrency}")
    print(f"submit: {args.runs / submit_s:,.0f} runs/s ({submit_s * 1e6 / args.runs:,.0f} us/run)")
    print(f"wall:   {args.runs / wall_s:,.0f} runs/s ({wall_s:.2f} s, worker start-up included)")
    print(f"steady: {steady:,.0f} runs/s (target >= {TARGET_RUNS_PER_S:.0f})")


if __name__ == "__main__":
    main()
