"""A real third-party distribution, installed with pip, found through its entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from wfengine import Engine, RunStatus


def test_installed_plugin_is_discovered_and_listed() -> None:
    engine = Engine()
    info = {p.name: p for p in engine.plugins()}["thirdparty"]
    assert info.distribution == "wfengine-thirdparty-example"
    assert info.version == "0.3.1"
    assert "wfengine_register_tools" in info.hooks
    assert engine.tools.entry("thirdparty.greet").plugin == "thirdparty"


def test_its_tool_runs_from_a_spec_and_its_hooks_see_the_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = tmp_path / "events.jsonl"
    monkeypatch.setenv("WFENGINE_THIRDPARTY_EVENTS", str(events))
    spec = {
        "name": "greeting",
        "entry": "greet",
        "nodes": {"greet": {"tool": "thirdparty.greet", "params": {"greeting": "Hi"}}},
        "edges": [
            {"from": "greet", "to": "END", "when": {"strategy": "thirdparty.has", "key": "message"}}
        ],
    }
    engine = Engine()
    run = engine.run(engine.load_spec(spec), {"name": "Ada"})
    assert run.status == RunStatus.COMPLETED
    assert run.state["message"] == "Hi, Ada!"
    seen = [json.loads(line) for line in events.read_text().splitlines()]
    assert [e["event"] for e in seen] == [
        "run_started",
        "node_started",
        "node_finished",
        "run_finished",
    ]
    assert seen[2] == {"event": "node_finished", "node": "greet", "keys": ["message"]}
    assert seen[3]["status"] == "completed"
