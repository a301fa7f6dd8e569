"""A fixture plugin for the ``wf`` tests, and a launcher running ``wf`` with it.

The plugin registers small tools and workflows (``fx-*``) and a ``wf hello`` command. Run as
a script, this module is ``wf`` with an engine holding the plugin (entry-point plugins too
when ``WF_FIXTURE_ENTRYPOINTS=1``), so subprocess tests can run its workflows::

    python tests/cli/wf_fixture.py run fx-slow
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import click
from wfengine import END, Engine, Graph, hookimpl


def add(state: dict[str, Any], key: str = "n", by: int = 1) -> dict[str, Any]:
    """Add ``by`` to ``state[key]``."""
    return {key: state.get(key, 0) + by}


def nap(state: dict[str, Any], seconds: float = 0.2) -> dict[str, Any]:
    """Sleep, then count the tick."""
    time.sleep(seconds)
    return {"ticks": state.get("ticks", 0) + 1}


def boom(state: dict[str, Any]) -> dict[str, Any]:
    """Always fail."""
    raise ValueError("boom: the input is bad")


class Flaky:
    """Fail the first ``failures`` calls, then succeed."""

    def __init__(self, failures: int = 1) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self, state: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError(f"flaky call {self.calls}")
        return {"flaky_ok": True}


def write_report(state: dict[str, Any]) -> dict[str, Any]:
    """Write a report into ``state['output_dir']`` and say where."""
    out = Path(state.get("output_dir") or ".")
    out.mkdir(parents=True, exist_ok=True)
    path = out / "report.txt"
    path.write_text(f"n={state.get('n')}\n", encoding="utf-8")
    return {"report_path": str(path)}


def count_graph() -> Graph:
    """start -> add -> report: adds ``by`` to ``n`` and writes a report."""
    graph = Graph("fx-count", description="Add to n and write a report")
    graph.add_node("add", lambda s: add(s, by=s.get("by", 1)))
    graph.add_node("report", write_report)
    graph.add_edge("add", "report")
    graph.add_edge("report", END)
    return graph.set_entry_point("add")


def slow_graph() -> Graph:
    """A loop of slow ticks (for Ctrl-C tests): stops after ``limit`` ticks (default 1000)."""
    graph = Graph("fx-slow", max_steps=5000)
    graph.add_node("tick", lambda s: nap(s, s.get("seconds", 0.2)))
    graph.add_edge("tick", "tick", condition=lambda s: s["ticks"] < s.get("limit", 1000))
    graph.add_edge("tick", END, default=True)
    return graph.set_entry_point("tick")


def fail_graph() -> Graph:
    """prepare -> explode: the second node raises."""
    graph = Graph("fx-fail")
    graph.add_node("prepare", lambda s: {"prepared": True})
    graph.add_node("explode", boom)
    graph.add_edge("prepare", "explode")
    graph.add_edge("explode", END)
    return graph.set_entry_point("prepare")


def flaky_graph() -> Graph:
    """One node that fails once and is retried."""
    graph = Graph("fx-flaky")
    retry = {"max_attempts": 3, "initial_delay": 0.0, "jitter": 0.0}
    graph.add_node("fetch", Flaky(1), retry=retry)
    graph.add_edge("fetch", END)
    return graph.set_entry_point("fetch")


def review_graph() -> Graph:
    """draft -> review -> publish (pause before review to approve)."""
    graph = Graph("fx-review")
    graph.add_node("draft", lambda s: {"draft": "text"})
    graph.add_node("review", lambda s: {"approved": bool(s.get("approve"))})
    graph.add_node("publish", lambda s: {"published": s["approved"]})
    graph.add_edge("draft", "review")
    graph.add_edge("review", "publish")
    graph.add_edge("publish", END)
    return graph.set_entry_point("draft")


class FixturePlugin:
    """Tools ``fx.*``, workflows ``fx-*`` and the ``wf hello`` command."""

    __name__ = "fixture"

    @hookimpl
    def wfengine_register_tools(self, registry: Any) -> None:
        registry.register("fx.add", add)
        registry.register("fx.nap", nap)
        registry.register("fx.boom", boom)

    @hookimpl
    def wfengine_register_workflows(self, registry: Any) -> None:
        registry.register("fx-count", count_graph)
        registry.register("fx-slow", slow_graph)
        registry.register("fx-fail", fail_graph)
        registry.register("fx-flaky", flaky_graph)
        registry.register("fx-review", review_graph)

    @hookimpl
    def wfengine_register_commands(self, cli: click.Group) -> None:
        @cli.command("hello")
        def hello() -> None:
            """Say hello (a command added by a plugin)."""
            click.echo("hello from the fixture plugin")


def make_engine() -> Engine:
    """An engine with the fixture plugin (and entry points when WF_FIXTURE_ENTRYPOINTS=1)."""
    entrypoints = os.environ.get("WF_FIXTURE_ENTRYPOINTS") == "1"
    return Engine(plugins=[FixturePlugin()], load_entrypoints=entrypoints)


if __name__ == "__main__":
    from wfengine.cli import main

    main(engine=make_engine)
