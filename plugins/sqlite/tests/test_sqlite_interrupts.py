"""``interrupt()`` questions and answers kept by the SQLite store, across a process restart."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from sqlite_testgraphs import open_engine
from wfengine import END, Engine, Graph, RunStatus

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import wfengine
    import wfengine_sqlite.plugin
    from wfengine import END, Engine, Graph

    def form(state):
        name = wfengine.interrupt("name?")
        age = wfengine.interrupt({"ask": "age?", "name": name})
        return {"name": name, "age": age}

    graph = Graph("form").add_node("form", form).add_edge("form", END).set_entry_point("form")
    engine = Engine(load_entrypoints=False, plugins=[wfengine_sqlite.plugin], store=sys.argv[1])
    if sys.argv[2] == "start":
        run = engine.run(graph, interrupt_after=["form"])
    else:
        run = engine.resume(sys.argv[2], answer=json.loads(sys.argv[3]), graph=graph)
    print(json.dumps({"run_id": run.run_id, "status": run.status.value,
                      "questions": run.questions, "state": run.state}))
    """
)


def in_new_process(tmp_path: Path, *args: str) -> dict[str, object]:
    script = tmp_path / "form.py"
    script.write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_questions_and_answers_survive_a_process_restart(db_url: str, tmp_path: Path) -> None:
    first = in_new_process(tmp_path, db_url, "start")
    assert first["status"] == "paused" and first["questions"] == {
        "form": {"value": "name?", "index": 0}
    }
    run_id = str(first["run_id"])
    second = in_new_process(tmp_path, db_url, run_id, '"ann"')
    assert second["questions"] == {"form": {"value": {"ask": "age?", "name": "ann"}, "index": 1}}
    with open_engine(db_url) as engine:  # a third process's view of the stored run
        stored = engine.get_run(run_id)
        assert stored.answers == {"form": ["ann"]} and stored.interrupt_after == ["form"]
    third = in_new_process(tmp_path, db_url, run_id, "41")
    assert third["status"] == "completed" and third["state"] == {"name": "ann", "age": 41}


def test_a_paused_question_is_read_back_from_the_store(engine: Engine) -> None:
    graph = (
        Graph("ask")
        .add_node("ask", lambda s: {"a": __import__("wfengine").interrupt([1, 2])})
        .add_edge("ask", END)
        .set_entry_point("ask")
    )
    run = engine.run(graph)
    stored = engine.store.get_run(run.run_id)
    assert stored is not None and stored.status is RunStatus.PAUSED
    assert stored.questions == {"ask": {"value": [1, 2], "index": 0}}
    [listed] = [r for r in engine.store.list_runs()[0] if r.run_id == run.run_id]
    assert listed.questions == stored.questions
    done = engine.resume(run.run_id, answer="x")
    assert done.state == {"a": "x"}
    assert engine.store.get_run(run.run_id).questions == {}  # type: ignore[union-attr]
