"""Fixtures for the wfengine-sqlite tests: a clean environment, a store, an engine on it."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from wfengine import Engine

import wfengine_sqlite.plugin
from wfengine_sqlite import SQLiteStore

HERE = Path(__file__).parent
if str(HERE) not in sys.path:  # sqlite_testgraphs, shared with the subprocesses
    sys.path.insert(0, str(HERE))


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No WFENGINE_* settings from outside; the per-user directories point into tmp."""
    for name in [n for n in os.environ if n.startswith("WFENGINE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    yield


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where the test's database file goes (not created yet)."""
    return tmp_path / "runs.db"


@pytest.fixture
def db_url(db_path: Path) -> str:
    """The test database's URL (absolute path: four slashes)."""
    return f"sqlite:///{db_path}"


@pytest.fixture
def store(db_url: str) -> Iterator[SQLiteStore]:
    """A store on a fresh file, closed afterwards."""
    opened = SQLiteStore(db_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine with only this plugin (no entry points) on the test database."""
    eng = Engine(load_entrypoints=False, plugins=[wfengine_sqlite.plugin], store=db_url)
    try:
        yield eng
    finally:
        eng.close()
