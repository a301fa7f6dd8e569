"""docs/server.md lists every endpoint the app serves, and every limit."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from wfengine.server import ServerLimits
from wfengine.server.websocket import router as websocket_router

README = Path(__file__).parents[2] / "docs" / "server.md"


def test_every_endpoint_is_documented(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    names = [f"`{method.upper()} {path}`" for path, ops in paths.items() for method in ops]
    names += [f"`WS {route.path}`" for route in websocket_router.routes]  # type: ignore[attr-defined]
    assert len(names) == 24
    text = README.read_text()
    assert [name for name in names if name not in text] == []


def test_every_limit_is_documented() -> None:
    text = README.read_text()
    assert [name for name in sorted(ServerLimits.names()) if f"`{name}`" not in text] == []
