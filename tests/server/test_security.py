"""API keys, body and state limits, path confinement, and serve()'s refusal to be exposed."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from server_helpers import COUNTER, create_graph, linear_spec
from wfengine.errors import WorkflowError
from wfengine.server import InsecureServerError, ServerConfigError, create_app, serve
from wfengine.server.security import is_loopback

# -- API keys --------------------------------------------------------------------------------


def test_without_keys_everything_is_open(client: TestClient) -> None:
    assert client.get("/tools").status_code == 200


@pytest.mark.parametrize(
    "path", ["/tools", "/graphs", "/runs", "/graph/state/x", "/openapi.json", "/docs"]
)
def test_with_keys_every_endpoint_but_health_needs_one(make_client: Any, path: str) -> None:
    client = make_client(api_keys=["k1", "k2"])
    response = client.get(path)
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "unauthorized"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert client.get("/health").status_code == 200


def test_post_without_key_is_401_before_the_body_matters(make_client: Any) -> None:
    client = make_client(api_keys=["k1"])
    assert client.post("/graph/create", json=COUNTER).status_code == 401
    assert client.post("/graph/run", content=b"x" * 100).status_code == 401


def test_bearer_and_x_api_key_are_accepted(make_client: Any) -> None:
    client = make_client(api_keys=["k1", "k2"])
    assert client.get("/tools", headers={"Authorization": "Bearer k2"}).status_code == 200
    assert client.get("/tools", headers={"authorization": "bearer k1"}).status_code == 200
    assert client.get("/tools", headers={"X-API-Key": "k1"}).status_code == 200
    gid = create_graph(client.__class__(client.app, headers={"X-API-Key": "k1"}))
    assert gid


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer k3"},
        {"Authorization": "k1"},
        {"Authorization": "Basic k1"},
        {"X-API-Key": "k"},
        {"X-API-Key": "k1 k1"},
        {"X-API-Key": ""},
    ],
)
def test_wrong_keys_are_refused(make_client: Any, headers: dict[str, str]) -> None:
    client = make_client(api_keys=["k1"])
    assert client.get("/tools", headers=headers).status_code == 401


def test_keys_from_the_environment(make_client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WFENGINE_API_KEYS", " a , b ,")
    client = make_client()
    assert client.get("/tools").status_code == 401
    assert client.get("/tools", headers={"X-API-Key": "b"}).status_code == 200
    assert make_client(api_keys=[]).get("/tools").status_code == 200  # explicit: none


def test_websocket_needs_a_key(make_client: Any) -> None:
    from starlette.websockets import WebSocketDisconnect

    client = make_client(api_keys=["k1"])
    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect("/ws/runs/x"):
        pass
    assert info.value.code == 4401


# -- limits ----------------------------------------------------------------------------------


def test_body_over_the_limit_is_413_by_content_length(make_client: Any) -> None:
    client = make_client(max_body_bytes=1000)
    response = client.post(
        "/graph/run", json={"graph_id": "t.flow", "initial_state": {"x": "y" * 2000}}
    )
    assert response.status_code == 413
    assert response.json()["error"]["details"] == {"limit_bytes": 1000}


def test_body_over_the_limit_is_413_when_streamed(make_client: Any) -> None:
    client = make_client(max_body_bytes=1000)
    payload = json.dumps({"graph_id": "t.flow", "initial_state": {"x": "y" * 2000}}).encode()

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(payload), 100):
            yield payload[i : i + 100]

    response = client.post(
        "/graph/run", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "content_too_large"


def test_body_under_the_limit_passes(make_client: Any) -> None:
    client = make_client(max_body_bytes=1000)
    response = client.post("/graph/run", json={"graph_id": "t.flow", "initial_state": {"n": 1}})
    assert response.status_code == 200


def test_state_over_the_limit_is_413(make_client: Any) -> None:
    client = make_client(max_state_bytes=100)
    response = client.post(
        "/graph/run", json={"graph_id": "t.flow", "initial_state": {"n": 1, "x": "y" * 200}}
    )
    assert response.status_code == 413
    details = response.json()["error"]["details"]
    assert details["where"] == "initial_state" and details["limit"] == 100


def test_bad_limits_are_configuration_errors(server_engine: Any, data_dir: Path) -> None:
    with pytest.raises(ServerConfigError, match="max_nodez"):
        create_app(server_engine, data_dir=data_dir, max_nodez=3)
    with pytest.raises(ServerConfigError, match="max_nodes"):
        create_app(server_engine, data_dir=data_dir, max_nodes=0)
    with pytest.raises(WorkflowError, match="does not exist"):
        create_app(server_engine, data_dir=data_dir / "missing")


# -- paths -----------------------------------------------------------------------------------


def _read(client: TestClient, **state: Any) -> Any:
    gid = create_graph(client, linear_spec("t.read"))
    return client.post("/graph/run", json={"graph_id": gid, "initial_state": state})


def test_relative_paths_resolve_inside_the_data_dir(client: TestClient, data_dir: Path) -> None:
    body = _read(client, source="in.csv", n=1).json()
    assert body["status"] == "completed"
    assert body["final_state"]["source"] == str(data_dir.resolve() / "in.csv")
    assert body["final_state"]["text"] == "a,b\n1,2\n"


def test_absolute_paths_inside_the_data_dir_are_kept(client: TestClient, data_dir: Path) -> None:
    body = _read(client, source=str(data_dir / "sub" / ".." / "in.csv")).json()
    assert body["final_state"]["source"] == str(data_dir.resolve() / "in.csv")


@pytest.mark.parametrize("key", ["source", "output_dir", "report_path", "cache_dir", "log_file"])
@pytest.mark.parametrize(
    "value",
    [
        "/etc/passwd",
        "../secret.txt",
        "a/../../secret.txt",
        "file:///etc/passwd",
        "s3://bucket/key",
        "in\x00.csv",
    ],
)
def test_paths_out_of_the_data_dir_are_403(client: TestClient, key: str, value: str) -> None:
    response = _read(client, **{key: value})
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["type"] == "PathOutsideDataDir"
    assert error["details"]["where"] == f"initial_state.{key}"
    assert error["details"]["path"] == value


def test_symlinks_out_of_the_data_dir_are_403(
    client: TestClient, data_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "secret.txt").write_text("secret")
    (data_dir / "link.txt").symlink_to(tmp_path / "secret.txt")
    (data_dir / "linkdir").symlink_to(tmp_path)
    assert _read(client, source="link.txt").status_code == 403
    assert _read(client, source="linkdir/secret.txt").status_code == 403
    (data_dir / "inner.txt").symlink_to(data_dir / "in.csv")
    assert _read(client, source="inner.txt").json()["final_state"]["text"] == "a,b\n1,2\n"


def test_nested_and_listed_paths_are_checked(client: TestClient) -> None:
    nested = _read(client, source="in.csv", config={"inputs": [{"data_file": "/etc/passwd"}]})
    assert nested.status_code == 403
    assert nested.json()["error"]["details"]["where"] == (
        "initial_state.config.inputs[0].data_file"
    )
    listed = _read(client, source="in.csv", input_path=["in.csv", "/etc/hosts"])
    assert listed.json()["error"]["details"]["where"] == "initial_state.input_path[1]"
    other = _read(client, source="in.csv", title="/etc/passwd")  # not a path key: left alone
    assert other.json()["final_state"]["title"] == "/etc/passwd"


def test_deeply_nested_states_are_refused(client: TestClient) -> None:
    deep: dict[str, Any] = {}
    cursor = deep
    for _ in range(40):
        cursor["d"] = {}
        cursor = cursor["d"]
    response = client.post(
        "/graph/run", json={"graph_id": "t.flow", "initial_state": {"n": 1, "deep": deep}}
    )
    assert response.status_code == 422  # bad input, not a path refusal (hardening F19)
    assert "nested deeper" in response.json()["error"]["message"]
    assert response.json()["error"]["details"]["where"].startswith("initial_state.deep.d")


def test_state_patch_paths_are_checked(client: TestClient) -> None:
    gid = create_graph(client, linear_spec("t.read"))
    run = client.post("/graph/run", json={"graph_id": gid}).json()
    assert run["status"] == "failed"  # no source
    response = client.post(
        f"/runs/{run['run_id']}/resume", json={"state_patch": {"source": "../x"}, "wait": True}
    )
    assert response.status_code == 403
    assert response.json()["error"]["details"]["where"] == "state_patch.source"
    fixed = client.post(
        f"/runs/{run['run_id']}/resume", json={"state_patch": {"source": "in.csv"}, "wait": True}
    ).json()
    assert fixed["status"] == "completed"


def test_spec_params_paths_are_checked(client: TestClient, data_dir: Path) -> None:
    spec = linear_spec("t.inc")
    spec["nodes"]["s0"]["params"] = {"output_dir": "/tmp"}
    response = client.post("/graph/create", json=spec)
    assert response.status_code == 403
    assert response.json()["error"]["details"]["where"] == "nodes.s0.params.output_dir"
    spec["nodes"]["s0"]["params"] = {"by": 2}
    assert client.post("/graph/create", json=spec).status_code == 201


def test_data_dir_defaults_to_the_current_directory(
    server_engine: Any, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(data_dir)
    with TestClient(create_app(server_engine)) as client:
        body = _read(client, source="in.csv").json()
    assert body["final_state"]["source"] == str(data_dir.resolve() / "in.csv")


# -- serve -----------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2", "[::1]"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "10.0.0.1", "example.com"])
def test_non_loopback_hosts(host: str) -> None:
    assert not is_loopback(host)


@pytest.fixture
def fake_uvicorn(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    import gc

    import uvicorn

    monkeypatch.setattr(gc, "freeze", lambda: None)  # not for the test process
    calls: list[dict[str, Any]] = []

    class FakeServer:
        """Records the configuration ``serve`` would run instead of running it."""

        def __init__(self, config: uvicorn.Config) -> None:
            self.config = config

        def run(self) -> None:
            c = self.config
            calls.append(
                {
                    "app": c.app,
                    "host": c.host,
                    "port": c.port,
                    "limit_concurrency": c.limit_concurrency,
                    "timeout_keep_alive": c.timeout_keep_alive,
                }
            )

    monkeypatch.setattr(uvicorn, "Server", FakeServer)
    return calls


def test_serve_refuses_an_exposed_host_without_keys(
    fake_uvicorn: list[dict[str, Any]], data_dir: Path
) -> None:
    with pytest.raises(InsecureServerError) as info:
        serve(host="0.0.0.0", data_dir=data_dir)
    assert isinstance(info.value, WorkflowError)
    assert "WFENGINE_API_KEYS" in str(info.value) and "0.0.0.0" in str(info.value)
    assert fake_uvicorn == []


def test_serve_exposed_with_keys_or_insecure(
    fake_uvicorn: list[dict[str, Any]],
    server_engine: Any,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    serve(host="0.0.0.0", port=9999, engine=server_engine, data_dir=data_dir, insecure=True)
    monkeypatch.setenv("WFENGINE_API_KEYS", "k")
    serve(host="0.0.0.0", engine=server_engine, data_dir=data_dir)
    serve(engine=server_engine, data_dir=data_dir, max_nodes=5)
    assert [(c["host"], c["port"]) for c in fake_uvicorn] == [
        ("0.0.0.0", 9999),
        ("0.0.0.0", 8000),
        ("127.0.0.1", 8000),
    ]
    assert {(c["limit_concurrency"], c["timeout_keep_alive"]) for c in fake_uvicorn} == {(1024, 5)}
    serve(engine=server_engine, data_dir=data_dir, limit_concurrency=7, timeout_keep_alive=2)
    assert (fake_uvicorn[-1]["limit_concurrency"], fake_uvicorn[-1]["timeout_keep_alive"]) == (7, 2)
    with TestClient(fake_uvicorn[1]["app"]) as client:
        assert client.get("/tools").status_code == 401
    with TestClient(fake_uvicorn[2]["app"]) as client:
        assert client.get("/tools", headers={"X-API-Key": "k"}).status_code == 200


def test_serve_builds_its_own_engine_with_the_store(
    fake_uvicorn: list[dict[str, Any]], data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WFENGINE_LOAD_PLUGINS", "")
    serve(store="memory://", data_dir=data_dir)
    ctx = fake_uvicorn[0]["app"].state.wfengine
    assert ctx.engine.store_url == "memory://"
    assert ctx.paths.root == data_dir.resolve()
    assert os.fspath(ctx.paths.root)
