"""The studio at ``/ui``: served without a key, under a strict CSP; the browser's WebSocket
authentication (a ``bearer.`` subprotocol, never the query string)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from server_helpers import create_graph
from starlette.websockets import WebSocketDisconnect
from wfengine import Engine
from wfengine.server import create_app
from wfengine.server.security import websocket_key


def _protocol(key: str) -> str:
    return "bearer." + base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def test_page_and_assets_are_public_with_a_strict_csp(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(api_keys=["k1"])
    assert client.get("/runs").status_code == 401  # the data still needs the key
    page = client.get("/ui/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "http" not in csp
    assert '<script type="module" src="static/studio.js">' in page.text
    assert "<script>" not in page.text and "style=" not in page.text  # nothing inline
    script = client.get("/ui/static/studio.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["content-security-policy"] == csp
    assert "innerHTML" not in script.text and "insertAdjacentHTML" not in script.text
    assert client.get("/ui", follow_redirects=False).headers["location"] == "/ui/"


@pytest.mark.parametrize("name", ["nope.js", "..%2Fapp.py", ".hidden.js", "studio.py"])
def test_only_shipped_assets_are_served(client: TestClient, name: str) -> None:
    response = client.get(f"/ui/static/{name}")
    assert response.status_code == 404


def test_websocket_key_from_a_subprotocol(make_client: Callable[..., TestClient]) -> None:
    client = make_client(api_keys=["k/1+="])
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect("/ws/runs/nope", subprotocols=["wfengine"]) as ws,
    ):
        ws.receive_json()
    assert refused.value.code == 4401
    with (
        pytest.raises(WebSocketDisconnect) as wrong,
        client.websocket_connect(
            "/ws/runs/nope", subprotocols=["wfengine", _protocol("other")]
        ) as ws,
    ):
        ws.receive_json()
    assert wrong.value.code == 4401
    with client.websocket_connect(
        "/ws/runs/nope", subprotocols=["wfengine", _protocol("k/1+=")]
    ) as ws:
        assert ws.accepted_subprotocol == "wfengine"
        assert ws.receive_json()["error"]["type"] == "RunNotFoundError"
    # other clients keep using a header
    with client.websocket_connect("/ws/runs/nope", headers={"X-API-Key": "k/1+="}) as ws:
        assert ws.accepted_subprotocol is None
        assert ws.receive_json()["error"]["type"] == "RunNotFoundError"


def test_websocket_key_parsing() -> None:
    assert websocket_key(b"wfengine, " + _protocol("s3cr3t").encode()) == b"s3cr3t"
    assert websocket_key(b"wfengine") is None
    assert websocket_key(b"bearer.%%%") is None


def test_a_runs_report_html_is_served_from_the_data_dir_only(
    client: TestClient, data_dir: Path, tmp_path: Path
) -> None:
    (data_dir / "out").mkdir()
    (data_dir / "out" / "report.html").write_text("<h1>quality</h1>", encoding="utf-8")
    (tmp_path / "secret.html").write_text("TOP-SECRET-CONTENT", encoding="utf-8")
    gid = create_graph(client)

    def run(state: dict[str, object]) -> str:
        body = {"graph_id": gid, "initial_state": {"n": 1, **state}, "wait": True}
        return str(client.post("/graph/run", json=body).json()["run_id"])

    inside = run({"report": {"outputs": {"report_html": str(data_dir / "out" / "report.html")}}})
    response = client.get(f"/runs/{inside}/report.html")
    assert response.status_code == 200 and response.text == "<h1>quality</h1>"
    assert "sandbox" in response.headers["content-security-policy"]
    assert "script" not in response.headers["content-security-policy"]
    outside = run({"report": {"outputs": {"report_html": str(tmp_path / "secret.html")}}})
    refused = client.get(f"/runs/{outside}/report.html")
    assert refused.status_code == 403 and "TOP-SECRET-CONTENT" not in refused.text
    gone = run({"report_html": "out/missing.html"})
    assert client.get(f"/runs/{gone}/report.html").json()["error"]["type"] == "report_not_found"
    none = run({})
    assert client.get(f"/runs/{none}/report.html").status_code == 404
    assert client.get("/runs/nope/report.html").status_code == 404


def test_config_tells_the_page_about_keys_and_history(
    make_client: Callable[..., TestClient],
) -> None:
    assert make_client().get("/ui/config.json").json() == {
        "auth_required": False,
        "history": True,  # memory:// keeps history by default: step slider, fork
    }
    keyed = make_client(api_keys=["k1"]).get("/ui/config.json")
    assert keyed.status_code == 200 and keyed.json()["auth_required"] is True
    with Engine(load_entrypoints=False, store="memory://?history=off") as engine:
        client = TestClient(create_app(engine))
        assert client.get("/ui/config.json").json()["history"] is False
