"""``wf --log-json PATH`` and ``wf --log-json-values``, driven through click's CliRunner."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from wfengine import END, Engine, Graph, RetryPolicy, hookimpl
from wfengine.cli import CliContext, build_cli

from wfengine_jsonlog.cli import add_log_json_options
from wfengine_jsonlog.plugin import EntryPointPlugin

Parser = Callable[[str], list[dict[str, Any]]]
Reader = Callable[[Path], list[dict[str, Any]]]


class DemoWorkflows:
    """A workflow for ``wf run demo``: a node that fails once, then succeeds."""

    @hookimpl
    def wfengine_register_workflows(self, registry: Any) -> None:
        def demo() -> Graph:
            calls = {"n": 0}

            def flaky(state: dict[str, Any]) -> dict[str, Any]:
                calls["n"] += 1
                if calls["n"] == 1:
                    raise ConnectionError("once")
                return {"answer": 42}

            return (
                Graph("demo")
                .add_node("flaky", flaky, retry=RetryPolicy(max_attempts=2, initial_delay=0))
                .add_edge("flaky", END)
                .set_entry_point("flaky")
            )

        registry.register("demo", demo, description="fails once, then answers")


def wf(args: list[str]) -> Any:
    """Run ``wf ARGS`` with the jsonlog entry-point module and the demo workflow loaded."""
    engine = Engine(
        plugins=[EntryPointPlugin, DemoWorkflows()],
        load_entrypoints=False,
        store="memory://",
    )
    app = CliContext(engine)
    group = build_cli(app)
    return CliRunner().invoke(group, args, obj=app, catch_exceptions=False)


def test_help_lists_the_options() -> None:
    result = wf(["--help"])
    assert result.exit_code == 0
    assert "--log-json PATH" in result.output
    assert "--log-json-values" in result.output


def test_log_json_writes_the_run_to_a_file(tmp_path: Path, read_log: Reader) -> None:
    path = tmp_path / "cli" / "events.jsonl"
    result = wf(["--log-json", str(path), "run", "demo", "-q"])
    assert result.exit_code == 0, result.output
    events = read_log(path)
    assert [(e["event"], e["level"]) for e in events] == [
        ("run_started", "info"),
        ("node_started", "info"),
        ("node_failed", "warning"),
        ("node_started", "info"),
        ("node_finished", "info"),
        ("run_finished", "info"),
    ]
    assert events[0]["graph_id"] == "demo"
    assert "values" not in events[4]
    assert "WFENGINE_JSONLOG" not in os.environ  # the option configures the engine, not env


@pytest.mark.parametrize(
    "args",
    [
        ["run", "demo", "-q", "--log-json", "{path}"],
        ["run", "--log-json", "{path}", "demo", "-q"],
        ["--log-json", "{path}", "run", "demo", "-q"],
    ],
)
def test_log_json_works_before_and_after_the_subcommand(
    tmp_path: Path, read_log: Reader, args: list[str]
) -> None:
    path = tmp_path / "events.jsonl"
    result = wf([arg.format(path=path) for arg in args])
    assert result.exit_code == 0, result.output
    assert [e["event"] for e in read_log(path)][::5] == ["run_started", "run_finished"]


def test_log_json_after_a_nested_subcommand(tmp_path: Path, read_log: Reader) -> None:
    engine = Engine(
        plugins=[EntryPointPlugin, DemoWorkflows()],
        load_entrypoints=False,
        store="memory://",
    )
    app = CliContext(engine)
    group = build_cli(app)
    runner = CliRunner()
    first = runner.invoke(group, ["run", "demo", "-q", "--interrupt-before", "flaky"], obj=app)
    assert first.exit_code == 3, first.output
    run_id = engine.store.list_runs()[0][0].run_id
    path = tmp_path / "resume.jsonl"
    result = runner.invoke(group, ["runs", "resume", run_id, "--log-json", str(path)], obj=app)
    assert result.exit_code == 0, result.output
    assert read_log(path)[-1]["event"] == "run_finished"


def test_the_option_wins_over_the_environment(
    tmp_path: Path, read_log: Reader, monkeypatch: pytest.MonkeyPatch
) -> None:
    from_env, from_option = tmp_path / "env.jsonl", tmp_path / "option.jsonl"
    monkeypatch.setenv("WFENGINE_JSONLOG", str(from_env))
    result = wf(["run", "demo", "-q", "--log-json", str(from_option)])
    assert result.exit_code == 0, result.output
    assert len(read_log(from_option)) == 6
    assert not from_env.exists()


def test_two_engines_in_one_process_log_to_two_files(tmp_path: Path, read_log: Reader) -> None:
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    assert wf(["run", "demo", "-q", "--log-json", str(one)]).exit_code == 0
    assert wf(["run", "demo", "-q", "--log-json", str(two)]).exit_code == 0
    first, second = read_log(one), read_log(two)
    assert len(first) == len(second) == 6
    assert first[0]["run_id"] != second[0]["run_id"]
    assert {e["run_id"] for e in first} == {first[0]["run_id"]}


def test_log_json_values(tmp_path: Path, read_log: Reader) -> None:
    path = tmp_path / "events.jsonl"
    result = wf(["--log-json", str(path), "--log-json-values", "run", "demo", "-q"])
    assert result.exit_code == 0, result.output
    (finished,) = [e for e in read_log(path) if e["event"] == "node_finished"]
    assert finished["values"] == {"answer": 42}


def test_log_json_dash_goes_to_stderr(parse_lines: Parser) -> None:
    result = wf(["--log-json", "-", "run", "demo", "-q"])
    assert result.exit_code == 0, result.output
    json_lines = "".join(line + "\n" for line in result.stderr.splitlines() if line[:1] == "{")
    events = parse_lines(json_lines)
    assert [e["event"] for e in events][0] == "run_started"
    assert events[-1]["event"] == "run_finished" and events[-1]["status"] == "completed"
    assert "{" not in result.stdout  # stdout keeps the human summary only


def test_without_the_option_nothing_is_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = wf(["run", "demo", "-q"])
    assert result.exit_code == 0, result.output
    assert '"event"' not in result.output and '"event"' not in result.stderr
    assert "WFENGINE_JSONLOG" not in os.environ


def test_options_are_added_once_to_a_bare_group(tmp_path: Path) -> None:
    seen: list[str | None] = []

    @click.group()
    @click.pass_context
    def group(ctx: click.Context) -> None:
        seen.append(ctx.meta["wfengine_jsonlog.options"]["destination"])

    @group.command()
    def hello() -> None:
        click.echo("hello")

    add_log_json_options(group)
    add_log_json_options(group)  # a second engine registering commands adds nothing
    assert [p.name for p in group.params].count("log_json") == 1
    path = str(tmp_path / "x.jsonl")
    result = CliRunner().invoke(group, ["--log-json", path, "hello"])
    assert result.exit_code == 0 and result.output == "hello\n"
    assert seen == [path]  # set before the group's callback, not passed to it


def test_two_engines_log_to_two_files(tmp_path: Path, read_log: Reader) -> None:
    # the entry point names a class: each engine has an instance (and a file) of its own
    apps = []
    for _ in range(2):
        engine = Engine(
            plugins=[EntryPointPlugin, DemoWorkflows()], load_entrypoints=False, store="memory://"
        )
        apps.append(CliContext(engine))
    first, second = (app.engine.pm.get_plugin("EntryPointPlugin") for app in apps)
    assert isinstance(first, EntryPointPlugin) and first is not second
    runner = CliRunner()
    for number, app in enumerate(apps):
        path = tmp_path / f"engine{number}.jsonl"
        result = runner.invoke(
            build_cli(app), ["--log-json", str(path), "run", "demo", "--json"], obj=app
        )
        assert result.exit_code == 0, result.output
    runs = []
    for number in range(len(apps)):
        events = read_log(tmp_path / f"engine{number}.jsonl")
        run_ids = {e["run_id"] for e in events}
        assert len(run_ids) == 1 and len(events) == 6
        runs.append(run_ids.pop())
    assert runs[0] != runs[1]
