"""A node's ``wfengine.emit(kind, data)`` as a ``node_progress`` line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import wfengine
from wfengine import END, Engine, Graph

from wfengine_jsonlog import JsonLogPlugin


def test_emit_is_logged_as_node_progress(
    tmp_path: Path, read_log: Callable[[Path], list[dict[str, Any]]]
) -> None:
    def work(state: dict[str, Any]) -> dict[str, Any]:
        wfengine.emit("progress", {"done": 1, "total": 2})
        wfengine.emit("token", "x" * 5000)  # cut to max_value_bytes
        return {"ok": True}

    path = tmp_path / "log.jsonl"
    graph = Graph("p").add_node("work", work).add_edge("work", END).set_entry_point("work")
    with Engine(plugins=[JsonLogPlugin(path)], load_entrypoints=False) as engine:
        engine.run(graph)
    lines = [e for e in read_log(path) if e["event"] == "node_progress"]
    assert [(e["node"], e["step"], e["kind"]) for e in lines] == [
        ("work", 1, "progress"),
        ("work", 1, "token"),
    ]
    assert lines[0]["data"] == {"done": 1, "total": 2} and lines[0]["level"] == "info"
    assert isinstance(lines[1]["data"], str) and len(lines[1]["data"]) < 5000
