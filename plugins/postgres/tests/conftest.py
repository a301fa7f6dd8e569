"""Fixtures for the wfengine-postgres tests: a clean environment and a store on a fresh
database (``postgres_url`` comes from the package's pytest plugin)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from wfengine_postgres import PostgresStore

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No WFENGINE_* settings from outside (but the test server's URL); per-user directories
    in tmp."""
    for name in [n for n in os.environ if n.startswith("WFENGINE_")]:
        if name not in ("WFENGINE_TEST_POSTGRES_URL", "WFENGINE_POSTGRES_BIN"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    yield


@pytest.fixture
def store(postgres_url: str) -> Iterator[PostgresStore]:
    """A store on a fresh database, closed afterwards."""
    opened = PostgresStore(postgres_url)
    try:
        yield opened
    finally:
        opened.close()
