"""wfengine-dask: the backend contract on a local cluster and on a real scheduler."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from dask_helpers import make_engine
from wfengine import END, Engine, Graph, RunStatus
from wfengine.backend_contract import REMOTE_SCENARIOS, SCENARIOS
from wfengine.errors import RegistryError

from wfengine_dask import DaskRunner


@pytest.mark.parametrize("scenario", REMOTE_SCENARIOS + SCENARIOS, ids=lambda s: s.__name__)
def test_the_backend_contract_on_a_local_cluster(
    local_engine: Engine, scenario: Any, tmp_path: Path
) -> None:
    scenario(local_engine, tmp_path)


def test_the_local_cluster_is_dask(local_engine: Engine) -> None:
    runner = local_engine.runner
    assert isinstance(runner, DaskRunner)
    assert len(runner.worker_addresses()) == 2


def test_an_unpicklable_value_is_named_before_submitting(local_engine: Engine) -> None:
    graph = Graph("lock").add_node("a", lambda s: {"n": 1}).add_edge("a", END)
    run = local_engine.run(graph.set_entry_point("a"), {"held": {"lock": threading.Lock()}})
    assert run.status == RunStatus.FAILED
    assert run.error is not None and run.error["type"] == "UnpicklableStateError"
    assert "state.held.lock cannot be sent to a worker process" in run.error["message"]


def test_an_installed_third_party_tool_runs_on_the_workers_by_name(local_engine: Engine) -> None:
    assert "thirdparty.greet" in local_engine._installed_tools()
    spec = {
        "name": "greet",
        "entry": "greet",
        "nodes": {"greet": {"tool": "thirdparty.greet", "params": {"greeting": "Hola"}}},
        "edges": [{"from": "greet", "to": "END"}],
    }
    run = local_engine.run(spec, {"name": "Ada"})
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state["message"] == "Hola, Ada!"


@pytest.mark.parametrize("scenario", SCENARIOS[:4], ids=lambda s: s.__name__)
def test_a_real_scheduler_and_workers(scheduler: str, scenario: Any, tmp_path: Path) -> None:
    host = scheduler.removeprefix("tcp://")
    engine = make_engine(f"dask://{host}")
    try:
        scenario(engine, tmp_path)
    finally:
        engine.close()


def test_an_unreachable_scheduler_is_a_clear_error() -> None:
    engine = Engine(load_entrypoints=True)
    with pytest.raises(RegistryError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        engine.set_backend("dask://127.0.0.1:9")
    engine.close()


def test_bad_urls() -> None:
    engine = Engine(load_entrypoints=True)
    with pytest.raises(RegistryError, match="unknown option 'nodes'"):
        engine.set_backend("dask://local?nodes=2")
    engine.close()
