"""REST: a run paused by a node's ``interrupt()`` question, shown and answered over HTTP."""

from __future__ import annotations

from fastapi.testclient import TestClient
from server_helpers import create_graph, linear_spec, wait_for
from wfengine.server.models import RunResult


def test_a_question_is_shown_and_answered(client: TestClient) -> None:
    gid = create_graph(client, linear_spec("t.inc", "t.ask", "t.double", name="asking"))
    body = client.post("/graph/run", json={"graph_id": gid, "initial_state": {"n": 1}}).json()
    RunResult.model_validate(body)
    assert body["status"] == "paused"
    question = {"value": {"ask": "answer", "n": 2}, "index": 0}
    assert body["questions"] == {"s1": question}
    run_id = body["run_id"]

    state = client.get(f"/graph/state/{run_id}").json()
    assert state["status"] == "paused" and state["questions"] == {"s1": question}
    [listed] = [r for r in client.get("/runs").json()["runs"] if r["run_id"] == run_id]
    assert listed["questions"] == {"s1": question}

    done = client.post(f"/runs/{run_id}/resume", json={"answer": {"ok": 1}, "wait": True})
    assert done.status_code == 200, done.text
    result = done.json()
    assert result["status"] == "completed" and result["questions"] == {}
    assert result["final_state"] == {"n": 4, "answer": {"ok": 1}}


def test_null_is_an_answer_and_a_missing_answer_asks_again(client: TestClient) -> None:
    gid = create_graph(client, linear_spec("t.ask", name="ask-null"))
    run_id = client.post("/graph/run", json={"graph_id": gid}).json()["run_id"]
    again = client.post(f"/runs/{run_id}/resume", json={"wait": True}).json()
    assert again["status"] == "paused" and "s0" in again["questions"]
    done = client.post(f"/runs/{run_id}/resume", json={"answer": None, "wait": True}).json()
    assert done["status"] == "completed" and done["final_state"] == {"answer": None}


def test_an_answer_without_a_question_is_422(client: TestClient) -> None:
    gid = create_graph(client, linear_spec("t.inc", "t.inc", name="no-question"))
    body = client.post("/graph/run", json={"graph_id": gid, "interrupt_after": ["s0"]}).json()
    assert body["status"] == "paused" and body["final_state"] == {"n": 1}
    response = client.post(f"/runs/{body['run_id']}/resume", json={"answer": 1, "wait": True})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["type"] == "invalid_answer" and "no pending question" in error["message"]
    done = client.post(f"/runs/{body['run_id']}/resume", json={"wait": True}).json()
    assert done["status"] == "completed" and done["final_state"] == {"n": 2}


def test_background_resume_with_an_answer(client: TestClient) -> None:
    gid = create_graph(client, linear_spec("t.ask", name="ask-bg"))
    run_id = client.post("/graph/run", json={"graph_id": gid}).json()["run_id"]
    accepted = client.post(f"/runs/{run_id}/resume", json={"answer": "yes"})
    assert accepted.status_code == 202
    assert wait_for(client, run_id, "completed")["state"] == {"answer": "yes"}


def test_a_budget_pauses_and_resume_sets_a_new_total(client: TestClient) -> None:
    gid = create_graph(client, linear_spec("t.inc", "t.inc", "t.inc", name="budgeted"))
    body = client.post("/graph/run", json={"graph_id": gid, "budget": {"steps": 2}}).json()
    assert body["status"] == "paused" and body["final_state"] == {"n": 2}
    assert body["pause_reason"] == "budget: steps 2 of 2 spent"
    state = client.get(f"/graph/state/{body['run_id']}").json()
    assert state["pause_reason"] == body["pause_reason"]
    done = client.post(
        f"/runs/{body['run_id']}/resume", json={"budget": {"steps": 10}, "wait": True}
    ).json()
    assert done["status"] == "completed" and done["final_state"] == {"n": 3}
    assert done["pause_reason"] is None


def test_a_bad_budget_is_422(client: TestClient) -> None:
    gid = create_graph(client, linear_spec("t.inc", name="bad-budget"))
    response = client.post("/graph/run", json={"graph_id": gid, "budget": {"stepz": 2}})
    assert response.status_code == 422
    assert "unknown key 'stepz'" in response.json()["error"]["message"]
