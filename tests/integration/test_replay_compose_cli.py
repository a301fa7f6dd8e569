"""``wf runs export`` + ``wf runs replay`` of a spec-file run that maps (a map node), routes
by a node's Command and pauses on ``interrupt()`` until answered; and a changed condition in
that spec reported at the step where it diverges. Memory store with history and SQLite."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from wfengine import Engine
from wfengine.cli import CliContext, build_cli

SPEC = """\
name: review
entry: load
reducers: {summaries: extend}
nodes:
  load: {call: "tools.py:load"}
  each:
    map: {over: docs, as: doc, node: summarise}
  summarise: {call: "tools.py:summarise"}
  triage: {call: "tools.py:triage", routes: [approve, END]}
  approve: {call: "tools.py:approve"}
  publish: {call: "tools.py:publish"}
edges:
  - {from: load, to: each}
  - {from: each, to: triage}
  - {from: triage, to: publish}
  - {from: approve, to: publish, when: "approved and count >= 2"}
  - {from: approve, to: END, default: true}
  - {from: publish, to: END}
"""

TOOLS = """\
from wfengine import END, Command, interrupt


def load(state):
    return {"docs": ["alpha beta", "gamma delta", "epsilon"]}


def summarise(state):
    return {"summaries": [state["doc"].split()[0]]}


def triage(state):
    count = len(state["summaries"])
    return Command(goto="approve" if count > 1 else END, update={"count": count})


def approve(state):
    return {"approved": bool(interrupt({"publish": state["summaries"]}))}


def publish(state):
    return {"published": True}
"""

Invoke = Callable[..., Result]


@pytest.fixture(params=["sqlite", "memory"])
def wf(tmp_path: Path, request: pytest.FixtureRequest) -> Invoke:
    """``wf`` on one engine (so the memory store lives across calls) with either store."""
    import wfengine_sqlite.plugin

    url = (
        f"sqlite:///{tmp_path / 'runs.db'}" if request.param == "sqlite" else "memory://?history=on"
    )
    engine = Engine(plugins=[wfengine_sqlite.plugin], load_entrypoints=False, store=url)

    def invoke(*args: str) -> Result:
        app = CliContext(engine)
        return CliRunner().invoke(build_cli(app), ["--store", url, *args], obj=app)

    return invoke


def test_a_map_command_and_answered_interrupt_run_replays(wf: Invoke, tmp_path: Path) -> None:
    (tmp_path / "tools.py").write_text(TOOLS)
    spec = tmp_path / "review.yaml"
    spec.write_text(SPEC)
    started = wf("run", str(spec), "--json")
    paused = json.loads(started.stdout)
    assert paused["status"] == "paused", started.output
    run_id = paused["run_id"]
    resumed = wf("runs", "resume", run_id, "--answer", "true", "--json")
    done = json.loads(resumed.stdout)
    assert done["status"] == "completed", resumed.output
    assert done["state"]["published"] is True and done["state"]["count"] == 3
    out = tmp_path / "run.wfrun"
    assert wf("runs", "export", run_id, "-o", str(out)).exit_code == 0
    same = wf("runs", "replay", str(out))
    assert same.exit_code == 0, same.output
    assert same.stdout.strip() == f"all 5 steps of run {run_id} route as recorded"

    changed = tmp_path / "changed.yaml"  # the answered step's edge now needs 4 summaries
    changed.write_text(SPEC.replace("count >= 2", "count >= 4"))
    result = wf("runs", "replay", str(out), "--graph", str(changed), "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["diverged"] == {
        "step": 4,
        "nodes": ["approve"],
        "recorded": ["publish"],
        "routed": [],
        "missing_nodes": [],
        "reason": None,
    }

    unrouted = tmp_path / "unrouted.yaml"  # triage may no longer choose approve
    unrouted.write_text(SPEC.replace("routes: [approve, END]", "routes: [publish, END]"))
    text = wf("runs", "replay", str(out), "--graph", str(unrouted)).stdout.strip()
    assert text.startswith("step 3 (triage) routes to [] but the run went to ['approve']: ")
    assert "node 'triage' chose 'approve' (Command goto), which is no longer among its " in text
