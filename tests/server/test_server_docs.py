"""The server's README lists every endpoint the app serves, and every limit."""

from __future__ import annotations

from pathlib import Path

import wfengine.server
from fastapi.routing import APIRoute, APIWebSocketRoute
from fastapi.testclient import TestClient
from wfengine.server import ServerLimits

README = Path(wfengine.server.__file__).with_name("README.md")


def test_every_endpoint_is_documented(client: TestClient) -> None:
    text = README.read_text()
    missing, checked = [], 0
    for route in client.app.routes:  # type: ignore[attr-defined]
        if isinstance(route, APIRoute) and route.include_in_schema:
            names = [f"`{method} {route.path}`" for method in sorted(route.methods)]
        elif isinstance(route, APIWebSocketRoute):
            names = [f"`WS {route.path}`"]
        else:
            continue
        checked += len(names)
        missing += [name for name in names if name not in text]
    assert checked == 17
    assert missing == []


def test_every_limit_is_documented() -> None:
    text = README.read_text()
    assert [name for name in sorted(ServerLimits.names()) if f"`{name}`" not in text] == []
