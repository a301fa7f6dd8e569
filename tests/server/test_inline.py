"""Fast graphs' ``wait: true`` runs move onto the event loop; slow ones stay on threads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from wfengine import END, Engine, Graph, hookimpl
from wfengine.server.inline import WINDOW, InlinePolicy


def test_a_graph_goes_inline_after_a_window_of_fast_runs_and_back_after_a_slow_one() -> None:
    policy = InlinePolicy(budget_us=1000)
    assert not policy.inline("g")
    for _ in range(WINDOW - 1):
        policy.record("g", 0.0001)
    assert not policy.inline("g")
    policy.record("g", 0.0001)
    assert policy.inline("g") and not policy.inline("other")
    policy.record("g", 0.5)
    assert not policy.inline("g")


def test_a_zero_budget_never_inlines() -> None:
    policy = InlinePolicy(budget_us=0)
    for _ in range(WINDOW * 2):
        policy.record("g", 0.0)
    assert not policy.inline("g")


class ThreadSpy:
    """A workflow whose one node records which thread ran it."""

    def __init__(self) -> None:
        self.threads: list[str] = []

    def where(self, state: dict[str, Any]) -> dict[str, Any]:
        self.threads.append(threading.current_thread().name)
        return {"ok": True}

    @hookimpl
    def wfengine_register_workflows(self, registry: Any) -> None:
        registry.register(
            "spy",
            lambda: Graph("spy").add_node("w", self.where).add_edge("w", END).set_entry_point("w"),
        )


@pytest.fixture
def spy_client(make_client: Callable[..., TestClient], server_engine: Engine) -> Any:
    spy = ThreadSpy()
    server_engine.register_plugin(spy, name="spy")
    return spy, make_client(inline_run_us=1_000_000)


def test_the_run_endpoint_inlines_a_graph_once_it_has_been_fast(spy_client: Any) -> None:
    spy, client = spy_client
    for _ in range(WINDOW + 2):
        response = client.post("/graph/run", json={"graph_id": "spy", "initial_state": {}})
        assert response.status_code == 200 and response.json()["status"] == "completed"
    threaded, inline = spy.threads[:WINDOW], spy.threads[WINDOW:]
    assert all(name.startswith("wfengine-server") for name in threaded)
    assert inline and not any(name.startswith("wfengine-server") for name in inline)
