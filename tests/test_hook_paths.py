"""Durations, attempts and event order reach lifecycle hooks right on every dispatch path.

Issue 13, section 4: a mutation making the streaming path's durations 1000x wrong passed
every test. Each path here runs the same graph and checks the hooks' arguments.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Generator
from typing import Any

import pytest
from wfengine import END, Engine, Graph, hookimpl
from wfengine.storage import MemoryStore

NAP = 0.05


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    @hookimpl
    def wfengine_run_started(self, run: Any) -> None:
        self.calls.append(("run_started",))

    @hookimpl
    def wfengine_node_started(self, node: str, attempt: int) -> None:
        self.calls.append(("node_started", node, attempt))

    @hookimpl
    def wfengine_node_finished(self, node: str, duration: float, attempt: int) -> None:
        self.calls.append(("node_finished", node, attempt, duration))

    @hookimpl
    def wfengine_node_failed(self, node: str, error: Any, attempt: int, will_retry: bool) -> None:
        self.calls.append(("node_failed", node, attempt, will_retry))

    @hookimpl
    def wfengine_run_finished(self, run: Any) -> None:
        self.calls.append(("run_finished", run.status.value))


class Wrapper:
    @hookimpl(wrapper=True)
    def wfengine_node_finished(self) -> Generator[None, Any, Any]:
        return (yield)


class DurableMemory(MemoryStore):
    """A store the executor checkpoints after every step: the general path."""

    durable = True


def graph(async_nodes: bool = False) -> Graph:
    tries = {"n": 0}

    def slow(state: dict[str, Any]) -> dict[str, Any]:
        time.sleep(NAP)
        return {"slow": True}

    def flaky(state: dict[str, Any]) -> dict[str, Any]:
        tries["n"] += 1
        if tries["n"] == 1:
            raise ValueError("first attempt fails")
        return {"flaky": tries["n"]}

    async def aslow(state: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(NAP)
        return {"slow": True}

    return (
        Graph("paths")
        .add_node("slow", aslow if async_nodes else slow)
        .add_node("flaky", flaky, retry={"max_attempts": 2, "initial_delay": 0})
        .add_edge("slow", "flaky")
        .add_edge("flaky", END)
        .set_entry_point("slow")
    )


EXPECTED = [
    ("run_started",),
    ("node_started", "slow", 1),
    ("node_finished", "slow", 1),
    ("node_started", "flaky", 1),
    ("node_failed", "flaky", 1, True),
    ("node_started", "flaky", 2),
    ("node_finished", "flaky", 2),
    ("run_finished", "completed"),
]


def check(calls: list[tuple[Any, ...]]) -> None:
    shapes = [c[:3] if c[0] == "node_finished" else c for c in calls]
    assert shapes == EXPECTED
    durations = {c[1]: c[3] for c in calls if c[0] == "node_finished"}
    assert NAP * 0.8 <= durations["slow"] < NAP * 20  # seconds, not ms or us
    assert 0 <= durations["flaky"] < NAP


def drive(engine: Engine, how: str, g: Graph) -> None:
    if how == "run":
        assert engine.run(g, {}).status == "completed"
    elif how == "stream":
        events = list(engine.stream(g, {}))
        assert events[-1].type.value == "run_finished"
    elif how == "arun":
        assert asyncio.run(engine.arun(g, {})).status == "completed"
    else:
        raise AssertionError(how)


@pytest.mark.parametrize("how", ["run", "stream", "arun"])
@pytest.mark.parametrize("store", ["memory", "durable"])
@pytest.mark.parametrize("pluggy_path", [False, True], ids=["direct", "pluggy"])
def test_hooks_get_right_durations_attempts_and_order(
    how: str, store: str, pluggy_path: bool
) -> None:
    recorder = Recorder()
    plugins: list[object] = [recorder, *([Wrapper()] if pluggy_path else [])]
    engine = Engine(plugins=plugins, load_entrypoints=False)
    engine.set_store(DurableMemory() if store == "durable" else MemoryStore())
    drive(engine, how, graph())
    check(recorder.calls)


def test_async_nodes_report_their_durations_too() -> None:
    recorder = Recorder()
    engine = Engine(plugins=[recorder], load_entrypoints=False)
    drive(engine, "run", graph(async_nodes=True))
    check(recorder.calls)


def test_stream_events_carry_durations_in_milliseconds() -> None:
    engine = Engine(load_entrypoints=False)
    events = list(engine.stream(graph(), {}))
    finished = {e.node: e.data for e in events if e.type.value == "node_finished"}
    assert NAP * 1000 * 0.8 <= finished["slow"]["duration_ms"] < NAP * 1000 * 20
    assert finished["flaky"]["attempt"] == 2
