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


def test_a_budget_and_what_was_spent_survive_the_store(db_url: str) -> None:
    def step(state: dict[str, object]) -> dict[str, object]:
        __import__("wfengine").emit("cost", 2)
        return {"i": int(state.get("i", 0)) + 1}  # type: ignore[call-overload]

    graph = (
        Graph("spend")
        .add_node("step", step)
        .add_edge("step", "step", condition=lambda s: s["i"] < 5)
        .add_edge("step", END, condition=lambda s: s["i"] >= 5)
        .set_entry_point("step")
    )
    with open_engine(db_url) as engine:
        run_id = engine.run(graph, budget={"cost": 5}).run_id
    with open_engine(db_url) as engine:  # a new engine reads it back
        stored = engine.get_run(run_id)
        assert stored.status is RunStatus.PAUSED and stored.spent["cost"] == 6.0
        assert stored.budget == {"cost": 5.0} and stored.pause_reason is not None
        done = engine.resume(run_id, graph=graph, budget={"cost": 50})
        assert done.status is RunStatus.COMPLETED and done.spent["cost"] == 10.0


CACHE_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import wfengine_sqlite.plugin
    from wfengine import END, Engine, Graph

    def score(state):
        return {"score": state["threshold"] * 2}

    graph = (Graph("scoring").add_node("score", score, cache=True, reads=["threshold"])
             .add_edge("score", END).set_entry_point("score"))
    engine = Engine(load_entrypoints=False, plugins=[wfengine_sqlite.plugin], store=sys.argv[1])
    run = engine.run(graph, {"threshold": int(sys.argv[2])})
    print(json.dumps(run.cache_log[-1]["reason"]))
    """
)


def test_the_cache_survives_a_process_restart(db_url: str, tmp_path: Path) -> None:
    script = tmp_path / "cache.py"
    script.write_text(CACHE_SCRIPT)

    def reason(threshold: int) -> str:
        done = subprocess.run(
            [sys.executable, str(script), db_url, str(threshold)],
            capture_output=True,
            text=True,
            check=True,
        )
        return str(json.loads(done.stdout.strip().splitlines()[-1]))

    assert [reason(3), reason(3), reason(4)] == [
        "miss: first call",
        "hit",
        "miss: reads.threshold 3 -> 4",
    ]
    with open_engine(db_url) as engine:
        assert len(engine.store.list_cache_entries()) == 2  # type: ignore[attr-defined]
        assert engine.store.clear_cache("scoring") == 2  # type: ignore[attr-defined]
    assert reason(3) == "miss: first call"
