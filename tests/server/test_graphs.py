"""Graph endpoints: create, list, show, Mermaid; invalid specs answered 422 with where."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from server_helpers import COUNTER, create_graph, linear_spec
from wfengine.graph_ids import InvalidGraphIdError


def test_create_returns_id_nodes_and_edges(client: TestClient) -> None:
    response = client.post("/graph/create", json=COUNTER)
    assert response.status_code == 201
    body = response.json()
    assert len(body["graph_id"]) == 32
    assert body["name"] == "counter"
    assert body["nodes"] == ["s0", "s1", "s2"]
    assert body["edges"][0] == {"from": ["s0"], "to": "s1", "condition": None, "default": False}
    assert body["edges"][-1]["to"] == "END"


def test_create_keeps_conditions_as_labels(client: TestClient) -> None:
    spec = linear_spec("t.inc", "t.double")
    spec["edges"] = [
        {"from": "s0", "to": "s1", "when": "n > 0"},
        {"from": "s0", "to": "END", "default": True},
        {"from": "s1", "to": "END"},
    ]
    body = client.post("/graph/create", json=spec).json()
    assert body["edges"][0]["condition"] == "n > 0"
    assert body["edges"][1]["default"] is True


def test_create_under_a_chosen_id_and_read_it_back(client: TestClient) -> None:
    gid = create_graph(client, COUNTER, graph_id="my-counter")
    assert gid == "my-counter"
    body = client.get("/graph/my-counter").json()
    assert body["kind"] == "stored"
    assert body["spec"]["nodes"]["s1"] == {"tool": "t.double"}
    listing = client.get("/graphs").json()["graphs"]
    assert [g["graph_id"] for g in listing] == ["my-counter"]
    assert listing[0]["name"] == "counter"


def test_a_workflow_name_cannot_be_taken_as_graph_id(client: TestClient) -> None:
    response = client.post("/graph/create", json=COUNTER, params={"graph_id": "t.flow"})
    assert response.status_code == 409
    assert response.json()["error"]["type"] == "graph_id_taken"


def test_bad_graph_id_is_422(client: TestClient) -> None:
    response = client.post("/graph/create", json=COUNTER, params={"graph_id": "../x"})
    assert response.status_code == 422


def test_the_api_and_the_engine_refuse_the_same_graph_ids(client: TestClient) -> None:
    engine = client.app.state.wfengine.engine  # type: ignore[attr-defined]
    for graph_id in ("../../x", "..", "a/b", "x" * 129, "ok\n", "t.flow"):
        response = client.post("/graph/create", json=COUNTER, params={"graph_id": graph_id})
        assert response.status_code in (409, 422), graph_id
        with pytest.raises(InvalidGraphIdError):
            engine.save_graph(COUNTER, graph_id)
    for graph_id in ("Nightly_checks.v2:eu-1", "x" * 128):
        assert create_graph(client, COUNTER, graph_id=graph_id) == graph_id
        assert engine.save_graph(COUNTER, graph_id) == graph_id


def test_unknown_tool_says_which_and_where(client: TestClient) -> None:
    spec = linear_spec("t.inc", "t.dubble")
    response = client.post("/graph/create", json=spec)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["type"] == "SpecError"
    assert "t.dubble" in error["message"] and "t.double" in error["message"]
    assert error["details"]["where"].startswith("nodes.s1")


def test_unknown_edge_target_says_where(client: TestClient) -> None:
    spec = linear_spec("t.inc")
    spec["edges"] = [{"from": "s0", "to": "nowhere"}]
    error = client.post("/graph/create", json=spec).json()["error"]
    assert error["details"]["where"] == "edges[0].to"
    assert "nowhere" in error["message"]


def test_bad_condition_is_422(client: TestClient) -> None:
    spec = linear_spec("t.inc", "t.double")
    spec["edges"][0]["when"] = "__import__('os').system('true')"
    response = client.post("/graph/create", json=spec)
    assert response.status_code == 422
    assert response.json()["error"]["details"]["where"].startswith("edges[0].when")


def test_code_cannot_travel_over_http(client: TestClient) -> None:
    spec = linear_spec("t.inc")
    spec["nodes"]["s0"] = {"tool": "t.inc", "func": "os.system"}
    response = client.post("/graph/create", json=spec)
    assert response.status_code == 422
    assert "func" in response.json()["error"]["message"]


def test_unknown_top_level_key_is_refused(client: TestClient) -> None:
    response = client.post("/graph/create", json={**COUNTER, "python": "import os"})
    assert response.status_code == 422
    assert "python" in response.json()["error"]["message"]


def test_shape_errors_are_validation_errors(client: TestClient) -> None:
    response = client.post("/graph/create", json={"name": "x", "nodes": []})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["type"] == "validation_error"
    wheres = {p["where"] for p in error["details"]["problems"]}
    assert {"body.entry", "body.nodes"} <= wheres


def test_not_json_is_422(client: TestClient) -> None:
    response = client.post(
        "/graph/create", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["type"] == "validation_error"


def test_spec_limits(make_client: Any) -> None:
    client = make_client(max_nodes=2, max_edges=3, max_steps=100)
    too_many = client.post("/graph/create", json=linear_spec("t.inc", "t.inc", "t.inc"))
    assert too_many.status_code == 422
    assert too_many.json()["error"]["details"] == {"where": "nodes", "limit": 2, "actual": 3}
    # one size check for the server and load_spec: the same words
    assert too_many.json()["error"]["message"] == "nodes: the spec has 3 nodes; the limit is 2"
    spec = linear_spec("t.inc", "t.inc")
    spec["edges"] += [{"from": "s0", "to": "END"}] * 3
    assert client.post("/graph/create", json=spec).json()["error"]["details"]["where"] == "edges"
    steps = client.post("/graph/create", json=linear_spec("t.inc", max_steps=101))
    assert steps.status_code == 422
    assert steps.json()["error"]["details"]["limit"] == 100


def test_the_node_limit_counts_subgraph_nodes(make_client: Any) -> None:
    client = make_client(max_nodes=4)
    inner = linear_spec("t.inc", "t.inc", "t.inc", name="inner")
    spec = {
        "name": "outer",
        "entry": "sub",
        "nodes": {"sub": {"graph": inner}},
        "edges": [{"from": "sub", "to": "END"}],
    }
    response = client.post("/graph/create", json=spec)
    assert response.status_code == 422
    assert "with its subgraphs' nodes" in response.json()["error"]["message"]
    assert (
        client.post(
            "/graph/create",
            json={**spec, "nodes": {"sub": {"graph": linear_spec("t.inc", name="inner")}}},
        ).status_code
        == 201
    )


def test_get_workflow_and_unknown_graph(client: TestClient) -> None:
    body = client.get("/graph/t.flow").json()
    assert body["kind"] == "workflow"
    assert list(body["spec"]["nodes"]) == ["inc", "double"]  # the spec's shape, as stored graphs
    missing = client.get("/graph/nope")
    assert missing.status_code == 404
    assert missing.json()["error"] == {
        "type": "graph_not_found",
        "message": "no stored graph has the id 'nope'; see GET /graphs",
        "details": {"graph_id": "nope"},
    }


def test_mermaid(client: TestClient) -> None:
    gid = create_graph(client)
    body = client.get(f"/graph/{gid}/mermaid").json()
    assert body["mermaid"].startswith("flowchart TD")
    assert '["s1"]' in body["mermaid"]
    assert client.get("/graph/t.flow/mermaid").json()["mermaid"].count("-->") == 3
    assert client.get("/graph/nope/mermaid").status_code == 404
