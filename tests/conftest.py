"""Shared fixtures. Tests under tests/integration/ are marked ``plugins``, under tests/server/
``server``, so ``tox -e bare`` (the engine alone) can deselect them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from wfengine import Engine
from wfengine.engine import reset_default_engine

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).relative_to(HERE.parent).parts
        if "integration" in parts:
            item.add_marker(pytest.mark.plugins)
        if "server" in parts:
            item.add_marker(pytest.mark.server)


@pytest.fixture
def engine() -> Iterator[Engine]:
    """An engine with the built-ins only: no entry points, in-memory store."""
    eng = Engine(load_entrypoints=False, store="memory://")
    try:
        yield eng
    finally:
        eng.close()


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Keep the user's environment and data directory out of every test."""
    for name in (
        "WFENGINE_STORE",
        "WFENGINE_LOAD_PLUGINS",
        "WFENGINE_DISABLE_PLUGINS",
        "WFENGINE_STRICT_PLUGINS",
        "WFENGINE_MAX_STEPS",
        "WFENGINE_JSONLOG",
        "WFENGINE_API_KEYS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)  # whatever a test writes to "." stays out of the checkout
    yield
    reset_default_engine()
