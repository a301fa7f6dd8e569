"""Fixtures for the wfengine-jsonlog tests: a clean environment, graphs, reading logs back."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from wfengine import END, Engine, Graph, RetryPolicy

ENV_NAMES = (
    "WFENGINE_JSONLOG",
    "WFENGINE_JSONLOG_VALUES",
    "WFENGINE_STORE",
    "WFENGINE_LOAD_PLUGINS",
    "WFENGINE_DISABLE_PLUGINS",
    "WFENGINE_STRICT_PLUGINS",
    "WFENGINE_MAX_STEPS",
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No WFENGINE_* settings from outside."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    yield
    # `wf --log-json` must not set these; if a regression does, do not leak them
    os.environ.pop("WFENGINE_JSONLOG", None)
    os.environ.pop("WFENGINE_JSONLOG_VALUES", None)


def _parse_lines(text: str) -> list[dict[str, Any]]:
    """Every line parsed as one JSON object (a line that does not parse fails the test)."""
    assert text == "" or text.endswith("\n"), "the last line is incomplete"
    events = []
    for number, line in enumerate(text.splitlines(), 1):
        try:
            event = json.loads(line)
        except json.JSONDecodeError as exc:
            pytest.fail(f"line {number} is not JSON ({exc}): {line!r}")
        assert isinstance(event, dict), line
        events.append(event)
    return events


@pytest.fixture
def parse_lines() -> Callable[[str], list[dict[str, Any]]]:
    """Parse JSON-lines text: one object per line, the last line complete."""
    return _parse_lines


@pytest.fixture
def read_log() -> Callable[[Path], list[dict[str, Any]]]:
    """Read a JSON-lines file back (see ``parse_lines``)."""
    return lambda path: _parse_lines(path.read_text(encoding="utf-8"))


@pytest.fixture
def env_engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """An engine that loads the jsonlog entry point (and no other plugin), as `wf` would."""
    monkeypatch.setenv("WFENGINE_LOAD_PLUGINS", "jsonlog")
    engine = Engine(store="memory://")
    assert "jsonlog" in [p.name for p in engine.plugins()], engine.plugin_failures
    try:
        yield engine
    finally:
        engine.pm.get_plugin("jsonlog").close()
        engine.close()


@pytest.fixture
def fanout() -> Graph:
    """start -> (left, right in parallel) -> join -> END."""
    return (
        Graph("fanout")
        .add_node("start", lambda s: {"n": 1})
        .add_node("left", lambda s: {"left": s["n"] + 1})
        .add_node("right", lambda s: {"right": s["n"] + 2})
        .add_node("join", lambda s: {**s, "total": s["left"] + s["right"]})
        .add_edge("start", "left")
        .add_edge("start", "right")
        .add_edge(["left", "right"], "join")
        .add_edge("join", END)
        .set_entry_point("start")
    )


@pytest.fixture
def retrying() -> Graph:
    """prepare -> flaky (fails once, then succeeds; retry policy of 2 attempts) -> END."""
    calls = {"flaky": 0}

    def flaky(state: dict[str, Any]) -> dict[str, Any]:
        calls["flaky"] += 1
        if calls["flaky"] == 1:
            raise ConnectionError("transient outage")
        return {"fetched": True}

    return (
        Graph("retry")
        .add_node("prepare", lambda s: {"url": "http://example.invalid"})
        .add_node("flaky", flaky, retry=RetryPolicy(max_attempts=2, initial_delay=0))
        .add_edge("prepare", "flaky")
        .add_edge("flaky", END)
        .set_entry_point("prepare")
    )


@pytest.fixture
def failing() -> Graph:
    """ok -> boom (raises, no retry) -> never."""

    def boom(state: dict[str, Any]) -> None:
        raise RuntimeError("the boom node exploded")

    return (
        Graph("failing")
        .add_node("ok", lambda s: {"ready": True})
        .add_node("boom", boom)
        .add_node("never", lambda s: None)
        .add_edge("ok", "boom")
        .add_edge("boom", "never")
        .add_edge("never", END)
        .set_entry_point("ok")
    )
