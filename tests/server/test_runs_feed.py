"""``WS /ws/runs``: every run's status changes on one socket (the studio's runs page)."""

from __future__ import annotations

import asyncio
import base64
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from server_helpers import COUNTER, ServerTestPlugin, create_graph, linear_spec, open_gate
from starlette.websockets import WebSocketDisconnect
from wfengine import Engine
from wfengine.server import create_app
from wfengine.server.feed import PLUGIN_NAME, RESYNC, RunFeed


def _changes(ws: Any, count: int) -> list[tuple[str, str]]:
    """The next ``count`` run messages as (run id, status)."""
    seen = []
    for _ in range(count):
        message = ws.receive_json()
        assert message["type"] == "run", message
        seen.append((message["run_id"], message["status"]))
    return seen


def test_every_runs_status_changes_come_on_one_socket(client: TestClient) -> None:
    gid = create_graph(client)
    gated = create_graph(client, linear_spec("t.gate", "t.inc", name="feed-gated"))
    asking = linear_spec("t.ask", name="feed-asking")
    with client.websocket_connect("/ws/runs") as ws:
        assert ws.receive_json() == {"type": "listening"}
        done = client.post("/graph/run", json={"graph_id": gid, "initial_state": {"n": 1}})
        run_id = done.json()["run_id"]
        assert _changes(ws, 2) == [(run_id, "running"), (run_id, "completed")]
        background = client.post(
            "/graph/run",
            json={"graph_id": gated, "initial_state": {"n": 1}, "wait": False},
        ).json()["run_id"]
        assert _changes(ws, 1) == [(background, "running")]
        open_gate()
        assert _changes(ws, 1) == [(background, "completed")]
        paused = client.post(
            "/graph/run", json={"graph_id": create_graph(client, asking), "wait": True}
        ).json()
        run_id = paused["run_id"]
        message = [ws.receive_json() for _ in range(2)][1]
        assert (message["run_id"], message["status"]) == (run_id, "paused")
        assert message["questions"]["s0"]["value"]["ask"] == "answer"  # a GET /runs entry
        assert client.post(f"/runs/{run_id}/cancel").status_code == 200  # not going on
        assert _changes(ws, 1) == [(run_id, "cancelled")]


def test_failed_runs_carry_no_traceback(make_client: Callable[..., TestClient]) -> None:
    client = make_client(expose_tracebacks=True)
    gid = create_graph(client, linear_spec("t.fail", name="feed-fail"))
    with client.websocket_connect("/ws/runs") as ws:
        ws.receive_json()
        client.post("/graph/run", json={"graph_id": gid})
        failed = [ws.receive_json() for _ in range(2)][1]
    assert failed["status"] == "failed"
    assert failed["error"]["message"] == "not ok: set 'ok' to true"
    assert "traceback" not in failed["error"]


def test_the_feed_needs_the_key_from_a_header_or_subprotocol(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(api_keys=["k1"])
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect("/ws/runs", subprotocols=["wfengine"]) as ws,
    ):
        ws.receive_json()
    assert refused.value.code == 4401
    bearer = "bearer." + base64.urlsafe_b64encode(b"k1").decode().rstrip("=")
    with client.websocket_connect("/ws/runs", subprotocols=["wfengine", bearer]) as ws:
        assert ws.accepted_subprotocol == "wfengine"
        assert ws.receive_json() == {"type": "listening"}
    with client.websocket_connect("/ws/runs", headers={"X-API-Key": "k1"}) as ws:
        assert ws.receive_json() == {"type": "listening"}


def test_the_feed_counts_against_the_clients_socket_quota(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(max_websockets_per_client=1)
    with client.websocket_connect("/ws/runs") as first:
        assert first.receive_json() == {"type": "listening"}
        with (
            pytest.raises(WebSocketDisconnect) as refused,
            client.websocket_connect("/ws/runs") as second,
        ):
            assert second.receive_json()["error"]["type"] == "too_many_websockets"
            second.receive_json()
        assert refused.value.code == 4429


def test_one_feed_per_engine_and_a_listener_leaves_cleanly(
    server_engine: Engine, make_client: Callable[..., TestClient]
) -> None:
    first, second = make_client(), make_client()
    feed = RunFeed.of(server_engine)
    assert first.app.state.wfengine.feed is feed is second.app.state.wfengine.feed
    assert [p.name for p in server_engine.plugins()].count(PLUGIN_NAME) == 1
    with first.websocket_connect("/ws/runs") as ws:
        ws.receive_json()
        assert feed.listeners() == 1
    deadline = time.monotonic() + 10  # the server notices the disconnect (slow on a busy box)
    while feed.listeners() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert feed.listeners() == 0
    gid = create_graph(first, COUNTER)  # runs go on without listeners
    run = first.post("/graph/run", json={"graph_id": gid, "initial_state": {"n": 1}}).json()
    assert run["status"] == "completed"


def test_a_listener_that_falls_behind_gets_one_resync() -> None:
    engine = Engine(load_entrypoints=False)
    graph = engine.load_spec(
        {"name": "g", "entry": "a", "nodes": {"a": {"call": "builtins:dict"}},
         "edges": [{"from": "a", "to": "END"}]}
    )  # fmt: skip
    feed = RunFeed(queue_size=3)

    async def listen() -> list[dict[str, Any]]:
        with feed.subscribe() as subscription:
            for _ in range(5):
                feed.publish(engine.run(graph, {}))
            await asyncio.sleep(0.05)  # the messages land on this loop
            got = []
            while not subscription.queue.empty():
                got.append(await subscription.get())
            return got

    got = asyncio.run(listen())
    # three fit; the fourth finds the queue full: one resync instead; the fifth queues after it
    assert got[0] == RESYNC and len(got) == 2 and got[1]["type"] == "run"
    assert feed.listeners() == 0


def test_a_change_is_published_once() -> None:
    engine = Engine(load_entrypoints=False)
    graph = engine.load_spec(
        {"name": "g", "entry": "a", "nodes": {"a": {"call": "builtins:dict"}},
         "edges": [{"from": "a", "to": "END"}]}
    )  # fmt: skip
    feed = RunFeed()

    async def listen() -> int:
        with feed.subscribe() as subscription:
            run = engine.run(graph, {})
            for _ in range(3):  # the hook and a store read may both see it
                feed.publish(run)
            await asyncio.sleep(0.05)
            return subscription.queue.qsize()

    assert asyncio.run(listen()) == 1


@pytest.mark.timeout(60)
def test_runs_another_process_drives_come_from_the_store(tmp_path: Path) -> None:
    sqlite = pytest.importorskip("wfengine_sqlite.plugin")
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    here = Engine(plugins=[ServerTestPlugin(), sqlite], load_entrypoints=False, store=url)
    there = Engine(plugins=[ServerTestPlugin(), sqlite], load_entrypoints=False, store=url)
    spec = linear_spec("t.gate", "t.inc", name="elsewhere")
    spec["nodes"]["s0"]["params"] = {"name": "elsewhere"}
    with TestClient(create_app(here)) as client:
        feed = client.app.state.wfengine.feed  # type: ignore[attr-defined]
        feed.poll_seconds = 0.05
        gid = create_graph(client, spec)
        with client.websocket_connect("/ws/runs") as ws:
            assert ws.receive_json() == {"type": "listening"}
            deadline = time.monotonic() + 10
            while feed.polls < 2:  # the first read only takes note of what is there
                assert time.monotonic() < deadline
                time.sleep(0.01)
            elsewhere = threading.Thread(target=there.run, args=(gid, {"n": 1}))
            elsewhere.start()
            first = ws.receive_json()
            assert first["status"] == "running" and first["graph_id"] == gid
            open_gate("elsewhere")
            seen = [first]
            while seen[-1]["status"] == "running":
                seen.append(ws.receive_json())
            elsewhere.join(10)
    assert {m["run_id"] for m in seen} == {first["run_id"]}
    assert seen[-1]["status"] == "completed" and seen[-1]["step"] == 2
    assert feed.polls > 2
    here.close()
    there.close()


def test_a_queued_run_shows_on_the_feed_when_submitted(client: TestClient) -> None:
    """A run stored for a worker fires no run hook here: the submit itself tells the feed."""
    gid = create_graph(client)
    with client.websocket_connect("/ws/runs") as ws:
        assert ws.receive_json() == {"type": "listening"}
        queued = client.post(
            "/graph/run", json={"graph_id": gid, "initial_state": {"n": 1}, "queue": True}
        )
        assert queued.status_code == 202
        after = client.post("/graph/run", json={"graph_id": gid, "initial_state": {"n": 1}})
        assert _changes(ws, 2) == [
            (queued.json()["run_id"], "queued"),
            (after.json()["run_id"], "running"),
        ]
