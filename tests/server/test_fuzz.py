"""Schemathesis fuzzes every operation of the app's own OpenAPI schema: never a 5xx.

Bounded: a few examples per operation, no network (the app is called in process), with a
stored graph and a registered workflow to hit.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from server_helpers import COUNTER, ServerTestPlugin
from wfengine import Engine
from wfengine.server import create_app


def _app() -> object:
    data_dir = Path(tempfile.mkdtemp(prefix="wfengine-fuzz-"))
    engine = Engine(plugins=[ServerTestPlugin()], load_entrypoints=False, store="memory://")
    engine.save_graph(COUNTER, "counter")
    return create_app(engine, data_dir=data_dir, max_active_runs=4, max_steps=100)


# built at import (not from a fixture): schemathesis' lazy fixture loading breaks on newer pytest
schema = schemathesis.openapi.from_asgi("/openapi.json", _app())


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors(case: schemathesis.Case) -> None:
    response = case.call()
    assert response.status_code < 500, (case.method, case.path, response.text)
    if response.status_code >= 400:
        body = response.json()
        assert set(body["error"]) == {"type", "message", "details"}, body
