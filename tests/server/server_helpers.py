"""Test tools, a test plugin, specs and helpers shared by the REST server tests."""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wfengine import END, Graph, hookimpl

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

GATES: dict[str, threading.Event] = {}
"""Events a ``t.gate`` node waits on, by name: tests open them to let a run go on."""


def inc(state: dict[str, Any], by: int = 1) -> dict[str, Any]:
    """Add ``by`` to ``n``."""
    return {"n": state.get("n", 0) + by}


def double(state: dict[str, Any]) -> dict[str, Any]:
    """Double ``n``."""
    return {"n": state["n"] * 2}


def fail(state: dict[str, Any]) -> dict[str, Any]:
    """Fail unless ``ok`` is set."""
    if not state.get("ok"):
        raise ValueError("not ok: set 'ok' to true")
    return {"failed": False}


def gate(state: dict[str, Any], name: str = "g") -> dict[str, Any]:
    """Wait (up to 10 s) until the test opens gate ``name``."""
    GATES.setdefault(name, threading.Event()).wait(10)
    return {"gated": name}


def weird(state: dict[str, Any]) -> dict[str, Any]:
    """Return values JSON cannot carry."""
    return {"a_set": {1, 2}, "nan": math.nan, "obj": object(), "nested": {1: (1, 2)}}


def read_source(state: dict[str, Any]) -> dict[str, Any]:
    """Read the file named by ``source``."""
    return {"text": Path(state["source"]).read_text()}


def nap(state: dict[str, Any], seconds: float = 0.05) -> dict[str, Any]:
    """Sleep a little."""
    time.sleep(seconds)
    return {"napped": True}


def echo_items(state: dict[str, Any]) -> dict[str, Any]:
    """Return ``items`` again (an ``extend`` reducer doubles it) and count a round."""
    return {"items": list(state.get("items") or []), "n": 1}


def ask(state: dict[str, Any], key: str = "answer") -> dict[str, Any]:
    """Ask a person for ``key`` with ``interrupt()``; the answer goes to ``key``."""
    import wfengine

    return {key: wfengine.interrupt({"ask": key, "n": state.get("n")})}


class ServerTestPlugin:
    """Tools and one workflow for the server tests."""

    @hookimpl
    def wfengine_register_tools(self, registry: Any) -> None:
        for name, func in (
            ("t.inc", inc),
            ("t.double", double),
            ("t.fail", fail),
            ("t.gate", gate),
            ("t.weird", weird),
            ("t.read", read_source),
            ("t.nap", nap),
            ("t.echo_items", echo_items),
            ("t.ask", ask),
        ):
            registry.register(name, func)

    @hookimpl
    def wfengine_register_workflows(self, registry: Any) -> None:
        registry.register("t.flow", _flow, "inc then double")


def _flow() -> Graph:
    return (
        Graph("t.flow")
        .add_node("inc", inc)
        .add_node("double", double)
        .add_edge("inc", "double")
        .add_edge("double", END)
        .set_entry_point("inc")
    )


def linear_spec(*tools: str, name: str = "linear", **extra: Any) -> dict[str, Any]:
    """A spec running ``tools`` one after the other (nodes named ``s0``, ``s1``...)."""
    nodes = {f"s{i}": {"tool": tool} for i, tool in enumerate(tools)}
    edges = [{"from": f"s{i}", "to": f"s{i + 1}"} for i in range(len(tools) - 1)]
    edges.append({"from": f"s{len(tools) - 1}", "to": "END"})
    return {"name": name, "entry": "s0", "nodes": nodes, "edges": edges, **extra}


COUNTER = linear_spec("t.inc", "t.double", "t.inc", name="counter")


def create_graph(client: TestClient, spec: dict[str, Any] = COUNTER, **params: Any) -> str:
    response = client.post("/graph/create", json=spec, params=params)
    assert response.status_code == 201, response.text
    graph_id: str = response.json()["graph_id"]
    return graph_id


def wait_for(
    client: TestClient, run_id: str, *statuses: str, timeout: float = 10
) -> dict[str, Any]:
    """Poll the run's state until its status is one of ``statuses``."""
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = client.get(f"/graph/state/{run_id}").json()
        if body["status"] in statuses:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} still {body['status']}, wanted {statuses}")
        time.sleep(0.01)


def open_gate(name: str = "g") -> None:
    GATES.setdefault(name, threading.Event()).set()
