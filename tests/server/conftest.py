"""Fixtures for the REST server tests: an engine with test tools, a TestClient, a data dir."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from server_helpers import GATES, ServerTestPlugin
from wfengine import Engine

try:
    from fastapi.testclient import TestClient
    from wfengine.server import create_app
except ImportError:  # the server extra is not installed (tox -e bare)
    SERVER_EXTRA = False
else:
    SERVER_EXTRA = True


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool:
    """Without the server extra, and with server tests deselected (``-m "not server"``), do
    not import these modules at all; if they were selected, their imports fail loudly."""
    return not SERVER_EXTRA and "not server" in (config.getoption("markexpr") or "")


@pytest.fixture(autouse=True)
def _gates() -> Iterator[None]:
    GATES.clear()
    yield
    for event in GATES.values():  # never leave a run waiting
        event.set()


@pytest.fixture
def server_engine() -> Iterator[Engine]:
    eng = Engine(plugins=[ServerTestPlugin()], load_entrypoints=False, store="memory://")
    try:
        yield eng
    finally:
        eng.close()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    (path / "in.csv").write_text("a,b\n1,2\n")
    return path


@pytest.fixture
def make_client(server_engine: Engine, data_dir: Path) -> Iterator[Callable[..., TestClient]]:
    """Build a TestClient for an app with the given ``create_app`` options."""
    clients: list[TestClient] = []

    def make(**options: Any) -> TestClient:
        options.setdefault("data_dir", data_dir)
        client = TestClient(create_app(server_engine, **options), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()
