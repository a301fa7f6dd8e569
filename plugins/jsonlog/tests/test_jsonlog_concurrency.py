"""Parallel branches and concurrent runs never interleave lines."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from wfengine import END, Engine, Graph, WorkflowRun

from wfengine_jsonlog import JsonLogPlugin

Reader = Callable[[Path], list[dict[str, Any]]]


def wide_graph(branches: int) -> Graph:
    """start -> ``branches`` parallel nodes, each writing a long value -> join -> END."""
    graph = Graph("wide").add_node("start", lambda s: {"go": True}).set_entry_point("start")
    for k in range(branches):
        graph.add_node(f"b{k}", lambda s, k=k: {f"out{k}": "x" * 900})
        graph.add_edge("start", f"b{k}")
    graph.add_node("join", lambda s: None)
    graph.add_edge([f"b{k}" for k in range(branches)], "join")
    return graph.add_edge("join", END)


def test_concurrent_runs_with_wide_fanout_write_whole_lines(
    tmp_path: Path, read_log: Reader
) -> None:
    path = tmp_path / "events.jsonl"
    plugin = JsonLogPlugin(path, values=True)
    engine = Engine(plugins=[plugin], load_entrypoints=False)
    graph = wide_graph(16)
    with ThreadPoolExecutor(8) as pool:
        runs = list(pool.map(lambda _: engine.run(graph, {}), range(24)))
    assert {r.status.value for r in runs} == {"completed"}
    events = read_log(path)  # every line parses: none was torn or interleaved
    per_run = Counter(e["run_id"] for e in events)
    # run_started + 2 * (start + 16 branches + join) + run_finished
    assert per_run == {r.run_id: 2 + 2 * 18 for r in runs}
    finished = [e for e in events if e["event"] == "node_finished" and e["node"] != "start"]
    assert all(e["values"] == {f"out{e['node'][1:]}": "x" * 900} for e in finished if e["keys"])


def test_many_threads_calling_hooks_at_once(tmp_path: Path, read_log: Reader) -> None:
    path = tmp_path / "hammer.jsonl"
    plugin = JsonLogPlugin(path, values=True, max_value_bytes=64 * 1024)
    run = WorkflowRun("hammer", state={})
    threads, per_thread = 12, 400
    start = threading.Barrier(threads)
    payload = "y" * 9000  # lines far longer than PIPE_BUF and a page

    def hammer(t: int) -> None:
        start.wait()
        for i in range(per_thread):
            plugin.wfengine_node_finished(run, f"t{t}", {"i": i, "pad": payload}, 0.001, 1)

    workers = [threading.Thread(target=hammer, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    events = read_log(path)
    assert len(events) == threads * per_thread
    for t in range(threads):
        mine = [e["values"]["i"] for e in events if e["node"] == f"t{t}"]
        assert mine == list(range(per_thread))  # one thread's lines stay in its order
    assert all(e["values"]["pad"] == payload for e in events)
