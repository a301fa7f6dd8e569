"""``GET /cache`` and ``DELETE /cache``: the cached node results, as ``wf cache`` shows them."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from wfengine import END, Engine, Graph
from wfengine.storage import MemoryStore

pytestmark = pytest.mark.server


def cached(name: str) -> Graph:
    def score(state: dict[str, Any]) -> dict[str, Any]:
        return {"score": state["threshold"] * 2}

    graph = Graph(name).add_node("score", score, cache=True, reads=["threshold"])
    return graph.add_edge("score", END).set_entry_point("score")


def test_cached_results_are_listed_and_cleared_per_graph(
    server_engine: Engine, client: TestClient
) -> None:
    server_engine.run(cached("alpha"), {"threshold": 1})
    server_engine.run(cached("alpha"), {"threshold": 2})
    server_engine.run(cached("beta"), {"threshold": 1})

    listed = client.get("/cache").json()["entries"]
    assert sorted((e["graph_id"], e["node"]) for e in listed) == [
        ("alpha", "score"),
        ("alpha", "score"),
        ("beta", "score"),
    ]
    assert all(len(e["key"]) == 64 and e["created_at"].endswith("Z") for e in listed)
    assert "update" not in listed[0], "the listing leaves the cached values out"
    only = client.get("/cache", params={"graph_id": "beta"}).json()["entries"]
    assert [e["graph_id"] for e in only] == ["beta"]

    assert client.delete("/cache", params={"graph_id": "alpha"}).json() == {"cleared": 2}
    assert [e["graph_id"] for e in client.get("/cache").json()["entries"]] == ["beta"]
    assert client.delete("/cache").json() == {"cleared": 1}
    assert client.get("/cache").json() == {"entries": []}


def test_a_store_without_a_cache_is_answered_501(server_engine: Engine, client: TestClient) -> None:
    class NoCache(MemoryStore):  # a store lacking one member of the capability
        clear_cache = None  # type: ignore[assignment]

    server_engine.set_store(NoCache())
    for response in (client.get("/cache"), client.delete("/cache")):
        assert response.status_code == 501
        assert response.json()["error"]["type"] == "cache_unsupported"
        assert "NoCache keeps no cache" in response.json()["error"]["message"]
