"""The Dask backend (issue 14): a CPU-bound fan-out and the cost of one remote call.

* CPU-bound fan-out, 4 branches of ~0.3 s pure Python: wall time on
  ``dask://local?workers=2`` (the cluster started beforehand) over wall time on
  ``threads://``: at most 0.65 on a 2-core machine.
* One trivial node call on Dask over the same call on threads: at most 5 ms.

    python benchmarks/bench_dask.py [--workers N] [--repeat R]
"""

from __future__ import annotations

import argparse
import logging
import os
import warnings

from bench_backends import best, calibrate, fan_out, one_node
from wfengine import Engine
from wfengine.engine import RemoteMemoryStoreWarning


def _same(value: object) -> object:
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore", RemoteMemoryStoreWarning)
    logging.getLogger("distributed").setLevel(logging.ERROR)
    loops = calibrate()
    threads = Engine(backend="threads://")
    dask = Engine(backend=f"dask://local?workers={args.workers}")
    graph, single = fan_out(), one_node()
    for engine in (threads, dask):  # warm: cluster, imports, pickled functions
        engine.run(graph, {"loops": 1000})
        engine.run(single, {})
    on_threads = best(lambda: threads.run(graph, {"loops": loops}), args.repeat)
    on_dask = best(lambda: dask.run(graph, {"loops": loops}), args.repeat)
    ratio = on_dask / on_threads
    print(f"machine: {os.cpu_count()} cores; dask://local?workers={args.workers}")
    ok = "ok  " if ratio <= 0.65 else "MISS"
    print(
        f"{ok} CPU-bound fan-out 4 x 0.3 s: threads {on_threads:.2f} s, dask "
        f"{on_dask:.2f} s = {ratio:.2f}x (target <= 0.65x)"
    )
    calls = 100
    local = best(lambda: [threads.run(single, {}) for _ in range(calls)], args.repeat) / calls
    remote = best(lambda: [dask.run(single, {}) for _ in range(calls)], args.repeat) / calls
    overhead_ms = (remote - local) * 1000
    client = dask.runner.client  # type: ignore[attr-defined]
    raw = best(lambda: [client.submit(_same, 1, pure=False).result() for _ in range(calls)], 3)
    raw_ms = raw / calls * 1000
    ok = "ok  " if overhead_ms <= 5.0 else "MISS"
    print(
        f"{ok} one trivial remote node call: {overhead_ms:.2f} ms over threads (target <= 5 ms); "
        f"Dask's own round trip of a no-op task here: {raw_ms:.2f} ms, so the engine adds "
        f"{overhead_ms - raw_ms:.2f} ms"
    )
    dask.close()
    threads.close()


if __name__ == "__main__":
    main()
