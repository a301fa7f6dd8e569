"""What clients get back: never a server traceback or file path unless the operator says so
(issue 11, F10), never a 500 for a string UTF-8 cannot carry (F8)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from server_helpers import ServerTestPlugin, create_graph, linear_spec, wait_for
from starlette.websockets import WebSocketDisconnect
from wfengine import Engine
from wfengine.server import create_app

LONE = "\ud800"
"""A lone surrogate: valid in a Python str and as a JSON escape, not encodable as UTF-8."""


def _events(client: TestClient, run_id: str) -> list[dict[str, Any]]:
    events = []
    with client.websocket_connect(f"/ws/runs/{run_id}") as ws:
        while True:
            try:
                events.append(json.loads(ws.receive_text()))
            except WebSocketDisconnect:
                return events


def _post_raw(client: TestClient, path: str, body: str) -> Any:
    """POST JSON text as given (``json=`` would refuse a lone surrogate)."""
    return client.post(path, content=body.encode(), headers={"content-type": "application/json"})


# -- F10: tracebacks and file paths ------------------------------------------------------------


def _failing_run(client: TestClient, wait: bool) -> dict[str, Any]:
    gid = create_graph(client, linear_spec("t.inc", "t.fail"))
    response = client.post("/graph/run", json={"graph_id": gid, "wait": wait})
    assert response.status_code == (200 if wait else 202), response.text
    body: dict[str, Any] = response.json()
    return body if wait else wait_for(client, body["run_id"], "failed")


def _no_traceback_anywhere(text: str) -> None:
    assert "traceback" not in text.lower()
    assert "server_helpers.py" not in text and "wfengine/" not in text


@pytest.mark.parametrize("wait", [True, False])
def test_failed_runs_give_clients_type_and_message_only(
    client: TestClient, caplog: pytest.LogCaptureFixture, wait: bool
) -> None:
    with caplog.at_level(logging.WARNING, logger="wfengine.server"):
        body = _failing_run(client, wait)
    run_id = body["run_id"]
    assert body["error"]["type"] == "ValueError"
    assert body["error"]["message"] == "not ok: set 'ok' to true"
    texts = [
        json.dumps(body),
        client.get(f"/graph/state/{run_id}").text,
        client.get(f"/runs/{run_id}/logs").text,
        client.get("/runs").text,
        json.dumps(_events(client, run_id)),
    ]
    for text in texts:
        _no_traceback_anywhere(text)
    assert "ValueError" in texts[2] and "not ok" in texts[4]
    # the operator still has it, once per run
    logged = [r for r in caplog.records if run_id in r.getMessage()]
    assert len(logged) == 1
    assert "Traceback (most recent call last)" in logged[0].getMessage()
    assert "server_helpers.py" in logged[0].getMessage()


def test_expose_tracebacks_sends_them(make_client: Callable[..., TestClient]) -> None:
    client = make_client(expose_tracebacks=True)
    body = _failing_run(client, wait=True)
    assert "Traceback (most recent call last)" in body["error"]["traceback"]
    failed = [e for e in body["logs"] if e["status"] == "failed"]
    assert "server_helpers.py" in failed[0]["error"]["traceback"]
    state = client.get(f"/graph/state/{body['run_id']}").json()
    assert "traceback" in state["error"]
    finished = _events(client, body["run_id"])[-1]
    assert "traceback" in finished["error"]


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    sqlite_plugin = pytest.importorskip("wfengine_sqlite.plugin")
    url = f"sqlite:///{tmp_path / 'secret-place' / 'runs.db'}"
    (tmp_path / "secret-place").mkdir()
    engine = Engine(plugins=[ServerTestPlugin(), sqlite_plugin], load_entrypoints=False, store=url)
    try:
        yield engine
    finally:
        engine.close()


def test_not_found_does_not_name_the_store_file(sqlite_engine: Engine, tmp_path: Path) -> None:
    with TestClient(create_app(sqlite_engine, data_dir=tmp_path)) as client:
        for path in ("/graph/state/nope", "/runs/nope/logs"):
            response = client.get(path)
            assert response.status_code == 404
            assert response.json()["error"]["message"] == "run 'nope' not found"
            assert "secret-place" not in response.text and "sqlite" not in response.text
        response = client.post("/runs/nope/resume", json={})
        assert response.status_code == 404 and "secret-place" not in response.text


# -- F8: a lone surrogate in a state -----------------------------------------------------------


def test_a_lone_surrogate_in_a_state_is_returned_escaped(client: TestClient) -> None:
    gid = create_graph(client, linear_spec("t.inc"))
    state = '{"s": "\\ud800", "n": 1, "k": ["x\\ud800y", {"d": "\\udcff"}]}'
    waited = _post_raw(client, "/graph/run", f'{{"graph_id": "{gid}", "initial_state": {state}}}')
    assert waited.status_code == 200, waited.text
    expected = {"s": LONE, "n": 2, "k": ["x\ud800y", {"d": "\udcff"}]}
    assert waited.json()["final_state"] == expected
    assert "\\ud800" in waited.text  # escaped as JSON allows, the body is valid UTF-8
    waited.content.decode("utf-8")

    started = _post_raw(
        client, "/graph/run", f'{{"graph_id": "{gid}", "initial_state": {state}, "wait": false}}'
    )
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    for _ in range(3):  # every later read, not only the first
        body = wait_for(client, run_id, "completed")
        assert body["state"] == expected
    logs = client.get(f"/runs/{run_id}/logs")
    assert logs.status_code == 200
    assert client.get("/runs").status_code == 200
    events = _events(client, run_id)
    assert events[-1]["type"] == "run_finished"

    patched = _post_raw(client, f"/runs/{run_id}/resume", '{"state_patch": {"p": "\\udfff"}}')
    assert patched.status_code in (202, 409), patched.text  # never a 500


def test_a_lone_surrogate_survives_the_sqlite_store(sqlite_engine: Engine, tmp_path: Path) -> None:
    with TestClient(create_app(sqlite_engine, data_dir=tmp_path)) as client:
        gid = create_graph(client, linear_spec("t.inc"))
        body = f'{{"graph_id": "{gid}", "initial_state": {{"s": "\\ud800"}}, "wait": false}}'
        run_id = _post_raw(client, "/graph/run", body).json()["run_id"]
        assert wait_for(client, run_id, "completed")["state"]["s"] == LONE
    # a new server on the same database reads it back too
    with TestClient(create_app(sqlite_engine, data_dir=tmp_path)) as client:
        response = client.get(f"/graph/state/{run_id}")
        assert response.status_code == 200 and response.json()["state"]["s"] == LONE


def test_a_lone_surrogate_in_a_spec_or_error_message_is_not_a_500(client: TestClient) -> None:
    spec = json.dumps(linear_spec("t.inc")).replace('"s0"', '"s\\ud8000"')
    created = _post_raw(client, "/graph/create", spec)
    assert created.status_code in (201, 422), created.text
    bad = json.dumps(linear_spec("t.inc")).replace('"t.inc"', '"t.\\ud800"')
    refused = _post_raw(client, "/graph/create", bad)
    assert refused.status_code == 422 and "\\ud800" in refused.text
