"""Hardening F13: a resumed run goes on with the graph version it recorded."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.server


def _chain(first: int, second: str) -> dict[str, Any]:
    return {
        "name": "chain",
        "entry": "a",
        "nodes": {"a": {"tool": "t.inc", "params": {"by": first}}, second: {"tool": "t.double"}},
        "edges": [{"from": "a", "to": second}, {"from": second, "to": "END"}],
    }


def test_a_paused_run_resumes_on_its_version_after_its_graph_id_is_stored_again(
    client: TestClient,
) -> None:
    """Hardening F13: this gave 200 with a raw KeyError; the run now resumes on the graph
    version it recorded."""
    client.post("/graph/create", params={"graph_id": "g1"}, json=_chain(1, "b"))
    paused = client.post(
        "/graph/run",
        json={"graph_id": "g1", "initial_state": {"n": 1}, "interrupt_before": ["b"]},
    ).json()
    assert paused["status"] == "paused"
    client.post("/graph/create", params={"graph_id": "g1"}, json=_chain(5, "z"))
    resumed = client.post(f"/runs/{paused['run_id']}/resume", json={"wait": True})
    assert resumed.status_code == 200
    assert resumed.json()["status"] == "completed" and resumed.json()["final_state"]["n"] == 4


def test_a_run_that_cannot_resume_on_a_changed_graph_is_409(
    client: TestClient, server_engine: Any
) -> None:
    client.post("/graph/create", params={"graph_id": "g2"}, json=_chain(1, "b"))
    paused = client.post(
        "/graph/run",
        json={"graph_id": "g2", "initial_state": {"n": 1}, "interrupt_before": ["b"]},
    ).json()
    server_engine.store.get_run(paused["run_id"]).graph_version = None  # a pre-version run
    client.post("/graph/create", params={"graph_id": "g2"}, json=_chain(5, "z"))
    resumed = client.post(f"/runs/{paused['run_id']}/resume", json={"wait": True})
    assert resumed.status_code == 409
    body = resumed.json()["error"]
    assert body["type"] == "GraphChangedError" and "no longer has" in body["message"]


def test_import_paths_are_refused_over_rest_unless_the_operator_allows(
    make_client: Any,
) -> None:
    """Hardening F20: ``call:`` runs code the spec names; a client may not choose it."""
    spec = {
        "name": "c",
        "entry": "a",
        "nodes": {"a": {"call": "json:dumps"}},
        "edges": [{"from": "a", "to": "END"}],
    }
    refused = make_client().post("/graph/create", json=spec)
    assert refused.status_code == 422
    assert "--allow-import-paths" in refused.json()["error"]["message"]
    allowed = make_client(allow_import_paths=True).post("/graph/create", json=spec)
    assert allowed.status_code == 201, allowed.text
