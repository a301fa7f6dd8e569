"""``wf workflows``, ``wf tools``, ``wf backends``, ``wf plugins``, plugin commands."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cli_helpers import Invoke
from wfengine import Engine, hookimpl


def test_workflows(wf: Invoke) -> None:
    result = wf("workflows")
    assert result.exit_code == 0
    rows = [line.split()[:2] for line in result.stdout.splitlines()]
    assert rows[0] == ["WORKFLOW", "PLUGIN"]
    assert [r[0] for r in rows[1:]] == ["fx-count", "fx-fail", "fx-flaky", "fx-review", "fx-slow"]
    assert {r[1] for r in rows[1:]} == {"fixture"}
    assert "start -> add -> report" in result.stdout
    data = json.loads(wf("workflows", "--json").stdout)
    assert data[0] == {
        "name": "fx-count",
        "plugin": "fixture",
        "description": "start -> add -> report: adds ``by`` to ``n`` and writes a report.",
    }


def test_tools(wf: Invoke) -> None:
    result = wf("tools")
    assert [line.split()[0] for line in result.stdout.splitlines()] == [
        "TOOL",
        "fx.add",
        "fx.boom",
        "fx.nap",
    ]
    data = json.loads(wf("tools", "--json").stdout)
    assert data[1] == {"name": "fx.boom", "plugin": "fixture", "description": "Always fail."}


def test_empty_catalogs(engine: Engine) -> None:
    from click.testing import CliRunner
    from wfengine.cli import CliContext, cli

    result = CliRunner().invoke(cli, ["workflows"], obj=CliContext(engine))
    assert result.stdout.startswith("no workflows registered")
    result = CliRunner().invoke(cli, ["tools"], obj=CliContext(engine))
    assert result.stdout.strip() == "no tools registered"


def test_backends_lists_schemes_and_marks_the_one_in_use(
    fx_engine: Engine, wf: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Remote:
        @hookimpl
        def wfengine_register_backends(self, registry: Any) -> None:
            registry.register("fx-remote", lambda url, context: None, "A made-up cluster.")

    fx_engine.register_plugin(Remote(), "fx-remote-plugin")
    monkeypatch.delenv("WFENGINE_BACKEND", raising=False)
    result = wf("backends")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["SCHEME", "PLUGIN", "DESCRIPTION"]
    rows = {line[2:].split()[0]: line for line in lines[1:]}
    assert set(rows) >= {"threads://", "processes://", "fx-remote://"}
    assert rows["threads://"].startswith("* ")
    assert not rows["processes://"].startswith("* ")
    assert (
        "fx-remote-plugin" in rows["fx-remote://"] and "A made-up cluster." in rows["fx-remote://"]
    )

    monkeypatch.setenv("WFENGINE_BACKEND", "processes://?workers=2")
    data = {e["name"]: e for e in json.loads(wf("backends", "--json").stdout)}
    assert data["processes"]["in_use"] is True
    assert data["threads"]["in_use"] is False
    assert data["fx-remote"] == {
        "name": "fx-remote",
        "description": "A made-up cluster.",
        "plugin": "fx-remote-plugin",
        "in_use": False,
    }


def test_plugins_lists_hooks_and_failures(fx_engine: Engine, wf: Invoke) -> None:
    class Broken:
        @hookimpl
        def wfengine_register_tools(self, registry: Any) -> None:
            raise RuntimeError("cannot register")

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fx_engine.register_plugin(Broken(), "broken")
    result = wf("plugins")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["PLUGIN", "VERSION", "DISTRIBUTION", "HOOKS"]
    fixture_row = next(line for line in lines if line.startswith("fixture"))
    assert "register_commands, register_tools, register_workflows" in fixture_row
    assert "failed to load:" in lines
    assert "  broken (register): RuntimeError: cannot register" in lines
    assert not any(line.startswith("builtin") for line in lines)

    data = json.loads(wf("plugins", "--all", "--json").stdout)
    names = [p["name"] for p in data["plugins"]]
    assert "fixture" in names and any(p["builtin"] for p in data["plugins"])
    assert data["failures"] == [
        {"name": "broken", "error": "RuntimeError: cannot register", "stage": "register"}
    ]


def test_plugin_commands_are_added(wf: Invoke) -> None:
    result = wf("hello")
    assert result.exit_code == 0
    assert result.stdout == "hello from the fixture plugin\n"
    assert "hello" in wf("--help").stdout


def test_catalog_commands_open_no_store(fx_engine: Engine, wf: Invoke) -> None:
    for command in ("workflows", "tools", "plugins"):
        assert wf(command).exit_code == 0
    assert fx_engine._store is None
