"""Cost of wfengine-jsonlog per logged event, on the 2-node loop of 10,000 steps.

Measured in one process (best of several interleaved repeats; this is a shared machine):

* ``without``: an engine with no lifecycle plugin (the executor skips events entirely);
* ``off``: the jsonlog plugin registered but not configured (hooks return at once);
* ``no-op``: a plugin whose lifecycle hooks do nothing (the engine's own event dispatch);
* ``file``: the jsonlog plugin appending every event to a file;

and, apart from the engine, the node hooks called directly (to a file, and unconfigured).

Each step logs two events (node_started, node_finished) and each run two more. The figure
the issue sets a target for is ``(file - without) / events``: at most 5 us per event.

    python benchmarks/bench_jsonlog.py [--steps N] [--repeats R]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from wfengine import END, Engine, Graph, WorkflowRun, hookimpl
from wfengine_jsonlog import JsonLogPlugin

TARGET_US = 5.0


def loop_graph(steps: int) -> Graph:
    """``a`` increments ``i``, ``b`` does nothing, back to ``a`` until ``steps`` are done."""
    half = steps // 2
    return (
        Graph("loop")
        .add_node("a", lambda s: {"i": s["i"] + 1})
        .add_node("b", lambda s: None)
        .add_edge("a", "b")
        .add_edge("b", "a", condition=lambda s: s["i"] < half)
        .add_edge("b", END, default=True)
        .set_entry_point("a")
    )


class NoOpHooks:
    """Lifecycle hooks that do nothing: what the engine's event dispatch alone costs."""

    @hookimpl
    def wfengine_run_started(self, run: WorkflowRun) -> None:
        """Nothing."""

    @hookimpl
    def wfengine_node_started(self, run: WorkflowRun, node: str, attempt: int) -> None:
        """Nothing."""

    @hookimpl
    def wfengine_node_finished(
        self, run: WorkflowRun, node: str, update: Any, duration: float, attempt: int
    ) -> None:
        """Nothing."""

    @hookimpl
    def wfengine_run_finished(self, run: WorkflowRun) -> None:
        """Nothing."""


def hook_calls(plugin: JsonLogPlugin, events: int, repeats: int) -> float:
    """Seconds per event for calling the node hooks directly, as the engine would."""
    run = WorkflowRun("loop", state={"i": 0})
    started, finished = plugin.wfengine_node_started, plugin.wfengine_node_finished
    update = {"i": 1}
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(events // 2):
            started(run, "a", 1)
            finished(run, "a", update, 1e-5, 1)
        best = min(best, time.perf_counter() - start)
    return best / (events // 2 * 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    os.environ.pop("WFENGINE_JSONLOG", None)
    os.environ.pop("WFENGINE_JSONLOG_VALUES", None)

    steps = args.steps
    graph = loop_graph(steps)
    events = 2 * steps + 2
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        file_plugin = JsonLogPlugin(path)
        engines = {
            "without": Engine(load_entrypoints=False),
            "off": Engine(plugins=[JsonLogPlugin()], load_entrypoints=False),
            "no-op": Engine(plugins=[NoOpHooks()], load_entrypoints=False),
            "file": Engine(plugins=[file_plugin], load_entrypoints=False),
        }
        runners: dict[str, Callable[[], Any]] = {
            name: partial(engine.run, graph, {"i": 0}, max_steps=steps + 10)
            for name, engine in engines.items()
        }
        best = dict.fromkeys(runners, float("inf"))
        for _ in range(args.repeats):  # interleaved, so drift in machine load hits all alike
            for name, run in runners.items():
                start = time.perf_counter()
                result = run()
                best[name] = min(best[name], time.perf_counter() - start)
                assert result.status.value == "completed", result.error
        lines = path.read_bytes().count(b"\n")
        direct_file = hook_calls(file_plugin, events, args.repeats)
        direct_off = hook_calls(JsonLogPlugin(), events, args.repeats)
        file_plugin.close()
        for engine in engines.values():
            engine.close()

    assert lines == events * args.repeats, (lines, events * args.repeats)
    base = best["without"]
    print(f"2-node loop, {steps:,} steps, {events:,} events per run (best of {args.repeats})")
    print(f"  {'case':<34}{'per step':>12}{'per event vs without':>24}")
    for name, label in (
        ("without", "without lifecycle plugins"),
        ("off", "jsonlog installed, not configured"),
        ("no-op", "no-op lifecycle hooks (dispatch)"),
        ("file", "jsonlog writing to a file"),
    ):
        per_step = best[name] / steps * 1e6
        extra = (best[name] - base) / events * 1e6
        print(f"  {label:<34}{per_step:>9.2f} us{extra:>21.2f} us")
    per_event = (best["file"] - base) / events * 1e6
    own = (best["file"] - best["no-op"]) / events * 1e6
    print(
        f"  hooks called directly: {direct_file * 1e6:.2f} us per event writing to the file, "
        f"{direct_off * 1e6:.3f} us when not configured"
    )
    verdict = "OK" if per_event <= TARGET_US else "OVER TARGET"
    print(
        f"jsonlog to a file: {per_event:.2f} us per event (target <= {TARGET_US:.0f} us: "
        f"{verdict}); of which the plugin itself {own:.2f} us, engine dispatch the rest"
    )


if __name__ == "__main__":
    main()
