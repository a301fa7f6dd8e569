"""Run endpoints: waiting and background runs, state, logs, listing, resume, cancel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from server_helpers import COUNTER, create_graph, linear_spec, open_gate, wait_for
from wfengine.server.models import RunResult


def test_run_and_wait(client: TestClient) -> None:
    gid = create_graph(client)
    response = client.post(
        "/graph/run", json={"graph_id": gid, "initial_state": {"n": 1}, "wait": True}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "completed"
    assert body["final_state"] == {"n": 5}
    assert body["visited_nodes"] == ["s0", "s1", "s2"]
    assert [entry["node"] for entry in body["logs"]] == ["s0", "s1", "s2"]
    assert body["logs"][0]["status"] == "completed"
    assert body["error"] is None
    assert body["graph_id"] == gid
    RunResult.model_validate(body)  # the fast path keeps the documented shape


def test_run_a_registered_workflow_by_name(client: TestClient) -> None:
    body = client.post("/graph/run", json={"graph_id": "t.flow", "initial_state": {"n": 2}}).json()
    assert (body["status"], body["final_state"]) == ("completed", {"n": 6})


def test_unknown_graph_is_404(client: TestClient) -> None:
    response = client.post("/graph/run", json={"graph_id": "nope"})
    assert response.status_code == 404
    assert "GET /workflows" in response.json()["error"]["message"]


def test_spec_file_paths_are_not_runnable(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml

    (tmp_path / "evil.yaml").write_text(yaml.safe_dump(COUNTER))
    monkeypatch.chdir(tmp_path)
    for graph_id in ("evil.yaml", str(tmp_path / "evil.yaml")):
        response = client.post("/graph/run", json={"graph_id": graph_id})
        assert response.status_code == 404, graph_id


def test_a_failing_node_fails_the_run_with_its_error(client: TestClient) -> None:
    gid = create_graph(client, linear_spec("t.inc", "t.fail"))
    body = client.post("/graph/run", json={"graph_id": gid}).json()
    assert body["status"] == "failed"
    assert body["error"]["type"] == "ValueError"
    assert "not ok" in body["error"]["message"]
    assert body["logs"][-1]["status"] == "failed"
    assert body["final_state"] == {"n": 1}


def test_state_values_json_cannot_carry_are_shown_as_text(client: TestClient) -> None:
    gid = create_graph(client, linear_spec("t.weird"))
    response = client.post("/graph/run", json={"graph_id": gid})
    assert response.status_code == 200
    state = response.json()["final_state"]
    assert state["a_set"] == [1, 2]
    assert state["nan"] == "nan"
    assert state["obj"].startswith("<object object at")
    assert state["nested"] == {"1": [1, 2]}
    RunResult.model_validate(response.json())


def test_max_steps(make_client: Any) -> None:
    client = make_client(max_steps=50)
    loop = linear_spec("t.inc")
    loop["edges"] = [{"from": "s0", "to": "s0"}]
    gid = create_graph(client, loop)
    over = client.post("/graph/run", json={"graph_id": gid, "max_steps": 51})
    assert over.status_code == 422
    assert over.json()["error"]["type"] == "limit_exceeded"
    assert client.post("/graph/run", json={"graph_id": gid, "max_steps": 0}).status_code == 422
    body = client.post("/graph/run", json={"graph_id": gid, "max_steps": 5}).json()
    assert body["status"] == "failed"
    assert body["step"] == 5
    assert "StepLimitError" in body["error"]["type"]


def test_interrupt_before_unknown_node_is_4xx(client: TestClient) -> None:
    gid = create_graph(client)
    response = client.post("/graph/run", json={"graph_id": gid, "interrupt_before": ["zz"]})
    assert response.status_code == 400
    assert "zz" in response.json()["error"]["message"]


def test_pause_inspect_patch_and_resume(client: TestClient) -> None:
    gid = create_graph(client)
    paused = client.post(
        "/graph/run", json={"graph_id": gid, "initial_state": {"n": 1}, "interrupt_before": ["s1"]}
    ).json()
    assert paused["status"] == "paused"
    run_id = paused["run_id"]
    state = client.get(f"/graph/state/{run_id}").json()
    assert state["current_nodes"] == ["s1"]
    assert state["state"] == {"n": 2}
    assert state["visited_nodes"] == ["s0"]
    assert state["step"] == 1
    resumed = client.post(
        f"/runs/{run_id}/resume", json={"state_patch": {"n": 10}, "wait": True}
    ).json()
    assert resumed["status"] == "completed"
    assert resumed["final_state"] == {"n": 21}
    again = client.post(f"/runs/{run_id}/resume", json={"wait": True})
    assert again.status_code == 409
    assert again.json()["error"]["details"]["status"] == "completed"


def test_resume_a_failed_run_in_the_background(client: TestClient) -> None:
    gid = create_graph(client, linear_spec("t.inc", "t.fail"))
    run_id = client.post("/graph/run", json={"graph_id": gid}).json()["run_id"]
    response = client.post(f"/runs/{run_id}/resume", json={"state_patch": {"ok": True}})
    assert response.status_code == 202
    assert response.json()["run_id"] == run_id
    body = wait_for(client, run_id, "completed", "failed")
    assert body["status"] == "completed"
    assert body["state"]["failed"] is False


def test_resume_without_body_and_unknown_run(client: TestClient) -> None:
    assert client.post("/runs/nope/resume").status_code == 404
    gid = create_graph(client)
    run_id = client.post("/graph/run", json={"graph_id": gid, "interrupt_before": ["s2"]}).json()[
        "run_id"
    ]
    assert client.post(f"/runs/{run_id}/resume").status_code == 202
    assert wait_for(client, run_id, "completed")["state"] == {"n": 3}


def test_background_run(client: TestClient) -> None:
    gid = create_graph(client, linear_spec("t.inc", "t.gate", "t.double"))
    response = client.post(
        "/graph/run", json={"graph_id": gid, "initial_state": {"n": 1}, "wait": False}
    )
    assert response.status_code == 202
    body = response.json()
    run_id = body["run_id"]
    assert body["status"] == "running"
    assert response.headers["location"] == f"/graph/state/{run_id}"
    state = wait_for(client, run_id, "running")
    assert state["finished_at"] is None
    open_gate()
    done = wait_for(client, run_id, "completed")
    assert done["state"] == {"n": 4, "gated": "g"}
    assert done["current_nodes"] == []


def test_cancel_a_background_run(client: TestClient) -> None:
    gid = create_graph(client, linear_spec("t.gate", "t.inc"))
    run_id = client.post("/graph/run", json={"graph_id": gid, "wait": False}).json()["run_id"]
    response = client.post(f"/runs/{run_id}/cancel")
    assert response.status_code == 200
    assert response.json()["cancel_requested"] is True
    open_gate()
    body = wait_for(client, run_id, "cancelled")
    assert body["visited_nodes"] == ["s0"]
    assert client.post(f"/runs/{run_id}/cancel").status_code == 409


def test_cancel_paused_then_completed(client: TestClient) -> None:
    gid = create_graph(client)
    run_id = client.post("/graph/run", json={"graph_id": gid, "interrupt_before": ["s1"]}).json()[
        "run_id"
    ]
    assert client.post(f"/runs/{run_id}/cancel").json()["status"] == "cancelled"
    done = client.post("/graph/run", json={"graph_id": gid}).json()["run_id"]
    response = client.post(f"/runs/{done}/cancel")
    assert response.status_code == 409
    assert response.json()["error"]["type"] == "run_not_cancellable"
    assert client.post("/runs/nope/cancel").status_code == 404


def test_a_running_run_cannot_be_resumed(client: TestClient) -> None:
    gid = create_graph(client, linear_spec("t.gate"))
    run_id = client.post("/graph/run", json={"graph_id": gid, "wait": False}).json()["run_id"]
    response = client.post(f"/runs/{run_id}/resume", json={"wait": True})
    assert response.status_code == 409
    assert response.json()["error"]["type"] == "run_active"
    open_gate()
    wait_for(client, run_id, "completed")


def test_a_run_the_engine_drives_outside_the_server_is_active_for_it(
    client: TestClient, server_engine: Any
) -> None:
    # one owner of the runs going on: the engine, whoever started the run
    gid = create_graph(client, linear_spec("t.inc", "t.gate", "t.double"))
    paused = client.post("/graph/run", json={"graph_id": gid, "interrupt_before": ["s1"]})
    run_id = paused.json()["run_id"]
    handle = server_engine.prepare_resume(run_id)
    events = handle.events()
    next(events)  # running, held at the gate
    response = client.post(f"/runs/{run_id}/resume", json={"wait": False})
    assert response.status_code == 409
    assert response.json()["error"]["type"] == "run_active"
    assert client.post(f"/runs/{run_id}/cancel").json()["cancel_requested"] is True
    open_gate()
    for _event in events:
        pass
    assert wait_for(client, run_id, "cancelled")["visited_nodes"] == ["s0", "s1"]


def test_too_many_background_runs_is_429(make_client: Any) -> None:
    client = make_client(max_active_runs=1)
    gid = create_graph(client, linear_spec("t.gate"))
    first = client.post("/graph/run", json={"graph_id": gid, "wait": False})
    assert first.status_code == 202
    second = client.post("/graph/run", json={"graph_id": gid, "wait": False})
    assert second.status_code == 429
    assert second.json()["error"]["type"] == "too_many_runs"
    open_gate()
    wait_for(client, first.json()["run_id"], "completed")


def test_logs(client: TestClient) -> None:
    gid = create_graph(client)
    run_id = client.post("/graph/run", json={"graph_id": gid}).json()["run_id"]
    body = client.get(f"/runs/{run_id}/logs").json()
    assert body["run_id"] == run_id
    assert [(e["node"], e["step"], e["attempt"]) for e in body["logs"]] == [
        ("s0", 1, 1),
        ("s1", 2, 1),
        ("s2", 3, 1),
    ]
    assert all(e["started_at"].endswith("Z") and e["duration_ms"] >= 0 for e in body["logs"])
    assert client.get("/runs/nope/logs").status_code == 404
    assert client.get("/graph/state/nope").json()["error"]["type"] == "RunNotFoundError"


def test_list_runs_filters_and_pages(client: TestClient) -> None:
    gid = create_graph(client)
    failing = create_graph(client, linear_spec("t.fail"))
    ids = [client.post("/graph/run", json={"graph_id": gid}).json()["run_id"] for _ in range(3)]
    failed = client.post("/graph/run", json={"graph_id": failing}).json()["run_id"]
    everything = client.get("/runs").json()
    assert [r["run_id"] for r in everything["runs"]] == [failed, *reversed(ids)]
    assert everything["next_cursor"] is None
    assert [
        r["run_id"] for r in client.get("/runs", params={"status": "failed"}).json()["runs"]
    ] == [failed]
    page1 = client.get("/runs", params={"graph_id": gid, "limit": 2}).json()
    assert [r["run_id"] for r in page1["runs"]] == [ids[2], ids[1]]
    page2 = client.get(
        "/runs", params={"graph_id": gid, "limit": 2, "cursor": page1["next_cursor"]}
    ).json()
    assert [r["run_id"] for r in page2["runs"]] == [ids[0]]
    assert page2["next_cursor"] is None
    assert client.get("/runs", params={"status": "bogus"}).status_code == 422
    assert client.get("/runs", params={"limit": 0}).status_code == 422
    bad = client.get("/runs", params={"cursor": "zz"})
    assert bad.status_code == 422
    assert bad.json()["error"]["type"] == "invalid_cursor"


def test_list_runs_by_time_and_text(client: TestClient) -> None:
    gid = create_graph(client)
    failing = create_graph(client, linear_spec("t.fail"))
    ok = client.post("/graph/run", json={"graph_id": gid, "wait": True}).json()["run_id"]
    bad = client.post("/graph/run", json={"graph_id": failing, "wait": True}).json()
    message = client.get(f"/graph/state/{bad['run_id']}").json()["error"]["message"]

    def ids(**params: str) -> list[str]:
        response = client.get("/runs", params=params)
        assert response.status_code == 200, response.text
        return [r["run_id"] for r in response.json()["runs"]]

    assert ids(q=ok[:8].upper()) == [ok]
    assert ids(q=message[:6]) == [bad["run_id"]]
    assert ids(created_after="2000-01-01T00:00:00") == [bad["run_id"], ok]
    assert ids(created_after="2999-01-01T00:00:00+02:00") == []
    assert ids(created_before="2000-01-01") == []
    bogus = client.get("/runs", params={"created_after": "yesterday"})
    assert bogus.status_code == 422 and "created_after" in bogus.text


def test_info_endpoints(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok", "version": "0.1.0"}
    tools = client.get("/tools").json()["tools"]
    assert {
        "name": "t.inc",
        "description": "Add ``by`` to ``n``.",
        "plugin": tools[0]["plugin"],
    } in tools
    workflows = client.get("/workflows").json()["workflows"]
    assert [w["name"] for w in workflows] == ["t.flow"]
    assert workflows[0]["description"] == "inc then double"
    plugins = client.get("/plugins").json()
    names = [p["name"] for p in plugins["plugins"]]
    assert "ServerTestPlugin" in names
    assert plugins["failures"] == []
    conditions = [c["name"] for c in client.get("/conditions").json()["conditions"]]
    assert {"all", "any", "not", "expr"} <= set(conditions)


def test_unknown_route_and_method_are_json(client: TestClient) -> None:
    missing = client.get("/nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "not_found"
    wrong = client.get("/graph/run")
    assert wrong.status_code in (404, 405)
    assert "error" in wrong.json()
