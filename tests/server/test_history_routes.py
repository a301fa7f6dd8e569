"""REST history endpoints (issue 17): history, state at a step, diff, blame, fork; on the
memory store with history and on SQLite; 501 on a store without history."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from server_helpers import COUNTER, ServerTestPlugin, create_graph
from wfengine import Engine
from wfengine.server import create_app

pytestmark = pytest.mark.server


@pytest.fixture(params=["memory", "sqlite"])
def history_client(
    request: pytest.FixtureRequest, tmp_path: Path, data_dir: Path
) -> Iterator[TestClient]:
    """A server on the memory store (history is on by default), or on SQLite."""
    plugins: list[Any] = [ServerTestPlugin()]
    if request.param == "sqlite":
        plugins.append(pytest.importorskip("wfengine_sqlite.plugin"))
        url = f"sqlite:///{tmp_path / 'runs.db'}"
    else:
        url = "memory://"
    engine = Engine(plugins=plugins, load_entrypoints=False, store=url)
    with TestClient(create_app(engine, data_dir=data_dir), raise_server_exceptions=False) as c:
        yield c
    engine.close()


def _run(client: TestClient, n: int = 1) -> dict[str, Any]:
    graph_id = create_graph(client, COUNTER)
    response = client.post(
        "/graph/run", json={"graph_id": graph_id, "initial_state": {"n": n}, "wait": True}
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def test_history_state_diff_and_blame(history_client: TestClient) -> None:
    client = history_client
    run = _run(client)  # n: 1 -> inc 2 -> double 4 -> inc 5
    run_id = run["run_id"]
    steps = client.get(f"/runs/{run_id}/history").json()["steps"]
    assert [(s["step"], s["nodes"], s["changed"]) for s in steps] == [
        (1, ["s0"], ["n"]),
        (2, ["s1"], ["n"]),
        (3, ["s2"], ["n"]),
    ]
    assert all(s["attempts"] == 1 for s in steps)
    assert client.get(f"/runs/{run_id}/state", params={"step": 2}).json() == {
        "run_id": run_id,
        "step": 2,
        "state": {"n": 4},
    }
    missing = client.get(f"/runs/{run_id}/state", params={"step": 9})
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "step_not_found"
    diff = client.get(f"/runs/{run_id}/diff", params={"from": 1, "to": 3}).json()
    assert diff["changed"] == {"n": {"before": 2, "after": 5}}
    blame = client.get(f"/runs/{run_id}/blame/n").json()
    assert all(w["attempt"] == 1 and w["started_at"] for w in blame["writes"])
    assert len({w["digest"] for w in blame["writes"]}) == 3
    assert [(w["step"], w["nodes"], w["how"], w["value"]) for w in blame["writes"]] == [
        (1, ["s0"], "set", 2),
        (2, ["s1"], "set", 4),
        (3, ["s2"], "set", 5),
    ]
    assert client.get("/runs/nope/history").status_code == 404


def test_blame_marks_the_values_of_a_resume_patch(history_client: TestClient) -> None:
    client = history_client
    graph_id = create_graph(client, COUNTER)
    started = client.post(
        "/graph/run",
        json={
            "graph_id": graph_id,
            "initial_state": {"n": 1},
            "wait": True,
            "interrupt_after": ["s1"],
        },
    )
    run_id = started.json()["run_id"]  # n: 1 -> inc 2 -> double 4, paused after step 2
    resumed = client.post(f"/runs/{run_id}/resume", json={"state_patch": {"n": 7}, "wait": True})
    assert resumed.status_code == 200 and resumed.json()["final_state"] == {"n": 8}
    writes = client.get(f"/runs/{run_id}/blame/n").json()["writes"]
    assert [(w["step"], w["nodes"], w["how"], w["patch"], w["value"]) for w in writes] == [
        (1, ["s0"], "set", False, 2),
        (2, ["s1"], "set", False, 4),
        (2, [], "patched", True, 7),
        (3, ["s2"], "set", False, 8),
    ]
    assert writes[2]["attempt"] is None and writes[2]["digest"] != writes[1]["digest"]


def test_fork_with_a_patch_and_the_diff_of_two_runs(history_client: TestClient) -> None:
    client = history_client
    run_id = _run(client)["run_id"]
    fork = client.post(
        f"/runs/{run_id}/fork", json={"step": 1, "state_patch": {"n": 10}, "wait": True}
    )
    assert fork.status_code == 200, fork.text
    data = fork.json()
    assert data["run_id"] != run_id and data["final_state"] == {"n": 21}
    parted = client.get(f"/runs/{run_id}/diff", params={"other": data["run_id"]}).json()
    assert parted["step"] == 1 and parted["changed"] == {"n": {"before": 2, "after": 10}}
    bad = client.post(f"/runs/{run_id}/fork", json={"step": 7})
    assert bad.status_code == 404


def test_a_store_without_history_is_501(data_dir: Path) -> None:
    engine = Engine(
        plugins=[ServerTestPlugin()], load_entrypoints=False, store="memory://?history=off"
    )
    client = TestClient(create_app(engine, data_dir=data_dir), raise_server_exceptions=False)
    run_id = _run(client)["run_id"]
    response = client.get(f"/runs/{run_id}/history")
    assert response.status_code == 501
    error = response.json()["error"]
    assert error["type"] == "HistoryUnsupportedError"
    assert "keeps no history" in error["message"] and "history=off" in error["message"]
