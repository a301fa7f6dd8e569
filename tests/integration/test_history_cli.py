"""``wf runs history / show --step / diff / blame / fork`` on a spec-file run in a SQLite
store, and the clear refusal of a store that keeps no history."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from wfengine import Engine
from wfengine.cli import CliContext, build_cli

SPEC = """\
name: chat
entry: talk
reducers: {messages: append}
nodes:
  talk: {call: "tools.py:talk"}
edges:
  - {from: talk, to: talk, when: "i < limit"}
  - {from: talk, to: END, default: true}
"""

TOOLS = """\
def talk(state):
    i = state.get("i", 0) + 1
    return {"i": i, "messages": f"m{i}", "last": f"m{i}"}
"""

Invoke = Callable[..., Result]


@pytest.fixture(params=["sqlite", "memory"])
def wf(tmp_path: Path, request: pytest.FixtureRequest) -> Invoke:
    """``wf`` on one engine (so the memory store lives across calls) with either store."""
    import wfengine_sqlite.plugin

    url = f"sqlite:///{tmp_path / 'runs.db'}" if request.param == "sqlite" else "memory://"
    engine = Engine(plugins=[wfengine_sqlite.plugin], load_entrypoints=False, store=url)

    def invoke(*args: str) -> Result:
        app = CliContext(engine)
        return CliRunner().invoke(build_cli(app), ["--store", url, *args], obj=app)

    return invoke


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    (tmp_path / "tools.py").write_text(TOOLS)
    path = tmp_path / "chat.yaml"
    path.write_text(SPEC)
    return path


def start(wf: Invoke, spec: Path, limit: int) -> str:
    result = wf("run", str(spec), "--json", "-s", f"limit={limit}", "-s", "messages=[]")
    assert result.exit_code == 0, result.output
    return str(json.loads(result.stdout)["run_id"])


def test_history_lists_each_step(wf: Invoke, spec: Path) -> None:
    run_id = start(wf, spec, 3)
    rows = json.loads(wf("runs", "history", run_id, "--json").stdout)
    assert [(r["step"], r["nodes"], r["changed"]) for r in rows] == [
        (n, ["talk"], ["i", "last", "messages"]) for n in (1, 2, 3)
    ]
    assert all(r["attempts"] == 1 and r["duration_ms"] >= 0 for r in rows)
    text = wf("runs", "history", run_id).stdout
    assert text.splitlines()[0].split() == ["STEP", "NODES", "CHANGED", "ATTEMPTS", "MS", "NEXT"]
    assert re.search(r"^3\s+talk\s+i,last,messages\s+1\s+\S+\s+\(end\)$", text, re.M)


def test_show_step_diff_and_blame(wf: Invoke, spec: Path) -> None:
    run_id = start(wf, spec, 3)
    shown = json.loads(wf("runs", "show", run_id, "--step", "2", "--json").stdout)
    assert shown["state"] == {"limit": 3, "messages": ["m1", "m2"], "i": 2, "last": "m2"}
    diff = json.loads(wf("runs", "diff", run_id, "--from", "1", "--to", "3", "--json").stdout)
    assert diff["changed"]["messages"] == {"before": ["m1"], "after": ["m1", "m2", "m3"]}
    assert diff["added"] == {} and diff["removed"] == {}
    text = wf("runs", "diff", run_id, "--from", "0", "--to", "1").stdout
    assert "+ i = 1" in text
    writes = json.loads(wf("runs", "blame", run_id, "messages", "--json").stdout)
    assert [(w["step"], w["how"], w["value"]) for w in writes] == [
        (1, "added", ["m1"]),
        (2, "added", ["m2"]),
        (3, "added", ["m3"]),
    ]
    assert "no step of run" in wf("runs", "blame", run_id, "nothing").stdout


def test_fork_goes_on_from_a_step_with_edits_and_diff_finds_where_runs_part(
    wf: Invoke, spec: Path
) -> None:
    run_id = start(wf, spec, 3)
    result = wf("runs", "fork", run_id, "--step", "1", "-s", "limit=4", "--json")
    assert result.exit_code == 0, result.output
    fork = json.loads(result.stdout)
    assert fork["run_id"] != run_id
    assert fork["state"]["messages"] == ["m1", "m2", "m3", "m4"]
    same = json.loads(wf("runs", "diff", run_id, fork["run_id"], "--json").stdout)
    # the fork's state at step 1 is the patched one (what its step 2 ran on)
    assert same["step"] == 1 and same["changed"] == {"limit": {"before": 3, "after": 4}}
    parted = wf("runs", "diff", run_id, fork["run_id"]).stdout
    assert f"runs {run_id} and {fork['run_id']} part at step" in parted


def test_a_memory_store_opened_without_history_says_so(spec: Path) -> None:
    url = "memory://?history=off"
    engine = Engine(load_entrypoints=False, store=url)
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        app = CliContext(engine)
        return runner.invoke(build_cli(app), list(args), obj=app, env={"WFENGINE_STORE": url})

    run_id = json.loads(invoke("run", str(spec), "--json", "-s", "limit=1").stdout)["run_id"]
    result = invoke("runs", "history", run_id)
    assert result.exit_code == 2  # a store error, as for a run that is not found
    assert f"the memory store keeps no history of run {run_id} (it was opened as {url}; " in (
        result.stderr
    )
    assert "open it without history=off" in result.stderr
    assert "Traceback" not in result.output


def test_a_store_without_the_capability_is_named(tmp_path: Path) -> None:
    from wfengine.errors import HistoryUnsupportedError
    from wfengine.history import history_store

    class Bare:
        url = "bare://"

    with pytest.raises(HistoryUnsupportedError, match="the store bare:// keeps no history"):
        history_store(Bare())  # type: ignore[arg-type]


def test_graph_versions_and_show_name_at_hash(wf: Invoke, spec: Path) -> None:
    first = start(wf, spec, 1)
    spec.write_text(SPEC.replace("i < limit", "i < limit + 1"))
    second = start(wf, spec, 1)
    found = json.loads(wf("graphs", "versions", "chat", "--json").stdout)
    assert [v["runs"] for v in found] == [[second], [first]]
    assert all(v["kind"] == "spec" and v["label"].startswith("chat@") for v in found)
    table = wf("graphs", "versions", "chat").stdout
    assert table.splitlines()[0].split()[:3] == ["VERSION", "KIND", "RUNS"]
    old = json.loads(wf("graphs", "show", found[1]["label"], "--json").stdout)
    assert old["edges"][0]["when"] == "i < limit"
    missing = wf("graphs", "show", "chat@ffffffffffff")
    assert missing.exit_code != 0 and "no version chat@ffffffffffff" in missing.stderr
    assert "no run of graph 'other'" in wf("graphs", "versions", "other").stdout


def test_replay_finds_the_step_a_changed_condition_routes_elsewhere(
    wf: Invoke, spec: Path, tmp_path: Path
) -> None:
    run_id = start(wf, spec, 3)
    out = tmp_path / "run.wfrun"
    assert wf("runs", "export", run_id, "-o", str(out)).exit_code == 0
    same = wf("runs", "replay", str(out))
    assert same.exit_code == 0, same.output
    assert same.stdout.strip() == f"all 3 steps of run {run_id} route as recorded"
    changed = tmp_path / "changed.yaml"
    changed.write_text(SPEC.replace("i < limit", "i < limit - 1"))
    result = wf("runs", "replay", str(out), "--graph", str(changed), "--json")
    assert result.exit_code == 1
    diverged = json.loads(result.stdout)["diverged"]
    assert diverged == {
        "step": 2,
        "nodes": ["talk"],
        "recorded": ["talk"],
        "routed": [],
        "missing_nodes": [],
        "reason": None,
    }
    text = wf("runs", "replay", str(out), "--graph", str(changed)).stdout
    assert text.strip() == "step 2 (talk) routes to [] but the run went to ['talk']"


def test_blame_tells_a_resume_patch_from_the_nodes(wf: Invoke, spec: Path) -> None:
    result = wf(
        "run",
        str(spec),
        "--json",
        "-s",
        "limit=3",
        "-s",
        "messages=[]",
        "--interrupt-after",
        "talk",
    )
    run_id = json.loads(result.stdout)["run_id"]  # paused after step 1
    resumed = wf("runs", "resume", run_id, "-s", "i=10", "-s", "limit=11", "--json")
    assert resumed.exit_code == 0, resumed.output
    writes = json.loads(wf("runs", "blame", run_id, "i", "--json").stdout)
    assert [(w["step"], w["nodes"], w["how"], w["patch"], w["value"]) for w in writes] == [
        (1, ["talk"], "set", False, 1),
        (1, [], "patched", True, 10),  # given on resume after step 1
        (2, ["talk"], "set", False, 11),  # 11 reaches the patched limit: the run ends
    ]
    assert writes[1]["digest"] != writes[0]["digest"] and writes[1]["attempt"] is None
    text = wf("runs", "blame", run_id, "i").stdout
    assert re.search(r"^1\s+\(resume patch\)\s+patched\s+\S+\s+10$", text, re.M), text
    messages = json.loads(wf("runs", "blame", run_id, "messages", "--json").stdout)
    assert [(w["step"], w["patch"]) for w in messages] == [(1, False), (2, False)]


def test_a_fork_patch_and_the_patches_before_it_show_in_blame(wf: Invoke, spec: Path) -> None:
    run_id = start(wf, spec, 3)
    fork = json.loads(wf("runs", "fork", run_id, "--step", "1", "-s", "i=10", "--json").stdout)
    # the fork runs on from i=10: 11 >= limit 3 ends it after one more step
    assert fork["state"]["i"] == 11
    writes = json.loads(wf("runs", "blame", fork["run_id"], "i", "--json").stdout)
    assert [(w["step"], w["how"], w["patch"], w["value"]) for w in writes] == [
        (1, "set", False, 1),
        (1, "patched", True, 10),
        (2, "set", False, 11),
    ]
    again = json.loads(wf("runs", "fork", fork["run_id"], "--step", "2", "--json").stdout)
    inherited = json.loads(wf("runs", "blame", again["run_id"], "i", "--json").stdout)
    assert [(w["step"], w["how"]) for w in inherited][:3] == [
        (1, "set"),
        (1, "patched"),
        (2, "set"),
    ]
    parent = json.loads(wf("runs", "blame", run_id, "i", "--json").stdout)
    assert not any(w["patch"] for w in parent)  # the source run got no patch
