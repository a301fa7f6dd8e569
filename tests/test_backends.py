"""Execution backends (issue 14): the same graphs on threads:// and processes://.

The scenario tests run once per backend in ``BACKENDS`` (a plugin's tests, e.g.
``wfengine-dask``'s, can run the same scenarios by importing ``SCENARIOS``). Node functions
live at module level or are closures: on ``processes://`` they travel by cloudpickle.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from wfengine import END, Engine, Graph, RetryPolicy, RunStatus
from wfengine.backends import BackendContext
from wfengine.engine import RemoteMemoryStoreWarning
from wfengine.errors import RegistryError
from wfengine.processes import ProcessRunner
from wfengine.registry import ToolRegistry

BACKENDS = ["threads://", "processes://?workers=2"]


@pytest.fixture(scope="module", params=BACKENDS)
def backend_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """One engine per backend for the module (a process pool starts once)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RemoteMemoryStoreWarning)
        engine = Engine(load_entrypoints=False, backend=request.param)
        engine.runner  # noqa: B018 - open the backend now
    try:
        yield engine
    finally:
        engine.close()


# -- node functions (module level: any backend can run them) ----------------------------------


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
    time.sleep(30)


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


# -- scenarios --------------------------------------------------------------------------------


def test_chain(backend_engine: Engine) -> None:
    graph = Graph("chain")
    for k in range(5):
        graph.add_node(f"n{k}", inc)
        if k:
            graph.add_edge(f"n{k - 1}", f"n{k}")
    graph.add_edge("n4", END).set_entry_point("n0")
    run = backend_engine.run(graph, {"i": 0})
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state == {"i": 5} and run.step == 5
    assert [entry.node for entry in run.logs] == ["n0", "n1", "n2", "n3", "n4"]


def test_loop_with_a_lambda_condition(backend_engine: Engine) -> None:
    graph = (
        Graph("loop")
        .add_node("a", inc)
        .add_node("b", lambda s: None)
        .add_edge("a", "b")
        .add_edge("b", "a", condition=lambda s: s["i"] < 4)
        .add_edge("b", END, default=True)
        .set_entry_point("a")
    )
    run = backend_engine.run(graph, {"i": 0})
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state == {"i": 4} and run.step == 8


def test_fan_out_join_and_reducer(backend_engine: Engine) -> None:
    graph = Graph("fan").add_node("start", lambda s: None).set_entry_point("start")
    for name in ("x", "y", "z"):
        graph.add_node(name, pid).add_edge("start", name)
    graph.add_node("join", lambda s: {"count": len(s["pids"])})
    graph.add_edge(["x", "y", "z"], "join").add_edge("join", END)
    graph.set_reducer("pids", "extend")
    run = backend_engine.run(graph, {})
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state["count"] == 3
    if backend_engine.backend_url.startswith("processes"):
        assert os.getpid() not in run.state["pids"]  # the branches ran in worker processes


def test_the_seed_mutate_and_return_style_applies_reducers_once(backend_engine: Engine) -> None:
    graph = (
        Graph("seed")
        .add_node("m", mutate_and_return)
        .add_edge("m", END)
        .set_entry_point("m")
        .set_reducer("items", "extend")
    )
    run = backend_engine.run(graph, {"items": ["a"], "other": 1})
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state == {"items": ["a", "x"], "other": 1, "seen": True}


def test_async_node(backend_engine: Engine) -> None:
    graph = Graph("async").add_node("a", async_node).add_edge("a", END).set_entry_point("a")
    run = backend_engine.run(graph, {})
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state == {"async": True}


def test_retries(backend_engine: Engine, tmp_path: Path) -> None:
    graph = (
        Graph("retry")
        .add_node("f", fail_until_third, retry=RetryPolicy(max_attempts=3, initial_delay=0))
        .add_edge("f", END)
        .set_entry_point("f")
    )
    run = backend_engine.run(graph, {"marker": str(tmp_path / "m")})
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state["done"] == 3
    assert [(e.attempt, e.status) for e in run.logs] == [
        (1, "retrying"),
        (2, "retrying"),
        (3, "completed"),
    ]
    assert "attempt 1 fails" in str(run.logs[0].error)


def test_conflicting_writes_fail_the_step(backend_engine: Engine) -> None:
    graph = Graph("conflict").add_node("start", lambda s: None).set_entry_point("start")
    graph.add_node("p", lambda s: {"k": 1}).add_node("q", lambda s: {"k": 2})
    graph.add_edge("start", "p").add_edge("start", "q").add_edge("p", END).add_edge("q", END)
    run = backend_engine.run(graph, {})
    assert run.status == RunStatus.FAILED
    assert "k" in str(run.error)


def test_pause_and_resume(backend_engine: Engine) -> None:
    graph = (
        Graph("pause")
        .add_node("a", inc)
        .add_node("b", inc)
        .add_edge("a", "b")
        .add_edge("b", END)
        .set_entry_point("a")
    )
    run = backend_engine.run(graph, {"i": 0}, interrupt_before=["b"])
    assert run.status == RunStatus.PAUSED
    resumed = backend_engine.resume(run.run_id, {"i": 10})
    assert resumed.status == RunStatus.COMPLETED and resumed.state == {"i": 11}


def test_cancel_stops_before_the_next_step(backend_engine: Engine) -> None:
    graph = (
        Graph("cancel")
        .add_node("a", lambda s: time.sleep(0.3))
        .add_node("b", inc)
        .add_edge("a", "b")
        .add_edge("b", END)
        .set_entry_point("a")
    )
    handle = backend_engine.start(graph, {"i": 0})
    events = handle.events()
    next(events)
    handle.cancel()
    for _event in events:
        pass
    assert handle.run.status == RunStatus.CANCELLED
    assert handle.run.visited_nodes == ["a"]


def test_timeout(backend_engine: Engine) -> None:
    graph = Graph("slow").add_node("s", slow, timeout=0.5).add_edge("s", END).set_entry_point("s")
    started = time.perf_counter()
    run = backend_engine.run(graph, {})
    assert run.status == RunStatus.FAILED
    assert time.perf_counter() - started < 10
    assert "did not finish within 0.5 s" in str(run.error)


# -- processes:// only --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def processes() -> Iterator[Engine]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RemoteMemoryStoreWarning)
        engine = Engine(load_entrypoints=False, backend="processes://?workers=2")
        engine.runner  # noqa: B018
    try:
        yield engine
    finally:
        engine.close()


def test_a_killed_worker_fails_its_attempt_which_is_retried(
    processes: Engine, tmp_path: Path
) -> None:
    graph = Graph("kill").add_node("start", lambda s: None).set_entry_point("start")
    graph.add_node("victim", die_once, retry=RetryPolicy(max_attempts=2, initial_delay=0)).add_node(
        "sibling", sibling
    )
    graph.add_edge("start", "victim").add_edge("start", "sibling")
    graph.add_edge("victim", END).add_edge("sibling", END)
    run = processes.run(graph, {"marker": str(tmp_path / "m")})
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state["survived"] is True and run.state["sibling"] != os.getpid()
    victim = [e for e in run.logs if e.node == "victim"]
    assert [(e.attempt, e.status) for e in victim] == [(1, "retrying"), (2, "completed")]
    assert victim[0].error is not None and victim[0].error["type"] == "WorkerLostError"
    assert "killed by signal 9" in victim[0].error["message"]
    sibling_entries = [e for e in run.logs if e.node == "sibling"]
    assert [(e.attempt, e.status) for e in sibling_entries] == [(1, "completed")]


def test_a_killed_worker_without_retries_fails_the_run_clearly(
    processes: Engine, tmp_path: Path
) -> None:
    graph = Graph("kill").add_node("victim", die_once).add_edge("victim", END)
    run = processes.run(graph.set_entry_point("victim"), {"marker": str(tmp_path / "m")})
    assert run.status == RunStatus.FAILED
    assert run.error is not None and run.error["type"] == "WorkerLostError"
    assert "node 'victim'" in run.error["message"]
    # the pool replaced the worker: the next run works
    assert processes.run(graph, {"marker": str(tmp_path / "m")}).status == RunStatus.COMPLETED


def test_an_unpicklable_state_value_is_named_before_anything_is_sent(processes: Engine) -> None:
    graph = Graph("lock").add_node("a", inc).add_edge("a", END).set_entry_point("a")
    run = processes.run(graph, {"i": 0, "config": {"conn": [1, threading.Lock()]}})
    assert run.status == RunStatus.FAILED
    assert run.error is not None and run.error["type"] == "UnpicklableStateError"
    assert "state.config.conn[1] cannot be sent to a worker process" in run.error["message"]


def test_a_local_node_runs_in_the_driver(processes: Engine) -> None:
    graph = (
        Graph("local")
        .add_node("remote", pid)
        .add_node("here", pid, local=True)
        .add_edge("remote", "here")
        .add_edge("here", END)
        .set_entry_point("remote")
        .set_reducer("pids", "extend")
    )
    run = processes.run(graph, {})
    assert run.status == RunStatus.COMPLETED, run.error
    remote_pid, local_pid = run.state["pids"]
    assert local_pid == os.getpid() != remote_pid


def test_an_installed_tool_travels_by_name_and_runs_on_the_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("wfengine_thirdparty")
    monkeypatch.setenv("WFENGINE_LOAD_PLUGINS", "thirdparty")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RemoteMemoryStoreWarning)
        engine = Engine(backend="processes://?workers=1")
    try:
        assert "thirdparty.greet" in engine._installed_tools()
        spec = {
            "name": "greet",
            "entry": "greet",
            "nodes": {"greet": {"tool": "thirdparty.greet", "params": {"greeting": "Hej"}}},
            "edges": [{"from": "greet", "to": "END"}],
        }
        run = engine.run(spec, {"name": "Ada"})
        assert run.status == RunStatus.COMPLETED, run.error
        assert run.state["message"] == "Hej, Ada!"
    finally:
        engine.close()


def test_a_tool_missing_on_the_worker_is_a_clear_error() -> None:
    tools = ToolRegistry()
    tools.register("only.here", lambda state: {"x": 1})
    context = BackendContext(
        tools=tools, installed_tools=frozenset({"only.here"}), load_tools=ToolRegistry
    )
    runner = ProcessRunner(1, context)
    engine = Engine(load_entrypoints=False, backend=runner)
    engine.tools.register("only.here", lambda state: {"x": 1})
    try:
        spec = {
            "name": "missing",
            "entry": "a",
            "nodes": {"a": {"tool": "only.here"}},
            "edges": [{"from": "a", "to": "END"}],
        }
        run = engine.run(spec, {})
        assert run.status == RunStatus.FAILED
        assert "tool 'only.here' is not installed on worker" in str(run.error)
    finally:
        runner.close()
        engine.close()


def test_backend_urls_are_checked() -> None:
    engine = Engine(load_entrypoints=False)
    with pytest.raises(RegistryError, match="unknown option 'wokers'"):
        engine.set_backend("processes://?wokers=2")
    with pytest.raises(RegistryError, match="workers must be at least 1"):
        engine.set_backend("processes://?workers=0")
    with pytest.raises(RegistryError, match="unknown backend scheme 'nope'"):
        engine.set_backend("nope://x")
    with pytest.raises(RegistryError, match="has no scheme"):
        engine.set_backend("processes")
    assert engine.backend_url == "threads://"


def test_the_backend_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WFENGINE_BACKEND", "processes://?workers=1")
    engine = Engine(load_entrypoints=False)
    try:
        assert isinstance(engine.runner, ProcessRunner)
        graph = Graph("one").add_node("a", inc).add_edge("a", END).set_entry_point("a")
        with pytest.warns(RemoteMemoryStoreWarning, match="cannot be resumed from a memory store"):
            assert engine.run(graph, {}).state == {"i": 1}
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # once per engine
            engine.run(graph, {})
    finally:
        engine.close()


def test_no_warning_with_a_durable_store(tmp_path: Path) -> None:
    pytest.importorskip("wfengine_sqlite")
    engine = Engine(store=f"sqlite:///{tmp_path / 'runs.db'}", backend="processes://?workers=1")
    try:
        graph = Graph("one").add_node("a", inc).add_edge("a", END).set_entry_point("a")
        with warnings.catch_warnings():
            warnings.simplefilter("error", RemoteMemoryStoreWarning)
            assert engine.run(graph, {}).status == RunStatus.COMPLETED
    finally:
        engine.close()


CRASH_SCRIPT = """
import os, signal, sys, threading, time
from wfengine import END, Engine, Graph

mode, url, effects, steps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

def add(state):
    with open(effects, "a") as out:
        out.write(f"{state['i'] + 1}\\n")
    time.sleep(0.01)
    return {"i": state["i"] + 1}

graph = (
    Graph("crashloop")
    .add_node("add", add)
    .add_edge("add", "add", condition=lambda s: s["i"] < steps)
    .add_edge("add", END, default=True)
    .set_entry_point("add")
)
engine = Engine(store=url, backend="processes://?workers=1")
if mode == "crash":
    threading.Timer(float(sys.argv[5]), os.kill, (os.getpid(), signal.SIGKILL)).start()
    engine.run(graph, {"i": 0})
    sys.exit(3)
(run,), _ = engine.store.list_runs()
print(engine.resume(run.run_id, graph=graph).status)
engine.close()
"""


def test_a_driver_killed_mid_run_resumes_on_processes_from_its_last_checkpoint(
    tmp_path: Path,
) -> None:
    import subprocess
    import sys
    from collections import Counter

    pytest.importorskip("wfengine_sqlite")
    script = tmp_path / "crash.py"
    script.write_text(CRASH_SCRIPT)
    url, effects, steps = f"sqlite:///{tmp_path / 'runs.db'}", tmp_path / "effects.txt", 400
    crashed = subprocess.run(
        [sys.executable, str(script), "crash", url, str(effects), str(steps), "1.5"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    engine = Engine(store=url)
    try:
        (run,), _ = engine.store.list_runs()
        committed = run.step
        assert run.status == RunStatus.RUNNING and 0 < committed < steps
    finally:
        engine.close()
    resumed = subprocess.run(
        [sys.executable, str(script), "resume", url, str(effects), str(steps)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.stdout.strip() == "completed", resumed.stderr
    ran = Counter(int(line) for line in effects.read_text().split())
    assert sorted(ran) == list(range(1, steps + 1))
    for step, times in ran.items():
        # committed steps never run again; only the step in flight may have run twice
        assert times == 1 or (step == committed + 1 and times == 2), (step, times)
