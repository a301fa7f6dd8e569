"""The behaviour every execution backend keeps: scenarios a backend's tests run.

A backend plugin's tests run each scenario on an engine using its backend (see
``docs/backends.md``)::

    import pytest
    from wfengine.backend_contract import SCENARIOS

    @pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
    def test_my_backend(scenario, my_engine, tmp_path):
        scenario(my_engine, tmp_path)

The node functions are module-level functions of this module, so a worker finds them by
import wherever ``wfengine`` is installed (lambdas and closures travel by cloudpickle).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .engine import Engine
from .graph import END, Graph
from .retry import RetryPolicy
from .run import RunStatus
from .runner import ThreadRunner

__all__ = ["REMOTE_SCENARIOS", "SCENARIOS"]


# -- node functions (module level: any worker imports them) -------------------------------------


def inc(state: dict[str, Any]) -> dict[str, Any]:
    return {"i": state.get("i", 0) + 1}


def pid(state: dict[str, Any]) -> dict[str, Any]:
    return {"pids": [os.getpid()]}


def mutate_and_return(state: dict[str, Any]) -> dict[str, Any]:
    state["seen"] = True  # the seed's style: mutate the state, return it
    state["items"] = ["x"]
    return state


async def async_node(state: dict[str, Any]) -> dict[str, Any]:
    await asyncio.sleep(0.001)
    return {"async": True}


def slow(state: dict[str, Any]) -> None:
    time.sleep(3)


def fail_until_third(state: dict[str, Any]) -> dict[str, Any]:
    marker = Path(state["marker"])
    count = int(marker.read_text()) + 1 if marker.exists() else 1
    marker.write_text(str(count))
    if count < 3:
        raise ValueError(f"attempt {count} fails")
    return {"done": count}


def die_once(state: dict[str, Any]) -> dict[str, Any]:
    marker = Path(state["marker"])
    if not marker.exists():
        marker.write_text("died")
        os.kill(os.getpid(), signal.SIGKILL)
    return {"survived": True}


def sibling(state: dict[str, Any]) -> dict[str, Any]:
    time.sleep(0.3)
    return {"sibling": os.getpid()}


# -- the scenarios --------------------------------------------------------------------------------


def scenario_chain(engine: Engine, tmp_path: Path) -> None:
    """A 5-node chain: state, steps and log as on threads."""
    graph = Graph("chain")
    for k in range(5):
        graph.add_node(f"n{k}", inc)
        if k:
            graph.add_edge(f"n{k - 1}", f"n{k}")
    graph.add_edge("n4", END).set_entry_point("n0")
    run = engine.run(graph, {"i": 0})
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state == {"i": 5} and run.step == 5
    assert [entry.node for entry in run.logs] == ["n0", "n1", "n2", "n3", "n4"]


def scenario_loop(engine: Engine, tmp_path: Path) -> None:
    """A loop whose condition is a lambda (it stays in the driver)."""
    graph = (
        Graph("loop")
        .add_node("a", inc)
        .add_node("b", lambda s: None)
        .add_edge("a", "b")
        .add_edge("b", "a", condition=lambda s: s["i"] < 4)
        .add_edge("b", END, default=True)
        .set_entry_point("a")
    )
    run = engine.run(graph, {"i": 0})
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state == {"i": 4} and run.step == 8


def scenario_fan_out_join(engine: Engine, tmp_path: Path) -> None:
    """Three branches, a join, an ``extend`` reducer."""
    graph = Graph("fan").add_node("start", lambda s: None).set_entry_point("start")
    for name in ("x", "y", "z"):
        graph.add_node(name, pid).add_edge("start", name)
    graph.add_node("join", lambda s: {"count": len(s["pids"])})
    graph.add_edge(["x", "y", "z"], "join").add_edge("join", END)
    graph.set_reducer("pids", "extend")
    run = engine.run(graph, {})
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state["count"] == 3
    if not isinstance(engine.runner, ThreadRunner):
        assert os.getpid() not in run.state["pids"]  # the branches ran on workers


def scenario_mutate_and_return(engine: Engine, tmp_path: Path) -> None:
    """The seed's mutate-and-return style: reducers apply once."""
    graph = (
        Graph("seed")
        .add_node("m", mutate_and_return)
        .add_edge("m", END)
        .set_entry_point("m")
        .set_reducer("items", "extend")
    )
    run = engine.run(graph, {"items": ["a"], "other": 1})
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state == {"items": ["a", "x"], "other": 1, "seen": True}


def scenario_async_node(engine: Engine, tmp_path: Path) -> None:
    """An async node runs (on a worker: in its own event loop)."""
    graph = Graph("async").add_node("a", async_node).add_edge("a", END).set_entry_point("a")
    run = engine.run(graph, {})
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state == {"async": True}


def scenario_retries(engine: Engine, tmp_path: Path) -> None:
    """A node failing twice, retried by the driver."""
    graph = (
        Graph("retry")
        .add_node("f", fail_until_third, retry=RetryPolicy(max_attempts=3, initial_delay=0))
        .add_edge("f", END)
        .set_entry_point("f")
    )
    run = engine.run(graph, {"marker": str(tmp_path / "m")})
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state["done"] == 3
    assert [(e.attempt, e.status) for e in run.logs] == [
        (1, "retrying"),
        (2, "retrying"),
        (3, "completed"),
    ]
    assert "attempt 1 fails" in str(run.logs[0].error)


def scenario_conflicting_writes(engine: Engine, tmp_path: Path) -> None:
    """Two branches writing one key differently fail the step."""
    graph = Graph("conflict").add_node("start", lambda s: None).set_entry_point("start")
    graph.add_node("p", lambda s: {"k": 1}).add_node("q", lambda s: {"k": 2})
    graph.add_edge("start", "p").add_edge("start", "q").add_edge("p", END).add_edge("q", END)
    run = engine.run(graph, {})
    assert run.status == RunStatus.FAILED
    assert "k" in str(run.error)


def scenario_pause_and_resume(engine: Engine, tmp_path: Path) -> None:
    """interrupt_before pauses; resume with a patch goes on."""
    graph = (
        Graph("pause")
        .add_node("a", inc)
        .add_node("b", inc)
        .add_edge("a", "b")
        .add_edge("b", END)
        .set_entry_point("a")
    )
    run = engine.run(graph, {"i": 0}, interrupt_before=["b"])
    assert run.status == RunStatus.PAUSED
    resumed = engine.resume(run.run_id, {"i": 10})
    assert resumed.status == RunStatus.COMPLETED and resumed.state == {"i": 11}


def scenario_cancel(engine: Engine, tmp_path: Path) -> None:
    """Cancel stops the run before its next step."""
    graph = (
        Graph("cancel")
        .add_node("a", lambda s: time.sleep(0.3))
        .add_node("b", inc)
        .add_edge("a", "b")
        .add_edge("b", END)
        .set_entry_point("a")
    )
    handle = engine.start(graph, {"i": 0})
    events = handle.events()
    next(events)
    handle.cancel()
    for _event in events:
        pass
    assert handle.run.status == RunStatus.CANCELLED
    assert handle.run.visited_nodes == ["a"]


def scenario_timeout(engine: Engine, tmp_path: Path) -> None:
    """A node past its timeout fails the attempt, in reasonable time."""
    graph = Graph("slow").add_node("s", slow, timeout=0.5).add_edge("s", END).set_entry_point("s")
    started = time.perf_counter()
    run = engine.run(graph, {})
    assert run.status == RunStatus.FAILED
    assert time.perf_counter() - started < 2.5  # the node sleeps 3 s: it was not waited for
    assert "did not finish within 0.5 s" in str(run.error)


def emits_progress(state: dict[str, Any]) -> dict[str, Any]:
    from .progress import emit

    for done in range(1, 4):
        emit("progress", {"done": done, "total": 3})
    return {"worked": True}


def asks_approval(state: dict[str, Any]) -> dict[str, Any]:
    from .interrupts import interrupt

    first = interrupt({"question": "approve?"})
    second = interrupt({"question": "really?"})
    return {"answers": [first, second]}


def scenario_emit(engine: Engine, tmp_path: Path) -> None:
    """``emit()`` inside a node reaches the stream, in order, before the node finishes
    (a remote backend carries the emits back with the outcome)."""
    from .run import EventType

    graph = Graph("emit").add_node("work", emits_progress).add_edge("work", END)
    events = list(engine.stream(graph.set_entry_point("work"), {}))
    kinds = [e.type for e in events]
    progress = [e.to_dict() for e in events if e.type is EventType.NODE_PROGRESS]
    assert [p["data"]["done"] for p in progress] == [1, 2, 3], kinds
    assert kinds.index(EventType.NODE_FINISHED) > kinds.index(EventType.NODE_PROGRESS)


def scenario_interrupt(engine: Engine, tmp_path: Path) -> None:
    """``interrupt()`` pauses the run with its question; answers resume it, in order."""
    graph = Graph("ask").add_node("ask", asks_approval).add_edge("ask", END)
    run = engine.run(graph.set_entry_point("ask"), {})
    assert run.status == RunStatus.PAUSED, run.error
    assert run.questions["ask"]["value"] == {"question": "approve?"}
    run = engine.resume(run.run_id, answer=True)
    assert run.status == RunStatus.PAUSED and run.questions["ask"]["index"] == 1
    run = engine.resume(run.run_id, answer="yes")
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state["answers"] == [True, "yes"]


def scenario_worker_lost(engine: Engine, tmp_path: Path) -> None:
    """A worker killed mid-call (remote backends only: on threads it is the test process):
    that attempt fails with ``WorkerLostError`` and is retried; its sibling is untouched."""
    graph = Graph("kill").add_node("start", lambda s: None).set_entry_point("start")
    graph.add_node("victim", die_once, retry=RetryPolicy(max_attempts=2, initial_delay=0)).add_node(
        "sibling", sibling
    )
    graph.add_edge("start", "victim").add_edge("start", "sibling")
    graph.add_edge("victim", END).add_edge("sibling", END)
    run = engine.run(graph, {"marker": str(tmp_path / "killed-once")})
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state["survived"] is True and run.state["sibling"] != os.getpid()
    victim = [e for e in run.logs if e.node == "victim"]
    assert [(e.attempt, e.status) for e in victim] == [(1, "retrying"), (2, "completed")]
    assert victim[0].error is not None and victim[0].error["type"] == "WorkerLostError"
    siblings = [e for e in run.logs if e.node == "sibling"]
    assert [(e.attempt, e.status) for e in siblings] == [(1, "completed")]


SCENARIOS: list[Callable[[Engine, Path], None]] = [
    scenario_chain,
    scenario_loop,
    scenario_fan_out_join,
    scenario_mutate_and_return,
    scenario_async_node,
    scenario_retries,
    scenario_conflicting_writes,
    scenario_pause_and_resume,
    scenario_cancel,
    scenario_timeout,
    scenario_emit,
    scenario_interrupt,
]
"""Every scenario, each ``scenario(engine, tmp_path)``; an ``AssertionError`` says what
differed from the threads backend's behaviour."""

REMOTE_SCENARIOS: list[Callable[[Engine, Path], None]] = [scenario_worker_lost]
"""Scenarios only a backend running calls outside the driver's process can pass."""
