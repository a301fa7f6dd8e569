"""Fixtures for the data-quality plugin's tests: sample data, and the workflow without an engine."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from wfengine_dataquality import apply_rules, detect, generate_rules, load, profile, report
from wfengine_dataquality.io import frame_cache
from wfengine_dataquality.sample import generate_customers

#: The repository root, when the tests run from a checkout (examples/ lives there).
REPO = Path(__file__).resolve().parents[3]

Tool = Callable[..., dict[str, Any]]


@pytest.fixture(autouse=True)
def _cold_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts without cached frames and with defaults for the environment."""
    monkeypatch.delenv("WFENGINE_DQ_CACHE", raising=False)
    frame_cache.clear()
    yield
    frame_cache.clear()


@pytest.fixture(scope="session")
def customers(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The sample customers CSV (3,000 rows, seed 7) and its manifest of planted problems."""
    frame, manifest = generate_customers(3000, 7)
    path = tmp_path_factory.mktemp("data") / "customers.csv"
    frame.write_csv(path)
    return path, manifest


def merge(state: dict[str, Any], update: Mapping[str, Any]) -> None:
    """Merge a tool's update the way the workflow does (``issues`` extends)."""
    for key, value in update.items():
        state[key] = [*state.get(key, []), *value] if key == "issues" else value


def run_workflow(state: Mapping[str, Any], **params: Mapping[str, Any]) -> dict[str, Any]:
    """Run the data-quality workflow by hand, as the graph routes it; ``params`` per tool name."""
    tools: dict[str, Tool] = {
        "load": load,
        "profile": profile,
        "detect": detect,
        "generate_rules": generate_rules,
        "apply_rules": apply_rules,
        "report": report,
    }
    state = dict(state)

    def step(name: str) -> None:
        merge(state, tools[name](state, **params.get(name, {})))

    step("load")
    while True:
        step("profile")
        step("detect")
        if not (state["anomaly_count"] > state["threshold"] and state["round"] < state["max_rounds"]):
            break
        step("generate_rules")
        step("apply_rules")
    step("report")
    return state


@pytest.fixture
def workflow() -> Callable[..., dict[str, Any]]:
    """``workflow(state, **params_per_tool)`` runs the whole workflow without an engine."""
    return run_workflow
