"""Fixtures for the ``wf`` tests: an engine holding the fixture plugin, and a runner."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cli_helpers import Invoke
from click.testing import CliRunner, Result
from wf_fixture import FixturePlugin
from wfengine import Engine
from wfengine.cli import CliContext, build_cli


@pytest.fixture
def fx_engine() -> Iterator[Engine]:
    """The fixture plugin on an engine of its own (no entry points, in-memory store)."""
    engine = Engine(plugins=[FixturePlugin()], load_entrypoints=False)
    try:
        yield engine
    finally:
        engine.close()


@pytest.fixture
def wf(fx_engine: Engine) -> Invoke:
    """``wf(*args, input=None)``: run ``wf`` in-process on ``fx_engine``; returns the Result.

    Every call shares the engine, so a run made by one call is seen by the next (as with a
    persistent store across processes).
    """

    def invoke(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        app = CliContext(fx_engine)
        group = build_cli(app)
        return CliRunner().invoke(group, list(args), obj=app, input=input, env=env)

    return invoke
