"""A workflow's declared settings: unknown state keys are refused by the engine, ``wf run``,
``wf runs resume`` and the REST API, naming the valid keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from wfengine import END, Engine, Graph, hookimpl
from wfengine.cli import CliContext, build_cli
from wfengine.errors import RegistryError, UnknownSettingError
from wfengine.registry import WorkflowRegistry

SETTINGS = {"n": "the number to start from", "by": "what to add"}


def _graph() -> Graph:
    graph = Graph("set-count")
    graph.add_node("add", lambda s: {"n": s.get("n", 0) + s.get("by", 1)})
    graph.add_node("done", lambda s: {"done": True})
    return graph.add_edge("add", "done").add_edge("done", END).set_entry_point("add")


class _Plugin:
    __name__ = "settings-test"

    @hookimpl
    def wfengine_register_workflows(self, registry: Any) -> None:
        registry.register("set-count", _graph, "Add by to n", settings=SETTINGS)
        registry.register("free-count", _graph, "The same, any key accepted")


@pytest.fixture
def engine() -> Iterator[Engine]:
    eng = Engine(plugins=[_Plugin()], load_entrypoints=False, store="memory://")
    try:
        yield eng
    finally:
        eng.close()


def test_registry_keeps_and_checks_settings() -> None:
    registry = WorkflowRegistry()
    registry.register("w", _graph, settings=SETTINGS)
    registry.register("open", _graph)
    assert registry.settings("w") == SETTINGS
    assert registry.settings("open") is None
    registry.check_settings("w", {"n": 1, "by": 2}, "initial state")
    registry.check_settings("open", {"anything": 1}, "initial state")
    registry.check_settings("not-a-workflow", {"anything": 1}, "initial state")
    with pytest.raises(UnknownSettingError) as caught:
        registry.check_settings("w", {"n": 1, "iqr_kk": 3}, "initial state")
    message = str(caught.value)
    assert "'iqr_kk'" in message and "valid settings: by, n" in message
    assert caught.value.unknown == ["iqr_kk"] and caught.value.valid == ["by", "n"]
    with pytest.raises(RegistryError, match="settings must map"):
        registry.register("bad", _graph, settings=["n"])  # type: ignore[arg-type]
    registry.unregister_plugin("<direct>")
    assert registry.settings("w") is None


def test_engine_refuses_unknown_keys_and_runs_with_known_ones(engine: Engine) -> None:
    run = engine.run("set-count", {"n": 1, "by": 2})
    assert run.state["n"] == 3
    with pytest.raises(UnknownSettingError, match="does not accept setting 'x' in the initial"):
        engine.run("set-count", {"n": 1, "x": 2})
    assert engine.run("free-count", {"x": 2}).status.value == "completed"


def test_resume_patch_is_checked(engine: Engine) -> None:
    run = engine.run("set-count", {"n": 1}, interrupt_before=["done"])
    assert run.status.value == "paused"
    with pytest.raises(UnknownSettingError, match="'done' in the state patch"):
        engine.resume(run.run_id, {"done": False})
    assert engine.resume(run.run_id, {"by": 5}).status.value == "completed"


def test_wf_run_and_resume_exit_2_with_one_line(engine: Engine) -> None:
    def wf(*args: str) -> Any:
        app = CliContext(engine)
        return CliRunner().invoke(build_cli(app), list(args), obj=app)

    result = wf("run", "set-count", "-s", "n=1", "-s", "iqr_k=3")
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "'iqr_k'" in lines[0] and "valid settings: by, n" in lines[0]
    assert wf("run", "set-count", "-s", "n=1", "-q").exit_code == 0
    paused = engine.run("set-count", {"n": 1}, interrupt_before=["done"])
    result = wf("runs", "resume", paused.run_id, "-s", "nope=1")
    assert result.exit_code == 2 and "'nope'" in result.output


@pytest.mark.server
def test_rest_initial_state_and_patch_are_refused_with_422(engine: Engine, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient
    from wfengine.server import create_app

    client = TestClient(create_app(engine, data_dir=tmp_path), raise_server_exceptions=False)
    bad = client.post("/graph/run", json={"graph_id": "set-count", "initial_state": {"zz": 1}})
    assert bad.status_code == 422
    error = bad.json()["error"]
    assert error["type"] == "UnknownSettingError"
    assert error["details"]["unknown"] == ["zz"] and error["details"]["valid"] == ["by", "n"]
    ok = client.post(
        "/graph/run",
        json={"graph_id": "set-count", "initial_state": {"n": 1}, "interrupt_before": ["done"]},
    )
    assert ok.status_code == 200, ok.text
    run_id = ok.json()["run_id"]
    patched = client.post(f"/runs/{run_id}/resume", json={"state_patch": {"zz": 1}, "wait": True})
    assert patched.status_code == 422
    done = client.post(f"/runs/{run_id}/resume", json={"state_patch": {"n": 7}, "wait": True})
    assert done.status_code == 200 and done.json()["final_state"] == {"n": 7, "done": True}
