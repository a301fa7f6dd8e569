"""The REST server over the SQLite store and the data-quality workflow (real plugins).

Runs survive a server restart: the store, not the server, is the source of truth.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from wfengine import Engine, hookimpl

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

SPEC: dict[str, Any] = {
    "name": "counter",
    "entry": "a",
    "nodes": {"a": {"tool": "it.inc"}, "b": {"tool": "it.inc", "params": {"by": 10}}},
    "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "END"}],
}


class Tools:
    """One tool for the restart test."""

    @hookimpl
    def wfengine_register_tools(self, registry: Any) -> None:
        registry.register("it.inc", lambda state, by=1: {"n": state.get("n", 0) + by}, "inc")
        registry.register("it.copy", lambda state, src, dst: {dst: state[src]}, "copy a key")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    (path / "customers.csv").write_bytes((EXAMPLES / "data" / "customers.csv").read_bytes())
    return path


@contextmanager
def server(db: Path, data_dir: Path) -> Iterator[TestClient]:
    """A server over the store in ``db``; leaving the block stops it and closes the store."""
    # imported here: under tox -e bare (no plugins, no server extra) this module is still
    # collected, then deselected
    import wfengine_sqlite.plugin as sqlite_plugin
    from fastapi.testclient import TestClient
    from wfengine.server import create_app
    from wfengine_dataquality.plugin import DataQualityPlugin

    engine = Engine(
        plugins=[sqlite_plugin, DataQualityPlugin, Tools()],
        load_entrypoints=False,
        store=f"sqlite:///{db}",
    )
    try:
        with TestClient(create_app(engine, data_dir=data_dir)) as client:
            yield client
    finally:
        engine.close()


def test_runs_and_graphs_survive_a_restart(tmp_path: Path, data_dir: Path) -> None:
    db = tmp_path / "runs.db"
    with server(db, data_dir) as client:
        graph_id = client.post("/graph/create", json=SPEC).json()["graph_id"]
        done = client.post("/graph/run", json={"graph_id": graph_id}).json()
        paused = client.post(
            "/graph/run",
            json={"graph_id": graph_id, "interrupt_before": ["b"], "initial_state": {"n": 5}},
        ).json()
        assert (done["status"], paused["status"]) == ("completed", "paused")

    with server(db, data_dir) as client:  # a new server process would see the same
        assert [g["graph_id"] for g in client.get("/graphs").json()["graphs"]] == [graph_id]
        state = client.get(f"/graph/state/{paused['run_id']}").json()
        assert (state["status"], state["current_nodes"], state["state"]) == (
            "paused",
            ["b"],
            {"n": 6},
        )
        assert client.get(f"/runs/{done['run_id']}/logs").json()["logs"][1]["node"] == "b"
        listed = client.get("/runs", params={"graph_id": graph_id}).json()["runs"]
        assert {r["run_id"] for r in listed} == {done["run_id"], paused["run_id"]}
        resumed = client.post(f"/runs/{paused['run_id']}/resume", json={"wait": True}).json()
        assert (resumed["status"], resumed["final_state"]) == ("completed", {"n": 16})


def test_data_quality_by_name_with_paths_in_the_data_dir(tmp_path: Path, data_dir: Path) -> None:
    with server(tmp_path / "runs.db", data_dir) as client:
        body = client.post(
            "/graph/run",
            json={
                "graph_id": "data-quality",
                "initial_state": {"source": "customers.csv", "output_dir": "out"},
            },
        ).json()
        assert body["status"] == "completed", body["error"]
        assert body["final_state"]["source"] == str(data_dir.resolve() / "customers.csv")
        report = json.loads((data_dir / "out" / "report.json").read_text())
        assert report
        refused = client.post(
            "/graph/run",
            json={"graph_id": "data-quality", "initial_state": {"source": "../outside.csv"}},
        )
        assert refused.status_code == 403
        spec = client.get("/graph/data-quality").json()
        assert spec["kind"] == "workflow" and spec["spec"]["entry"] == "load"


def test_tool_paths_are_confined_where_they_are_opened(tmp_path: Path, data_dir: Path) -> None:
    """Hardening F1: ``dq.report`` opened every file in ``quarantine_paths``, a key the door's
    name rules did not cover; a client copied another run's rows into its own report with it.
    Declared tool paths are now checked at the door and again where the tool opens them."""
    secret_dir = tmp_path / "elsewhere"
    secret_dir.mkdir()
    secret = secret_dir / "quarantine-r1.parquet"
    secret.write_bytes(b"PAR1 another run's rows")
    with server(tmp_path / "runs.db", data_dir) as client:
        for key in ("quarantine_paths", "duplicates_paths"):
            response = client.post(
                "/graph/run",
                json={
                    "graph_id": "data-quality",
                    "initial_state": {"source": "customers.csv", key: [str(secret)]},
                },
            )
            assert response.status_code == 403
            assert response.json()["error"]["details"]["where"] == f"initial_state.{key}[0]"
        paused = client.post(
            "/graph/run",
            json={
                "graph_id": "data-quality",
                "initial_state": {"source": "customers.csv", "output_dir": "out"},
                "interrupt_before": ["report"],
            },
        ).json()
        assert paused["status"] == "paused"
        patched = client.post(
            f"/runs/{paused['run_id']}/resume",
            json={"wait": True, "state_patch": {"quarantine_paths": {"a": [[str(secret)]]}}},
        )
        assert patched.status_code == 403
        where = patched.json()["error"]["details"]["where"]
        assert where == "state_patch.quarantine_paths.a[0][0]"
        # a path that reaches a tool under a key no door rule knows (another tool copied it
        # there) is refused where the tool would open it, in the driver
        spec = {
            "name": "copy-then-load",
            "entry": "copy",
            "nodes": {
                "copy": {"tool": "it.copy", "params": {"src": "title", "dst": "source"}},
                "load": {"tool": "dq.load"},
            },
            "edges": [{"from": "copy", "to": "load"}, {"from": "load", "to": "END"}],
        }
        graph_id = client.post("/graph/create", json=spec).json()["graph_id"]
        body = client.post(
            "/graph/run",
            json={"graph_id": graph_id, "initial_state": {"title": str(secret)}},
        ).json()
        assert body["status"] == "failed"
        assert body["error"]["type"] == "PathRefusedError"
        assert "node 'load': state.source" in body["error"]["message"]
        assert body["error"]["node"] == "load"
