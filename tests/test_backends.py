"""Execution backends (issue 14): the same graphs on threads:// and processes://.

The scenario tests run once per backend in ``BACKENDS`` (a plugin's tests, e.g.
``wfengine-dask``'s, can run the same scenarios by importing ``SCENARIOS``). Node functions
live at module level or are closures: on ``processes://`` they travel by cloudpickle.
"""

from __future__ import annotations

import os
import signal
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from wfengine import END, Engine, Graph, RunStatus, Send
from wfengine.backend_contract import REMOTE_SCENARIOS, SCENARIOS, die_once
from wfengine.backends import BackendContext
from wfengine.engine import RemoteMemoryStoreWarning
from wfengine.errors import RegistryError
from wfengine.processes import ProcessRunner
from wfengine.registry import ToolRegistry

BACKENDS = ["threads://", "processes://?workers=2"]

pytestmark = pytest.mark.filterwarnings(
    # a remote backend on memory:// warns once per engine, at its first run; the tests
    # that are about the warning catch it themselves
    "ignore::wfengine.engine.RemoteMemoryStoreWarning"
)


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


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_scenarios(backend_engine: Engine, scenario: Any, tmp_path: Path) -> None:
    scenario(backend_engine, tmp_path)


def inc(state: dict[str, Any]) -> dict[str, Any]:
    return {"i": state.get("i", 0) + 1}


def pid(state: dict[str, Any]) -> dict[str, Any]:
    return {"pids": [os.getpid()]}


def to_pids(state: dict[str, Any]) -> list[Send]:
    return [Send("pid", {"k": k}) for k in range(4)]


def test_a_routers_copies_run_on_the_backend_and_its_dispatch_in_the_driver(
    backend_engine: Engine,
) -> None:
    graph = (
        Graph("routed", reducers={"pids": "extend"})
        .add_node("start", inc)
        .add_node("pid", pid)
        .add_router("start", to_pids, ["pid"], max_parallel=2)
        .add_edge("pid", END)
        .set_entry_point("start")
    )
    assert graph.nodes["start@send"].local  # routing code stays in the driver
    run = backend_engine.run(graph, {})
    assert run.status == "completed", run.error
    assert len(run.state["pids"]) == 4
    if isinstance(backend_engine.runner, ProcessRunner):
        assert os.getpid() not in run.state["pids"]


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


@pytest.mark.parametrize("scenario", REMOTE_SCENARIOS, ids=lambda s: s.__name__)
def test_remote_scenarios(processes: Engine, scenario: Any, tmp_path: Path) -> None:
    scenario(processes, tmp_path)


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


@pytest.mark.plugins
def test_an_installed_tool_travels_by_name_and_runs_on_the_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
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


@pytest.mark.plugins
def test_no_warning_with_a_durable_store(tmp_path: Path) -> None:
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


@pytest.mark.plugins
def test_a_driver_killed_mid_run_resumes_on_processes_from_its_last_checkpoint(
    tmp_path: Path,
) -> None:
    import subprocess
    import sys
    from collections import Counter

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
