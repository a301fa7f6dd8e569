"""Fixtures for the data-quality plugin's tests: sample data, the workflow without an engine,
and an engine holding only this plugin."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from dq_helpers import run_workflow
from wfengine import Engine

from wfengine_dataquality.plugin import DataQualityPlugin
from wfengine_dataquality.sample import generate_customers


@pytest.fixture(autouse=True)
def _default_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with the defaults for the environment (cached frames belong to each
    engine, so every test's engine starts without any)."""
    monkeypatch.delenv("WFENGINE_DQ_CACHE", raising=False)


@pytest.fixture(scope="session")
def customers(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The sample customers CSV (3,000 rows, seed 7) and its manifest of planted problems."""
    frame, manifest = generate_customers(3000, 7)
    path = tmp_path_factory.mktemp("data") / "customers.csv"
    frame.write_csv(path)
    return path, manifest


@pytest.fixture
def workflow() -> Callable[..., dict[str, Any]]:
    """``workflow(state, **params_per_tool)`` runs the whole workflow without an engine."""
    return run_workflow


@pytest.fixture
def engine() -> Iterator[Engine]:
    """An engine with this plugin only (no entry points) and an in-memory store."""
    eng = Engine(load_entrypoints=False, plugins=[DataQualityPlugin], store="memory://")
    try:
        yield eng
    finally:
        eng.close()
