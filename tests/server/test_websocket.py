"""``WS /ws/runs/{run_id}``: every event in order from the start, closing when the run ends.

In process through the TestClient, and against a real uvicorn on loopback with a background
run started over HTTP.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from server_helpers import create_graph, linear_spec, open_gate, wait_for
from starlette.websockets import WebSocketDisconnect
from wfengine import Engine
from wfengine.server import create_app

EXPECTED = [
    ("run_started", None),
    ("node_started", "s0"),
    ("node_finished", "s0"),
    ("step_finished", None),
    ("node_started", "s1"),
    ("node_finished", "s1"),
    ("step_finished", None),
    ("node_started", "s2"),
    ("node_finished", "s2"),
    ("step_finished", None),
    ("run_finished", None),
]


def kinds(events: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [(e["type"], e["node"]) for e in events]


def receive_all(ws: Any) -> list[dict[str, Any]]:
    events = []
    while True:
        try:
            events.append(ws.receive_json())
        except WebSocketDisconnect as exc:
            assert exc.code == 1000
            return events


def test_a_background_run_streams_every_event_in_order(client: TestClient) -> None:
    gid = create_graph(client, linear_spec("t.gate", "t.double", "t.inc"))
    run_id = client.post(
        "/graph/run", json={"graph_id": gid, "initial_state": {"n": 1}, "wait": False}
    ).json()["run_id"]
    with client.websocket_connect(f"/ws/runs/{run_id}") as ws:
        first = ws.receive_json()
        assert (first["type"], first["run_id"]) == ("run_started", run_id)
        assert ws.receive_json()["type"] == "node_started"
        open_gate()
        events = [first, {"type": "node_started", "node": "s0"}, *receive_all(ws)]
    assert kinds(events) == EXPECTED
    assert events[-1]["status"] == "completed"
    assert events[2]["update"] == {"gated": "g"}
    assert [e["step"] for e in events if e["type"] == "step_finished"] == [1, 2, 3]


def test_a_late_client_gets_the_earlier_events_first(client: TestClient) -> None:
    gid = create_graph(client)
    run_id = client.post(
        "/graph/run", json={"graph_id": gid, "initial_state": {"n": 1}, "wait": False}
    ).json()["run_id"]
    wait_for(client, run_id, "completed")
    for _ in range(2):  # and again: the buffer is kept for late clients
        with client.websocket_connect(f"/ws/runs/{run_id}") as ws:
            assert kinds(receive_all(ws)) == EXPECTED


def test_non_json_updates_are_sent_as_text(client: TestClient) -> None:
    gid = create_graph(client, linear_spec("t.weird"))
    run_id = client.post("/graph/run", json={"graph_id": gid, "wait": False}).json()["run_id"]
    with client.websocket_connect(f"/ws/runs/{run_id}") as ws:
        events = receive_all(ws)
    update = next(e for e in events if e["type"] == "node_finished")["update"]
    assert update["nan"] == "nan" and update["a_set"] == [1, 2]


def test_a_run_not_run_in_the_background_gets_a_summary(client: TestClient) -> None:
    gid = create_graph(client, linear_spec("t.fail"))
    run_id = client.post("/graph/run", json={"graph_id": gid}).json()["run_id"]
    with client.websocket_connect(f"/ws/runs/{run_id}") as ws:
        events = receive_all(ws)
    assert len(events) == 1
    assert events[0]["type"] == "run_finished" and events[0]["summary"] is True
    assert events[0]["status"] == "failed"
    assert events[0]["error"]["type"] == "ValueError"


def test_an_unknown_run_is_an_error_message_and_close_4404(client: TestClient) -> None:
    with client.websocket_connect("/ws/runs/nope") as ws:
        message = ws.receive_json()
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_json()
    assert message["error"]["type"] == "RunNotFoundError"
    assert info.value.code == 4404


def test_event_buffers_are_bounded(make_client: Any) -> None:
    client = make_client(max_events_per_run=5)
    gid = create_graph(client)
    run_id = client.post("/graph/run", json={"graph_id": gid, "wait": False}).json()["run_id"]
    wait_for(client, run_id, "completed")
    with client.websocket_connect(f"/ws/runs/{run_id}") as ws:
        events = receive_all(ws)
    assert len(events) == 5
    assert events[-1]["type"] == "run_finished"
    assert events[-1]["events_dropped"] == len(EXPECTED) - 5


# -- a real server on loopback ---------------------------------------------------------------


class LiveServer:
    """uvicorn serving an app on 127.0.0.1 (a free port), in a thread."""

    def __init__(self, app: Any) -> None:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=0, log_level="warning", ws="websockets", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            assert self.thread.is_alive(), "uvicorn stopped while starting"
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.http = f"http://127.0.0.1:{port}"
        self.ws = f"ws://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def live(server_engine: Engine, data_dir: Path) -> Iterator[LiveServer]:
    app = create_app(server_engine, data_dir=data_dir, api_keys=["k"], max_body_bytes=1000)
    with LiveServer(app) as server:
        yield server


def test_live_background_run_over_http_and_websocket(live: LiveServer) -> None:
    from websockets.sync.client import connect

    headers = {"X-API-Key": "k"}
    with httpx.Client(base_url=live.http, headers=headers, timeout=10) as http:
        gid = http.post("/graph/create", json=linear_spec("t.nap", "t.gate", "t.inc")).json()[
            "graph_id"
        ]
        started = http.post(
            "/graph/run", json={"graph_id": gid, "initial_state": {"n": 1}, "wait": False}
        )
        assert started.status_code == 202
        run_id = started.json()["run_id"]
        with connect(f"{live.ws}/ws/runs/{run_id}", additional_headers=headers) as ws:
            events = [json.loads(ws.recv(timeout=10)) for _ in range(5)]
            assert kinds(events)[-1] == ("node_started", "s1")  # waiting at the gate
            assert http.get(f"/graph/state/{run_id}").json()["current_nodes"] == ["s1"]
            open_gate()
            while True:
                try:
                    events.append(json.loads(ws.recv(timeout=10)))
                except Exception as exc:  # ConnectionClosedOK once the run is over
                    assert type(exc).__name__ == "ConnectionClosedOK"
                    break
        assert kinds(events) == EXPECTED
        assert http.get(f"/graph/state/{run_id}").json()["state"] == {
            "n": 2,
            "napped": True,
            "gated": "g",
        }


def test_live_websocket_needs_a_key(live: LiveServer) -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    with pytest.raises(InvalidStatus) as info, connect(f"{live.ws}/ws/runs/x"):
        pass
    assert info.value.response.status_code == 403


def test_live_streamed_body_over_the_limit_is_cut_off(live: LiveServer) -> None:
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        yield b'{"graph_id": "t.flow", "initial_state": {"x": "'
        for _ in range(100):
            sent += 100
            yield b"y" * 100
        yield b'"}}'

    with httpx.Client(base_url=live.http, headers={"X-API-Key": "k"}, timeout=10) as http:
        response = http.post(
            "/graph/run", content=chunks(), headers={"content-type": "application/json"}
        )
        assert response.status_code == 413
        assert response.json()["error"]["details"]["limit_bytes"] == 1000
        ok = http.post("/graph/run", json={"graph_id": "t.flow", "initial_state": {"n": 1}})
        assert ok.json()["final_state"] == {"n": 4}


# -- runs this server does not drive: one shared poller, a cap per client (issue 11, F12) ----


@pytest.fixture
def run_elsewhere(server_engine: Engine) -> Iterator[str]:
    """A run going on outside the server's background runs (held at a gate): its id."""
    thread = threading.Thread(
        target=server_engine.run, args=(linear_spec("t.gate", "t.inc"), {"n": 1}), daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not (runs := server_engine.store.list_runs()[0]):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    yield runs[0].run_id
    open_gate()
    thread.join(10)


def _wait_until(predicate: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_sockets_waiting_on_one_run_share_one_poller(
    server_engine: Engine, data_dir: Path, run_elsewhere: str
) -> None:
    from websockets.sync.client import connect

    app = create_app(server_engine, data_dir=data_dir)
    watchers = app.state.wfengine.watchers
    with LiveServer(app) as live, contextlib.ExitStack() as stack:
        url = f"{live.ws}/ws/runs/{run_elsewhere}"
        sockets = [stack.enter_context(connect(url)) for _ in range(20)]
        _wait_until(lambda: watchers.watching() == 1 and watchers.polls > 0)
        before = watchers.polls
        time.sleep(1.0)
        polls = watchers.polls - before
        assert 1 <= polls <= 8, polls  # one poller every 0.25 s, not 20 of them
        open_gate()
        for ws in sockets:
            event = json.loads(ws.recv(timeout=10))
            assert event["summary"] is True and event["status"] == "completed"
        _wait_until(lambda: watchers.watching() == 0)


def test_the_poller_stops_when_its_last_socket_goes(
    server_engine: Engine, data_dir: Path, run_elsewhere: str
) -> None:
    from websockets.sync.client import connect

    app = create_app(server_engine, data_dir=data_dir)
    watchers = app.state.wfengine.watchers
    with LiveServer(app) as live:
        with contextlib.ExitStack() as stack:
            url = f"{live.ws}/ws/runs/{run_elsewhere}"
            for _ in range(3):
                stack.enter_context(connect(url))
            _wait_until(lambda: watchers.watching() == 1)
        _wait_until(lambda: watchers.watching() == 0)
        stopped_at = watchers.polls
        time.sleep(0.6)
        assert watchers.polls == stopped_at


def test_websockets_per_client_are_capped(
    server_engine: Engine, data_dir: Path, run_elsewhere: str
) -> None:
    from websockets.sync.client import connect

    app = create_app(
        server_engine, data_dir=data_dir, api_keys=["a", "b"], max_websockets_per_client=2
    )
    url_of = f"/ws/runs/{run_elsewhere}"
    with LiveServer(app) as live, contextlib.ExitStack() as stack:

        def open_as(key: str) -> Any:
            headers = {"X-API-Key": key}
            return stack.enter_context(connect(live.ws + url_of, additional_headers=headers))

        first, second = open_as("a"), open_as("a")
        _wait_until(lambda: app.state.wfengine.watchers.watching() == 1)
        third = open_as("a")
        refused = json.loads(third.recv(timeout=10))
        assert refused["error"]["type"] == "too_many_websockets"
        assert refused["error"]["details"]["limit"] == 2
        with pytest.raises(Exception) as closed:
            third.recv(timeout=10)
        assert getattr(closed.value, "rcvd", None) is not None
        assert closed.value.rcvd.code == 4429  # type: ignore[attr-defined]
        other_key = open_as("b")  # another client has its own quota
        first.close()
        time.sleep(0.2)
        again = open_as("a")  # a freed place can be taken
        open_gate()
        for ws in (second, other_key, again):
            assert json.loads(ws.recv(timeout=10))["status"] == "completed"
