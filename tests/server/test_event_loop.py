"""Hardening F4: no client-controlled work runs on the event loop.

A graph whose recent runs were fast used to run its next ``wait: true`` run on the event
loop; a client controls how long a run takes, so one request could block every client,
``/health`` included. Every run now executes on the server's run threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from wfengine import END, Engine, Graph, hookimpl

pytestmark = pytest.mark.server


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


def test_fast_graphs_still_run_on_the_run_threads(
    make_client: Callable[..., TestClient], server_engine: Engine
) -> None:
    spy = ThreadSpy()
    server_engine.register_plugin(spy, name="spy")
    client = make_client()
    for _ in range(40):  # more than the 16 fast runs that used to move a graph inline
        response = client.post("/graph/run", json={"graph_id": "spy", "initial_state": {}})
        assert response.status_code == 200 and response.json()["status"] == "completed"
    assert len(spy.threads) == 40
    assert all(name.startswith("wfengine-server") for name in spy.threads), set(spy.threads)
