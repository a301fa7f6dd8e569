"""``wf run`` pausing on a node's ``interrupt()`` question, and ``wf runs resume --answer``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import pytest
from cli_helpers import Invoke
from wfengine.cli.answers import parse_answers
from wfengine.interrupts import NO_ANSWER

APPROVAL = str(Path(__file__).parent.parent.parent / "examples" / "specs" / "approval.yaml")


def _run_id(output: str) -> str:
    match = re.search(r"run ([0-9a-f]{32})", output)
    assert match, output
    return match.group(1)


def test_the_approval_example_pauses_with_its_question_and_resumes_with_the_answer(
    wf: Invoke,
) -> None:
    paused = wf("run", APPROVAL, "-s", "customer=Ann")
    assert paused.exit_code == 3, paused.output
    run_id = _run_id(paused.stdout)
    assert "questions:" in paused.stdout and "Dear Ann" in paused.stdout
    assert f"answer:   wf runs resume {run_id} --answer JSON" in paused.stdout

    shown = wf("runs", "show", run_id)
    assert "  approve: {" in shown.stdout and "Send this email?" in shown.stdout
    data = json.loads(wf("runs", "show", run_id, "--json").stdout)
    assert data["questions"]["approve"]["value"]["draft"].startswith("Dear Ann")

    done = wf("runs", "resume", run_id, "--answer", "true")
    assert done.exit_code == 0, done.output
    data = json.loads(wf("runs", "show", run_id, "--json").stdout)
    assert data["state"]["sent"].startswith("Dear Ann") and data["questions"] == {}
    assert "re-entered after answer" in [e["status"] for e in data["logs"]]


def test_an_answer_from_a_file_and_a_refusal(wf: Invoke, tmp_path: Path) -> None:
    run_id = _run_id(wf("run", APPROVAL).stdout)
    reply = tmp_path / "reply.json"
    reply.write_text("false")
    done = wf("runs", "resume", run_id, "--answer", f"@{reply}")
    assert done.exit_code == 0, done.output
    data = json.loads(wf("runs", "show", run_id, "--json").stdout)
    assert data["state"]["approved"] is False and "sent" not in data["state"]


def test_an_answer_for_a_run_without_a_question_is_refused(wf: Invoke) -> None:
    run_id = _run_id(wf("run", APPROVAL, "--interrupt-after", "draft").stdout)
    result = wf("runs", "resume", run_id, "--answer", "true")
    assert result.exit_code == 2
    assert "has no pending question" in result.stderr


def test_interrupt_after_pauses_after_the_node(wf: Invoke) -> None:
    paused = wf("run", APPROVAL, "--interrupt-after", "draft")
    assert paused.exit_code == 3
    run_id = _run_id(paused.stdout)
    data = json.loads(wf("runs", "show", run_id, "--json").stdout)
    assert data["next_nodes"] == ["approve"] and "draft" in data["state"]
    assert data["interrupt_after"] == ["draft"]
    assert "pauses after: draft" in wf("runs", "show", run_id).stdout


def test_parse_answers() -> None:
    assert parse_answers(()) is NO_ANSWER
    assert parse_answers(("true",)) is True
    assert parse_answers(('{"a": 1}',)) == {"a": 1}
    assert parse_answers(("looks good",)) == "looks good"
    assert parse_answers(('"x=y"',)) == "x=y"
    assert parse_answers(("review=true",)) == {"review": True}
    assert parse_answers(("a=1", "b=[2]")) == {"a": 1, "b": [2]}
    with pytest.raises(click.BadParameter, match="each must be node=JSON"):
        parse_answers(("a=1", "2"))


def test_a_budget_pauses_wf_run_and_resume_budget_goes_on(wf: Invoke) -> None:
    paused = wf("run", "fx-count", "--budget", "steps=1")
    assert paused.exit_code == 3, paused.output
    assert "paused: budget: steps 1 of 1 spent" in paused.stdout
    run_id = _run_id(paused.stdout)
    assert "budget:   steps 1 of 1" in wf("runs", "show", run_id).stdout
    done = wf("runs", "resume", run_id, "--budget", "steps=100")
    assert done.exit_code == 0, done.output
    bad = wf("run", "fx-count", "--budget", "steps=x")
    assert bad.exit_code == 2 and "is not a number" in bad.stderr


def test_runs_show_cache_and_wf_cache_list_clear(wf: Invoke, tmp_path: Path) -> None:
    spec = tmp_path / "cached.yaml"
    spec.write_text(
        "name: cached\nentry: a\n"
        "nodes:\n  a: {tool: fx.add, params: {by: 2}, cache: true, reads: [n]}\n"
        "edges:\n  - {from: a, to: END}\n"
    )
    first = _run_id(wf("run", str(spec), "-s", "n=1").stdout)
    second = _run_id(wf("run", str(spec), "-s", "n=1").stdout)
    assert re.search(
        r"1\s+a\s+miss\s+miss: first call", wf("runs", "show", first, "--cache").stdout
    )
    assert re.search(r"1\s+a\s+hit\s+hit", wf("runs", "show", second, "--cache").stdout)
    listed = wf("cache", "list")
    assert listed.exit_code == 0 and re.search(r"cached\s+a\s+.*\s+n$", listed.stdout, re.M)
    assert json.loads(wf("cache", "list", "--json").stdout)[0]["parts"]["reads"] == {"n": 1}
    assert wf("cache", "clear", "--graph", "cached").stdout.strip() == "cleared 1 cached result"
    assert wf("cache", "list").stdout.strip() == "no cached results"
