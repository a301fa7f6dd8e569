"""``wf runs``: list, show, resume, cancel, prune; and the note when runs are not kept."""

from __future__ import annotations

import json
import re
import time

import pytest
from cli_helpers import Invoke
from wfengine import Engine
from wfengine.cli.context import NO_PERSISTENT_STORE
from wfengine.cli.options import parse_duration


def _run_id(output: str) -> str:
    match = re.search(r"run ([0-9a-f]{32})", output)
    assert match, output
    return match.group(1)


def test_list_shows_runs_newest_first_with_the_memory_note(wf: Invoke) -> None:
    first = _run_id(wf("run", "fx-count").stdout)
    second = _run_id(wf("run", "fx-fail").stdout)
    result = wf("runs", "list")
    assert result.exit_code == 0
    assert result.stderr.strip() == f"note: {NO_PERSISTENT_STORE}"
    rows = result.stdout.splitlines()
    assert rows[0].split() == ["RUN_ID", "GRAPH", "STATUS", "STEPS", "CREATED", "(UTC)", "DURATION"]
    assert [r.split()[:3] for r in rows[1:]] == [
        [second, "fx-fail", "failed"],
        [first, "fx-count", "completed"],
    ]


def test_list_filters_and_json(wf: Invoke) -> None:
    wf("run", "fx-count")
    failed = _run_id(wf("run", "fx-fail").stdout)
    wf("run", "fx-count")
    data = json.loads(wf("runs", "list", "--status", "failed", "--json").stdout)
    assert [r["run_id"] for r in data] == [failed]
    data = json.loads(wf("runs", "list", "--graph", "fx-count", "--json").stdout)
    assert [r["graph_id"] for r in data] == ["fx-count", "fx-count"]
    data = json.loads(wf("runs", "list", "--limit", "1", "--json").stdout)
    assert len(data) == 1 and "logs" not in data[0]
    assert wf("runs", "list", "--status", "paused").stdout.strip() == "no runs match"


def test_list_by_time_text_and_cursor(wf: Invoke) -> None:
    first = _run_id(wf("run", "fx-count").stdout)
    failed = _run_id(wf("run", "fx-fail").stdout)

    def ids(*options: str) -> list[str]:
        return [r["run_id"] for r in json.loads(wf("runs", "list", *options, "--json").stdout)]

    assert ids("--search", first[:10].upper()) == [first]
    assert ids("--since", "2000-01-01") == [failed, first]
    assert ids("--since", "2999-01-01T10:00") == []
    assert ids("--until", "2000-01-01") == []
    paged = wf("runs", "list", "--limit", "1")
    more = re.search(r"more runs: add --cursor (\S+)", paged.stdout)
    assert more and failed in paged.stdout, paged.stdout
    assert ids("--cursor", more.group(1)) == [first]
    bad = wf("runs", "list", "--cursor", "zz")
    assert bad.exit_code == 2 and "--cursor" in bad.stderr
    assert wf("runs", "list", "--since", "May 1").exit_code == 2


def test_list_bad_status_is_a_usage_error(wf: Invoke) -> None:
    result = wf("runs", "list", "--status", "done")
    assert result.exit_code == 2
    assert "'done' is not one of" in result.stderr


def test_show_with_logs_and_state(wf: Invoke) -> None:
    run_id = _run_id(wf("run", "fx-fail").stdout)
    result = wf("runs", "show", run_id, "--logs", "--state")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"run:      {run_id}" in out
    assert "status:   failed" in out
    assert "visited:  prepare" in out
    assert "error:    node 'explode' step 2: ValueError: boom: the input is bad" in out
    assert re.search(r"^2\s+explode\s+1\s+failed\s", out, re.M)
    assert "traceback of explode (step 2, attempt 1):" in out
    assert 'raise ValueError("boom: the input is bad")' in out
    assert out.rstrip().endswith('{\n  "prepared": true\n}')


def test_show_json(wf: Invoke) -> None:
    run_id = _run_id(wf("run", "fx-count", "-s", "n=4").stdout)
    data = json.loads(wf("runs", "show", run_id, "--json").stdout)
    assert data["run_id"] == run_id and data["state"]["n"] == 5 and len(data["logs"]) == 2


def test_show_unknown_run_says_runs_are_not_kept(wf: Invoke) -> None:
    result = wf("runs", "show", "nosuchrun")
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert "run 'nosuchrun' not found" in lines[0]
    assert lines[0].endswith(NO_PERSISTENT_STORE)


def test_resume_a_paused_run_with_a_patch(wf: Invoke) -> None:
    paused = wf("run", "fx-review", "--interrupt-before", "review")
    assert paused.exit_code == 3
    run_id = _run_id(paused.stdout)
    result = wf("runs", "resume", run_id, "-s", "approve=true")
    assert result.exit_code == 0, result.output
    assert [line.split()[3] for line in result.stdout.splitlines()[:2]] == ["review", "publish"]
    data = json.loads(wf("runs", "show", run_id, "--json").stdout)
    assert data["status"] == "completed"
    assert data["state"]["published"] is True


def test_resume_a_failed_run_fails_again_with_exit_1(wf: Invoke) -> None:
    run_id = _run_id(wf("run", "fx-fail").stdout)
    result = wf("runs", "resume", run_id, "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["node"] == "explode"


def test_resume_a_completed_run_is_refused(wf: Invoke) -> None:
    run_id = _run_id(wf("run", "fx-count").stdout)
    result = wf("runs", "resume", run_id)
    assert result.exit_code == 2
    assert result.stderr.strip() == f"Error: run {run_id} is already completed; nothing to resume"


def test_cancel_a_paused_run_then_resume_it(wf: Invoke) -> None:
    run_id = _run_id(wf("run", "fx-review", "--interrupt-before", "review").stdout)
    result = wf("runs", "cancel", run_id)
    assert result.exit_code == 0
    assert result.stdout.strip() == f"run {run_id}: cancelled"
    again = wf("runs", "cancel", _run_id(wf("run", "fx-count").stdout))
    assert again.exit_code == 2 and "is already completed" in again.stderr
    assert wf("runs", "resume", run_id).exit_code == 0


def test_prune(fx_engine: Engine, wf: Invoke) -> None:
    ids = [_run_id(wf("run", "fx-count").stdout) for _ in range(3)]
    paused = _run_id(wf("run", "fx-review", "--interrupt-before", "review").stdout)
    old = fx_engine.store.get_run(ids[0])
    assert old is not None
    old.created = time.time() - 3 * 86400
    result = wf("runs", "prune", "--older-than", "2d")
    assert result.exit_code == 0
    assert result.stdout.strip() == "deleted 1 run"
    result = wf("runs", "prune", "--keep-last", "0", "--status", "completed")
    assert result.stdout.strip() == "deleted 2 runs"
    remaining = json.loads(wf("runs", "list", "--json").stdout)
    assert [r["run_id"] for r in remaining] == [paused]


def test_prune_needs_a_criterion_and_a_valid_duration(wf: Invoke) -> None:
    result = wf("runs", "prune")
    assert result.exit_code == 2
    assert "say which runs to delete" in result.stderr
    result = wf("runs", "prune", "--older-than", "30 days")
    assert result.exit_code == 2
    assert "'30 days' is not a duration" in result.stderr


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30d", 30 * 86400),
        ("12h", 43200),
        ("15m", 900),
        ("90s", 90),
        ("1w", 604800),
        ("1h30m", 5400),
        ("1.5h", 5400),
        (" 2D ", 172800),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "30", "d", "3x", "1h 3", "-1d", "1h-"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


def test_cancel_a_run_stored_as_running_warns_about_the_other_process(
    fx_engine: Engine, wf: Invoke
) -> None:
    from wfengine import RunStatus

    handle = fx_engine.start("fx-count")
    handle.close()  # never driven here: as a crashed process leaves it
    run = handle.run
    run.status = RunStatus.RUNNING  # as a crashed process leaves it
    result = wf("runs", "cancel", run.run_id)
    assert result.exit_code == 0
    assert result.stdout == f"run {run.run_id}: cancelled\n"
    assert "a process still running it is not stopped by this" in result.stderr


def test_a_lone_surrogate_in_a_state_is_shown_escaped(wf: Invoke) -> None:
    # issue 11, F8: "\ud800" is a valid str that UTF-8 cannot carry
    ran = wf("run", "fx-count", "--json", "--state", '{"s": "\\ud800", "n": 1}')
    assert ran.exit_code == 0, ran.output
    data = json.loads(ran.stdout)
    assert data["state"]["s"] == "\ud800"
    run_id = data["run_id"]
    shown = wf("runs", "show", run_id, "--json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["state"]["s"] == "\ud800"
    state = wf("runs", "show", run_id, "--state")
    assert state.exit_code == 0, state.output
    assert '"s": "\\ud800"' in state.stdout


def test_run_on_worker_processes_with_backend(wf: Invoke) -> None:
    # issue 14: the same workflow, its node calls on processes:// (the fixture plugin's
    # tools travel by cloudpickle: it is not an installed distribution)
    from wfengine.engine import RemoteMemoryStoreWarning

    with pytest.warns(RemoteMemoryStoreWarning):
        done = wf("run", "fx-count", "--json", "--backend", "processes://?workers=1")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["status"] == "completed"


def test_a_bad_backend_url_is_a_usage_error(wf: Invoke) -> None:
    result = wf("run", "fx-count", "--backend", "processes://?wokers=2")
    assert result.exit_code == 2
    assert "unknown option 'wokers'" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", [("run",), ("runs", "resume"), ("serve",)])
def test_backend_help_says_what_the_built_in_backends_ignore(
    wf: Invoke, command: tuple[str, ...]
) -> None:
    # issue 14: `resources:` are passed to backends; the built-in ones ignore them
    result = wf(*command, "--help")
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "--backend URL" in text
    assert "threads:// and processes:// ignore them" in text
    assert "`wf backends` lists the schemes" in text
