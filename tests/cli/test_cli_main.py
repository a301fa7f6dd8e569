"""The ``wf`` group: help, version, store choice, plugin loading, ``wf serve``, ``main``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest
from cli_helpers import Invoke
from click.testing import CliRunner
from wf_fixture import FixturePlugin
from wfengine import Engine, MemoryStore, __version__, hookimpl
from wfengine.cli import CliContext, build_cli, cli, main
from wfengine.cli.serve import NEEDS_EXTRA


def _all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found.extend(_all_commands(command, (*prefix, name)))
    return found


def test_version(wf: Invoke) -> None:
    result = wf("--version")
    assert result.exit_code == 0
    assert result.stdout == f"wf (wfengine), version {__version__}\n"


def test_help_explains_with_examples_and_exit_codes(wf: Invoke) -> None:
    result = wf("--help")
    assert result.exit_code == 0
    assert "Examples:\n    wf run data-quality" in result.stdout
    assert "130  the run was cancelled" in result.stdout
    for name in ("run", "runs", "graphs", "workflows", "tools", "plugins", "serve"):
        assert f"\n  {name} " in result.stdout


@pytest.mark.parametrize("path", _all_commands(cli), ids=lambda p: " ".join(p))
def test_every_command_has_help_with_an_example(wf: Invoke, path: tuple[str, ...]) -> None:
    result = wf(*path, "--help")
    assert result.exit_code == 0, result.output
    assert "Example" in result.stdout, f"wf {' '.join(path)} --help shows no example"


def test_no_command_shows_usage(wf: Invoke) -> None:
    result = wf("nosuch")
    assert result.exit_code == 2
    assert "No such command 'nosuch'" in result.stderr


def test_main_with_an_engine_factory(capsys: pytest.CaptureFixture[str]) -> None:
    made: list[Engine] = []

    def factory() -> Engine:
        made.append(Engine(plugins=[FixturePlugin()], load_entrypoints=False))
        return made[0]

    with pytest.raises(SystemExit) as exit_info:
        main(["hello"], engine=factory)
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == "hello from the fixture plugin\n"
    assert len(made) == 1


def test_main_reports_a_skipped_plugin_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    class Broken:
        @hookimpl
        def wfengine_register_commands(self, cli: click.Group) -> None:
            raise RuntimeError("no commands today")

    def factory() -> Engine:
        return Engine(plugins=[FixturePlugin(), Broken()], load_entrypoints=False)

    with pytest.raises(SystemExit) as exit_info:
        main(["workflows"], engine=factory)
    assert exit_info.value.code == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "warning: wfengine plugin 'Broken' failed to register: RuntimeError: no commands today "
        "(skipped; set WFENGINE_STRICT_PLUGINS=1 to make this an error)"
    ]
    assert "fx-count" in captured.out

    monkeypatch.setenv("WFENGINE_STRICT_PLUGINS", "1")
    with pytest.raises(SystemExit) as exit_info:
        main(["workflows"], engine=factory)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith("Error: wfengine plugin 'Broken' failed")


@click.command("run")
def _hijacked_run() -> None:
    click.echo("hijacked")


class _Hijacker:
    @hookimpl
    def wfengine_register_commands(self, cli: click.Group) -> None:
        cli.add_command(_hijacked_run)
        del cli.commands["runs"]


def test_a_plugin_cannot_replace_or_remove_a_built_in_command(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def factory() -> Engine:
        return Engine(plugins=[FixturePlugin(), _Hijacker()], load_entrypoints=False)

    with pytest.raises(SystemExit) as exit_info:
        main(["run", "fx-count", "-q"], engine=factory)
    assert exit_info.value.code == 0
    captured = capsys.readouterr()
    assert "hijacked" not in captured.out and "completed" in captured.out
    warnings = captured.err.splitlines()
    assert len(warnings) == 2, warnings
    assert warnings[0].startswith("warning: wfengine plugin '_Hijacker' failed to register:")
    assert "'wf run' would be replaced by its command 'run'" in warnings[0]
    assert "test_cli_main._hijacked_run" in warnings[0]
    assert "'wf runs' would be removed" in warnings[1]
    with pytest.raises(SystemExit) as exit_info:
        main(["runs", "list"], engine=factory)
    assert exit_info.value.code == 0

    monkeypatch.setenv("WFENGINE_STRICT_PLUGINS", "1")
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "fx-count"], engine=factory)
    assert exit_info.value.code == 2


class _GroupOption:
    @hookimpl
    def wfengine_register_commands(self, cli: click.Group) -> None:
        def remember(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
            if value is not None:
                ctx.meta["colour"] = value

        cli.params.append(
            click.Option(["--colour"], expose_value=False, is_eager=True, callback=remember)
        )


def test_a_plugin_group_option_works_after_the_subcommand_too(fx_engine: Engine) -> None:
    fx_engine.register_plugin(_GroupOption(), "group-option")
    app = CliContext(fx_engine)
    group = build_cli(app)
    for args in (
        ["--colour", "red", "workflows"],
        ["workflows", "--colour", "red"],
        ["runs", "list", "--colour", "red"],
    ):
        result = CliRunner().invoke(group, args, obj=app)
        assert result.exit_code == 0, (args, result.output)
    # the built-in commands themselves are not changed: a wf without the plugin refuses it
    fx_engine.unregister_plugin("group-option")
    plain = build_cli(CliContext(fx_engine))
    result = CliRunner().invoke(plain, ["workflows", "--colour", "red"], obj=CliContext(fx_engine))
    assert result.exit_code == 2 and "No such option '--colour'" in result.output


# -- the store ------------------------------------------------------------------------------


def test_store_option_on_group_on_command_and_from_env(fx_engine: Engine, wf: Invoke) -> None:
    opened: list[str] = []

    class Stores:
        @hookimpl
        def wfengine_register_stores(self, registry: Any) -> None:
            def factory(url: str) -> MemoryStore:
                opened.append(url)
                store = MemoryStore(url)
                return store

            registry.register("mem2", factory)

    fx_engine.register_plugin(Stores(), "stores")
    assert wf("--store", "mem2://a", "runs", "list").exit_code == 0
    assert wf("runs", "list", "--store", "mem2://b").exit_code == 0
    assert wf("runs", "list", env={"WFENGINE_STORE": "mem2://c"}).exit_code == 0
    result = wf("--store", "mem2://a", "runs", "list", "--store", "mem2://d")
    assert result.exit_code == 0
    assert opened == ["mem2://a", "mem2://b", "mem2://c", "mem2://d"]


def test_unknown_store_scheme_is_a_usage_error(wf: Invoke) -> None:
    result = wf("--store", "nosql://x", "runs", "list")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: unknown store scheme 'nosql'")


def test_the_default_store_is_the_one_a_store_plugin_offers(
    fx_engine: Engine, tmp_path: Path
) -> None:
    """The CLI asks the store registry, not a plugin it names (issue 13, section 3)."""

    class FakeDurable:
        @hookimpl
        def wfengine_register_stores(self, registry: Any) -> None:
            registry.register(
                "fake", MemoryStore, default_url=lambda: f"fake:///{tmp_path}/user.db"
            )

    app = CliContext(fx_engine)
    assert app.resolved_store_url() == "memory://"
    fx_engine.register_plugin(FakeDurable(), "fake-durable")
    assert app.resolved_store_url() == f"fake:///{tmp_path}/user.db"
    app.store_url = "memory://"
    assert app.resolved_store_url() == "memory://"
    app.store_url = None
    fx_engine.unregister_plugin("fake-durable")
    assert app.resolved_store_url() == "memory://"


def test_runs_survive_between_invocations_on_one_engine(fx_engine: Engine, wf: Invoke) -> None:
    store = fx_engine.store
    wf("run", "fx-count")
    wf("run", "fx-count")
    assert fx_engine.store is store
    assert len(json.loads(wf("runs", "list", "--json").stdout)) == 2


# -- wf serve -----------------------------------------------------------------------------


def test_serve_calls_the_server_with_the_options(
    fx_engine: Engine, wf: Invoke, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("wfengine.cli.serve.load_serve", lambda: lambda **kw: calls.append(kw))
    result = wf("serve", "--port", "9001", "--store", "memory://", "--data-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert calls == [
        {
            "host": "127.0.0.1",
            "port": 9001,
            "store": "memory://",
            "data_dir": str(tmp_path),
            "insecure": False,
            "engine": fx_engine,
            "allow_import_paths": False,
            "expose_tracebacks": False,
            "limit_concurrency": 1024,
            "timeout_keep_alive": 5,
        }
    ]
    assert wf("serve", "--expose-tracebacks").exit_code == 0
    assert calls[1]["expose_tracebacks"] is True
    result = wf("serve", "--limit-concurrency", "3", "--timeout-keep-alive", "2")
    assert result.exit_code == 0, result.output
    assert (calls[2]["limit_concurrency"], calls[2]["timeout_keep_alive"]) == (3, 2)
    assert wf("serve", "--limit-concurrency", "0").exit_code == 2


def test_serve_refusal_is_a_usage_error(wf: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    from wfengine.errors import WorkflowError

    def refuse(**kwargs: Any) -> None:
        raise WorkflowError("refusing to listen on '0.0.0.0' without API keys")

    monkeypatch.setattr("wfengine.cli.serve.load_serve", lambda: refuse)
    result = wf("serve", "--host", "0.0.0.0")
    assert result.exit_code == 2
    assert result.stderr == "Error: refusing to listen on '0.0.0.0' without API keys\n"


@pytest.mark.parametrize("module", ["fastapi", "uvicorn"])
def test_serve_without_the_server_extra(
    wf: Invoke, monkeypatch: pytest.MonkeyPatch, module: str
) -> None:
    import builtins

    real_import = builtins.__import__

    def fake_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "wfengine.server":
            try:
                raise ModuleNotFoundError(f"No module named '{module}'", name=module)
            except ModuleNotFoundError as exc:
                raise ImportError("the wfengine REST server needs the server extra") from exc
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    result = wf("serve")
    assert result.exit_code == 2
    assert result.stderr == f"Error: {NEEDS_EXTRA}\n"


def test_cli_runner_without_obj_uses_a_default_engine() -> None:
    result = CliRunner().invoke(cli, ["tools", "--json"], env={"WFENGINE_LOAD_PLUGINS": ""})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []
