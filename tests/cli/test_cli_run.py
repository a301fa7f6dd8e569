"""``wf run``: live lines, summary, JSON, exit codes, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import Invoke
from wfengine import END, Engine, Graph, hookimpl


def test_completed_run_prints_node_lines_and_summary(wf: Invoke, tmp_path: Path) -> None:
    result = wf("run", "fx-count", "-s", "n=2", "-s", "by=5", "-s", f"output_dir={tmp_path}")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["ok", "step", "1", "add"]
    assert lines[1].split()[:4] == ["ok", "step", "2", "report"]
    assert lines[2].startswith("completed: run ")
    assert "(fx-count), 2 steps in " in lines[2]
    assert "state keys: n, by, output_dir, report_path" in result.stdout
    assert f"report_path: {tmp_path / 'report.txt'}" in result.stdout
    assert (tmp_path / "report.txt").read_text() == "n=7\n"
    assert result.stderr == ""


def test_failed_run_exits_1_and_names_the_node(wf: Invoke) -> None:
    result = wf("run", "fx-fail")
    assert result.exit_code == 1
    assert "FAILED step 2    explode" in result.stdout
    assert "error: node 'explode' step 2: ValueError: boom: the input is bad" in result.stdout
    assert result.stdout.splitlines()[-1].startswith("not resumable later")
    assert "Traceback" not in result.output


def test_retries_are_shown(wf: Invoke) -> None:
    result = wf("run", "fx-flaky")
    assert result.exit_code == 0, result.output
    first, second = result.stdout.splitlines()[:2]
    assert first.split()[0] == "retry" and "ConnectionError: flaky call 1" in first
    assert "(retrying)" in first
    assert second.split()[0] == "ok" and second.endswith("retry 1")


def test_paused_run_exits_3(wf: Invoke) -> None:
    result = wf("run", "fx-review", "--interrupt-before", "review")
    assert result.exit_code == 3, result.output
    assert "paused: run " in result.stdout
    assert "paused before: review" in result.stdout


def test_json_prints_only_the_run(wf: Invoke) -> None:
    result = wf("run", "fx-count", "--json", "-s", "n=1")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["status"] == "completed"
    assert data["state"]["n"] == 2
    assert [entry["node"] for entry in data["logs"]] == ["add", "report"]


def test_json_makes_state_values_safe(fx_engine: Engine, wf: Invoke, tmp_path: Path) -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "<Opaque>"

    def odd(state: dict[str, Any]) -> dict[str, Any]:
        return {"where": tmp_path, "tags": {"b", "a"}, "thing": Opaque(), "nan": float("nan")}

    class OddPlugin:
        @hookimpl
        def wfengine_register_workflows(self, registry: Any) -> None:
            graph = Graph("odd").add_node("odd", odd).add_edge("odd", END)
            registry.register("odd", graph.set_entry_point("odd"))

    fx_engine.register_plugin(OddPlugin(), "odd")
    result = wf("run", "odd", "--json")
    assert result.exit_code == 0, result.output
    state = json.loads(result.stdout)["state"]
    assert state == {"where": str(tmp_path), "tags": ["a", "b"], "thing": "<Opaque>", "nan": "nan"}


def test_failed_json_run_exits_1(wf: Invoke) -> None:
    result = wf("run", "fx-fail", "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["error"]["node"] == "explode"
    assert data["error"]["type"] == "ValueError"


def test_quiet_shows_only_the_summary(wf: Invoke) -> None:
    result = wf("run", "fx-count", "-q")
    assert result.exit_code == 0
    assert result.stdout.startswith("completed: run ")


def test_max_steps_fails_the_run(wf: Invoke) -> None:
    result = wf("run", "fx-slow", "-s", "seconds=0", "--max-steps", "3")
    assert result.exit_code == 1
    assert "error: step 4: StepLimitError: step limit of 3 reached" in result.stdout


def test_state_from_json_option_and_file(wf: Invoke, tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps({"n": 10, "by": 2}))
    result = wf("run", "fx-count", "--json", "--state", f"@{state_file}", "-s", "by=3")
    assert json.loads(result.stdout)["state"]["n"] == 13
    result = wf(
        "run", "fx-count", "--json", "--state", '{"n": 1, "nested": {"a": 1}}', "-s", "nested.b=2"
    )
    state = json.loads(result.stdout)["state"]
    assert state["n"] == 2 and state["nested"] == {"a": 1, "b": 2}


def test_unknown_workflow_is_one_line_with_a_suggestion(wf: Invoke) -> None:
    result = wf("run", "fx-cuont")
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: unknown workflow 'fx-cuont'; did you mean 'fx-count'?")


def test_bad_assignment_is_a_usage_error(wf: Invoke) -> None:
    result = wf("run", "fx-count", "-s", "novalue")
    assert result.exit_code == 2
    assert "Invalid value for '-s' / '--set': 'novalue' is not key=value" in result.stderr
    assert "Traceback" not in result.output


def test_bad_state_json_is_a_usage_error(wf: Invoke) -> None:
    result = wf("run", "fx-count", "--state", "{nope")
    assert result.exit_code == 2
    assert "Invalid value for '--state': not valid JSON" in result.stderr


def test_interrupt_before_unknown_node(wf: Invoke) -> None:
    result = wf("run", "fx-review", "--interrupt-before", "nosuch")
    assert result.exit_code == 2
    assert result.stderr.strip().startswith(
        "Error: interrupt_before names unknown node(s): nosuch (the graph's nodes: "
    )


def test_spec_file_run(wf: Invoke, tmp_path: Path) -> None:
    spec = tmp_path / "twice.yaml"
    spec.write_text(
        "name: twice\nentry: one\nnodes:\n"
        "  one: {tool: fx.add, params: {by: 2}}\n"
        "  two: {tool: fx.add, params: {by: 3}}\n"
        "edges:\n  - {from: one, to: two}\n  - {from: two, to: END}\n"
    )
    result = wf("run", str(spec), "--json", "-s", "n=1")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["state"]["n"] == 6 and data["graph_id"] == "twice"


def test_bad_spec_file_names_the_place(wf: Invoke, tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: bad\nentry: one\nnodes:\n  one: {tool: fx.addd}\nedges: []\n")
    result = wf("run", str(spec))
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert str(spec) in lines[0] and "nodes.one" in lines[0] and "fx.addd" in lines[0]
    assert "fx.add" in lines[0].replace("fx.addd", "")  # the suggestion


def test_unexpected_error_is_one_line_with_a_debug_hint(
    fx_engine: Engine, wf: Invoke, monkeypatch: Any
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(fx_engine, "start", broken)
    result = wf("run", "fx-count")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "Error: unexpected RuntimeError: disk on fire (rerun with wf --debug for the traceback)"
    )
    debug = wf("--debug", "run", "fx-count")
    assert isinstance(debug.exception, RuntimeError)
    debug = wf("run", "fx-count", "--debug")
    assert isinstance(debug.exception, RuntimeError)


def test_debug_shows_engine_errors_as_exceptions(wf: Invoke) -> None:
    from wfengine.errors import UnknownNameError

    result = wf("--debug", "run", "nosuch")
    assert isinstance(result.exception, UnknownNameError)


def test_graph_warnings_go_to_stderr(wf: Invoke, tmp_path: Path) -> None:
    spec = tmp_path / "stray.yaml"
    spec.write_text(
        "name: stray\nentry: one\nnodes:\n  one: {tool: fx.add}\n  lost: {tool: fx.add}\n"
        "edges:\n  - {from: one, to: END}\n"
    )
    result = wf("run", str(spec), "--json")
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("warning: graph 'stray': ")
    assert "lost" in result.stderr
    assert json.loads(result.stdout)["status"] == "completed"


# -- hostile input gets a one-line usage error, exit 2 (issue 11, F15) -------------------------

_GOOD_SPEC = (
    "name: g\nentry: one\nnodes:\n  one: {tool: fx.add}\nedges:\n  - {from: one, to: END}\n"
)


def _hostile_input(tmp_path: Path, case: str) -> list[str]:
    spec = tmp_path / "good.yaml"
    spec.write_text(_GOOD_SPEC)
    if case == "deep-yaml-spec":
        (tmp_path / "deep.yaml").write_text("[" * 20_000 + "]" * 20_000 + "\n")
        return ["run", str(tmp_path / "deep.yaml")]
    if case == "deep-json-spec":
        (tmp_path / "deep.json").write_text("[" * 20_000 + "]" * 20_000 + "\n")
        return ["run", str(tmp_path / "deep.json")]
    if case == "deep-json-params":
        params: dict[str, Any] = {"x": 0}
        for _ in range(900):  # json.loads copes; everything after it recursed
            params = {"x": params}
        data = {"name": "d", "entry": "a", "nodes": {"a": {"tool": "fx.add", "params": params}}}
        (tmp_path / "deep.json").write_text(json.dumps({**data, "edges": []}))
        return ["run", str(tmp_path / "deep.json")]
    if case == "deep-yaml-state":
        (tmp_path / "state.yaml").write_text("a: " + "[" * 20_000 + "]" * 20_000 + "\n")
        return ["run", str(spec), "--state", f"@{tmp_path / 'state.yaml'}"]
    if case == "deep-json-state":
        (tmp_path / "state.json").write_text('{"a": ' + "[" * 20_000 + "]" * 20_000 + "}")
        return ["run", str(spec), "--state", f"@{tmp_path / 'state.json'}"]
    if case == "deep-set":
        return ["run", str(spec), "-s", "a=" + "[" * 20_000 + "]" * 20_000]
    if case == "binary-state":
        (tmp_path / "state.json").write_bytes(bytes(range(256)))
        return ["run", str(spec), "--state", f"@{tmp_path / 'state.json'}"]
    if case == "huge-max-steps":
        return ["run", str(spec), "--max-steps", "12345678901234567890123"]
    if case == "huge-spec-max-steps":
        spec.write_text(_GOOD_SPEC + "max_steps: 12345678901234567890123\n")
        return ["run", str(spec)]
    if case == "retry-0":
        spec.write_text(_GOOD_SPEC.replace("{tool: fx.add}", "{tool: fx.add, retry: 0}"))
        return ["run", str(spec)]
    raise AssertionError(case)


@pytest.mark.parametrize(
    ("case", "says"),
    [
        ("deep-yaml-spec", "nested more than 100 levels deep"),
        ("deep-json-spec", "nested more than 100 levels deep"),
        ("deep-json-params", "nested more than 100 levels deep"),
        ("deep-yaml-state", "nested more than 100 levels deep"),
        ("deep-json-state", "nested too deeply"),
        ("deep-set", "nested too deeply"),
        ("binary-state", "is not UTF-8 text"),
        ("huge-max-steps", "is not in the range 1<=x<=1000000000000"),
        ("huge-spec-max-steps", "max_steps: must be at most 1000000000000"),
        ("retry-0", "nodes.one.retry: invalid retry policy"),
    ],
)
def test_hostile_input_is_a_one_line_usage_error(
    wf: Invoke, tmp_path: Path, case: str, says: str
) -> None:
    result = wf(*_hostile_input(tmp_path, case))
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and says in errors[0], result.stderr
    assert "unexpected" not in result.stderr and "Traceback" not in result.output
