"""``wf graphs``: create, list, show, draw."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import Invoke

SPEC = """\
name: twice
entry: one
nodes:
  one: {tool: fx.add, params: {by: 2}}
  two: {tool: fx.add, params: {by: 3}}
edges:
  - {from: one, to: two, when: "n < 100"}
  - {from: one, to: END, default: true}
  - {from: two, to: END}
"""


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "twice.yaml"
    path.write_text(SPEC)
    return path


def test_create_list_show_and_run_a_stored_graph(wf: Invoke, spec_file: Path) -> None:
    created = wf("graphs", "create", str(spec_file))
    assert created.exit_code == 0, created.output
    graph_id = created.stdout.strip()
    assert len(graph_id) == 32

    listing = wf("graphs", "list")
    assert listing.stdout.splitlines()[0].split() == [
        "GRAPH_ID",
        "NAME",
        "VERSION",
        "CREATED",
        "(UTC)",
    ]
    assert listing.stdout.splitlines()[1].split()[:2] == [graph_id, "twice"]
    assert [g["graph_id"] for g in json.loads(wf("graphs", "list", "--json").stdout)] == [graph_id]

    shown = wf("graphs", "show", graph_id)
    assert shown.stdout.startswith("name: twice\nentry: one\n")
    assert json.loads(wf("graphs", "show", graph_id, "--json").stdout)["nodes"]["two"] == {
        "tool": "fx.add",
        "params": {"by": 3},
    }

    ran = wf("run", graph_id, "--json", "-s", "n=0")
    assert ran.exit_code == 0, ran.output
    assert json.loads(ran.stdout)["state"]["n"] == 5


def test_create_with_id_and_from_stdin(wf: Invoke) -> None:
    result = wf("graphs", "create", "-", "--id", "nightly", input=SPEC)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "nightly"
    assert wf("run", "nightly", "-q").exit_code == 0


def test_create_refuses_a_bad_spec_naming_file_and_place(wf: Invoke, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(SPEC.replace("fx.add, params: {by: 3}", "fx.nosuch"))
    result = wf("graphs", "create", str(bad))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {bad}: nodes.two")
    assert "fx.nosuch" in result.stderr
    assert json.loads(wf("graphs", "list", "--json").stdout) == []


def test_create_reports_yaml_syntax_errors_with_line(wf: Invoke, tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("name: x\nnodes: {a: [1, 2}\n")
    result = wf("graphs", "create", str(bad))
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1
    assert str(bad) in result.stderr and "line 2" in result.stderr


def test_create_missing_file(wf: Invoke, tmp_path: Path) -> None:
    result = wf("graphs", "create", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2
    assert "nope.yaml" in result.stderr and "not found" in result.stderr


def test_show_unknown_graph(wf: Invoke) -> None:
    result = wf("graphs", "show", "nosuch")
    assert result.exit_code == 2
    assert result.stderr.strip() == "Error: no stored graph with id 'nosuch' (see: wf graphs list)"


def test_draw_a_workflow_a_spec_file_and_a_stored_graph(wf: Invoke, spec_file: Path) -> None:
    drawn = wf("graphs", "draw", "fx-review")
    assert drawn.exit_code == 0, drawn.output
    assert drawn.stdout.startswith("flowchart TD\n")
    assert 'n0["draft"]' in drawn.stdout and "n0 --> n1" in drawn.stdout

    from_file = wf("graphs", "draw", str(spec_file), "--direction", "LR")
    assert from_file.stdout.startswith("flowchart LR\n")
    assert 'n0 -->|"n #60; 100"| n1' in from_file.stdout

    graph_id = wf("graphs", "create", str(spec_file)).stdout.strip()
    assert wf("graphs", "draw", graph_id, "--direction", "LR").stdout == from_file.stdout


def test_draw_unknown_target(wf: Invoke) -> None:
    result = wf("graphs", "draw", "fx-reveiw")
    assert result.exit_code == 2
    assert "did you mean 'fx-review'?" in result.stderr


# the ids the REST API refuses (issue 11, F16): one check for both
@pytest.mark.parametrize(
    ("graph_id", "says"),
    [
        ("fx-count", "is the name of a registered workflow"),  # would shadow the workflow
        ("../../x", "invalid graph id"),
        ("..", "invalid graph id"),
        ("a/b", "invalid graph id"),
        ("with space", "invalid graph id"),
        ("x" * 129, "invalid graph id"),
        ("ok\n", "invalid graph id"),
    ],
)
def test_graph_ids_the_api_refuses_are_refused(
    wf: Invoke, spec_file: Path, graph_id: str, says: str
) -> None:
    result = wf("graphs", "create", str(spec_file), "--id", graph_id)
    assert result.exit_code == 2, result.output
    assert len(result.stderr.splitlines()) == 1 and says in result.stderr
    assert "no stored graphs" in wf("graphs", "list").stdout
    # the workflow still runs as itself
    assert wf("run", "fx-count", "-q").exit_code == 0


def test_a_valid_chosen_id_is_kept(wf: Invoke, spec_file: Path) -> None:
    result = wf("graphs", "create", str(spec_file), "--id", "Nightly_checks.v2:eu-1")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "Nightly_checks.v2:eu-1"
