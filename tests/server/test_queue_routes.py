"""Queued runs over the REST API: ``POST /graph/run`` with ``queue: true``, cancel of a queued
or worker-held run, and a WebSocket following a run an in-process worker drives through the
memory store's event feed."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from server_helpers import ServerTestPlugin, create_graph, linear_spec, open_gate
from wfengine import Engine
from wfengine.server import create_app
from wfengine.storage import MemoryStore
from wfengine.worker import Worker

pytestmark = pytest.mark.server


def test_queue_true_stores_a_queued_run_and_answers_202(
    client: TestClient, server_engine: Engine
) -> None:
    gid = create_graph(client, linear_spec("t.inc", "t.double"))
    response = client.post(
        "/graph/run", json={"graph_id": gid, "queue": True, "initial_state": {"n": 1}}
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "queued" and body["graph_id"] == gid
    assert response.headers["location"] == f"/graph/state/{body['run_id']}"
    state = client.get(f"/graph/state/{body['run_id']}").json()
    assert state["status"] == "queued" and state["current_nodes"] == ["s0"]
    listed = client.get("/runs", params={"status": "queued"}).json()["runs"]
    assert [r["run_id"] for r in listed] == [body["run_id"]]
    assert server_engine.active_run(body["run_id"]) is None, "nothing runs on the server"


def test_queue_with_wait_true_is_refused_with_422(client: TestClient) -> None:
    gid = create_graph(client, linear_spec("t.inc"))
    response = client.post("/graph/run", json={"graph_id": gid, "queue": True, "wait": True})
    assert response.status_code == 422
    assert response.json()["error"]["type"] == "queue_and_wait"
    assert client.get("/runs").json()["runs"] == [], "nothing stored"
    ok = client.post("/graph/run", json={"graph_id": gid, "queue": True, "wait": False})
    assert ok.status_code == 202


class NoQueue:
    """A store without the QueueStore capability (the memory store's other members)."""

    durable = False

    def __init__(self) -> None:
        self.inner = MemoryStore()

    def __getattr__(self, name: str) -> Any:
        if name in ("claim_run", "heartbeat", "release_run", "request_cancel"):
            raise AttributeError(name)
        return getattr(self.inner, name)


def test_queue_on_a_store_that_cannot_queue_is_refused_with_422(data_dir: Any) -> None:
    engine = Engine(plugins=[ServerTestPlugin()], load_entrypoints=False, store=NoQueue())  # type: ignore[arg-type]
    with TestClient(create_app(engine, data_dir=data_dir)) as http:
        gid = create_graph(http, linear_spec("t.inc"))
        response = http.post("/graph/run", json={"graph_id": gid, "queue": True})
    assert response.status_code == 422
    assert response.json()["error"]["type"] == "queue_unsupported"
    assert "cannot queue runs" in response.json()["error"]["message"]


def test_cancel_of_a_queued_run_cancels_it_at_once(client: TestClient) -> None:
    gid = create_graph(client, linear_spec("t.inc"))
    run_id = client.post("/graph/run", json={"graph_id": gid, "queue": True}).json()["run_id"]
    response = client.post(f"/runs/{run_id}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"


def test_a_websocket_follows_a_run_an_in_process_worker_drives(
    server_engine: Engine, data_dir: Any
) -> None:
    app = create_app(server_engine, data_dir=data_dir)
    with TestClient(app) as http:
        gid = create_graph(http, linear_spec("t.inc", "t.gate", "t.double"))
        run_id = http.post("/graph/run", json={"graph_id": gid, "queue": True}).json()["run_id"]
        worker_engine = Engine(load_entrypoints=False, store=server_engine.store)
        worker_engine.register_plugin(server_engine.pm.get_plugin("ServerTestPlugin"))
        worker = Worker(worker_engine, exit_when_idle=True, poll=0.01, lease=5)
        with http.websocket_connect(f"/ws/runs/{run_id}") as ws:
            thread = threading.Thread(target=worker.run)
            thread.start()
            events = [ws.receive_json()]
            open_gate()
            while events[-1]["type"] != "run_finished":
                events.append(ws.receive_json())
        thread.join(10)
    kinds = [e["type"] for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished", kinds
    assert kinds.count("node_finished") == 3 and kinds.count("step_finished") == 3, kinds
    assert events[-1]["status"] == "completed" and "summary" not in events[-1]
    assert not any(e.get("polled") for e in events), "from the feed, not the poller"


def test_a_queued_run_cannot_be_resumed_on_the_server(client: TestClient) -> None:
    gid = create_graph(client, linear_spec("t.inc"))
    run_id = client.post("/graph/run", json={"graph_id": gid, "queue": True}).json()["run_id"]
    response = client.post(f"/runs/{run_id}/resume", json={"wait": True})
    assert response.status_code == 409
    assert "queued for a worker" in response.json()["error"]["message"]


def test_a_run_a_worker_holds_is_refused_409_run_active_on_the_server(
    tmp_path: Any, data_dir: Any
) -> None:
    import wfengine_sqlite.plugin as sqlite_plugin

    url = f"sqlite:///{tmp_path}/runs.db"
    plugins = [ServerTestPlugin(), sqlite_plugin]
    engine = Engine(plugins=plugins, load_entrypoints=False, store=url)
    with engine, TestClient(create_app(engine, data_dir=data_dir)) as client:
        gid = create_graph(client, linear_spec("t.inc"))
        queued = client.post("/graph/run", json={"graph_id": gid, "queue": True})
        run_id = queued.json()["run_id"]
        assert engine.store.claim_run("elsewhere", 30.0) == run_id  # type: ignore[attr-defined]
        response = client.post(f"/runs/{run_id}/resume", json={"wait": True})
    assert response.status_code == 409
    assert response.json()["error"]["type"] == "run_active"
    assert "worker 'elsewhere'" in response.json()["error"]["message"]
