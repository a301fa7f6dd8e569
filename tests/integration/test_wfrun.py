"""``.wfrun`` export and import: a run goes from one store to another with its history."""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from wfengine import END, Engine, Graph
from wfengine.errors import RunNotFoundError
from wfengine.storage import HistoryStore
from wfengine.wfrun import WfrunError, export_run, import_run, read_run


def ledger(n: int) -> Graph:
    def book(state: dict[str, Any]) -> dict[str, Any]:
        i = state["i"] + 1
        return {
            "i": i,
            "total": state["total"] + Decimal("1.10"),
            "entries": {"day": dt.date(2026, 1, i), "n": i},
            "seen": {f"k{i}": i},
        }

    graph = Graph("ledger", reducers={"entries": "append", "seen": "merge"}, max_steps=n + 5)
    graph.add_node("book", book)
    graph.add_edge("book", "book", condition=lambda s: s["i"] < n)
    graph.add_edge("book", END, default=True)
    graph.set_entry_point("book")
    return graph


def open_store(kind: str, tmp_path: Path) -> Engine:
    import wfengine_sqlite.plugin

    url = f"sqlite:///{tmp_path / 'runs.db'}" if kind == "sqlite" else "memory://"
    return Engine(plugins=[wfengine_sqlite.plugin], load_entrypoints=False, store=url)


@pytest.mark.parametrize(("source", "target"), [("sqlite", "memory"), ("memory", "sqlite")])
def test_a_run_goes_from_one_store_to_another(source: str, target: str, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = open_store(source, tmp_path / "a")
    run = first.run(ledger(5), {"i": 0, "total": Decimal("0"), "entries": [], "seen": {}})
    assert run.status == "completed", run.error
    path = export_run(first.store, run.run_id, tmp_path / "run.wfrun")
    meta = read_run(path)["meta"]
    assert meta["format"] == "wfrun" and "wfengine" in meta["packages"]
    second = open_store(target, tmp_path / "b")
    imported = import_run(second.store, path)
    assert imported.run_id == run.run_id
    loaded = second.get_run(run.run_id)
    assert loaded.status == run.status and loaded.state == run.state
    assert loaded.state["total"] == Decimal("5.50")
    assert [(e.node, e.step, e.status) for e in loaded.logs] == [
        (e.node, e.step, e.status) for e in run.logs
    ]
    assert loaded.graph_version == run.graph_version
    assert second.store.get_graph_version(run.graph_version) is not None  # type: ignore[attr-defined]
    old, new = first.store, second.store
    assert isinstance(old, HistoryStore) and isinstance(new, HistoryStore)
    for step in range(6):
        assert new.state_at(run.run_id, step) == old.state_at(run.run_id, step)
    assert new.steps(run.run_id) == old.steps(run.run_id)
    with pytest.raises(WfrunError, match="already has a run"):
        import_run(second.store, path)
    copy = import_run(second.store, path, run_id="copy")
    assert second.get_run("copy").state == run.state and copy.run_id == "copy"
    first.close()
    second.close()


@pytest.mark.parametrize(("source", "target"), [("sqlite", "memory"), ("memory", "sqlite")])
def test_a_state_patch_given_on_resume_travels_with_the_run(
    source: str, target: str, tmp_path: Path
) -> None:
    from wfengine.history import blame

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = open_store(source, tmp_path / "a")
    start = {"i": 0, "total": Decimal("0"), "entries": [], "seen": {}}
    paused = first.run(ledger(4), start, interrupt_after=["book"])
    assert paused.status == "paused" and paused.step == 1
    done = first.resume(paused.run_id, {"total": Decimal("100")}, graph=ledger(4))
    assert done.step == 2 and done.status == "paused"  # paused again after step 2
    done = first.resume(paused.run_id, graph=ledger(4))
    while done.status == "paused":
        done = first.resume(paused.run_id, graph=ledger(4))
    assert done.state["total"] == Decimal("103.30")
    path = export_run(first.store, done.run_id, tmp_path / "run.wfrun")
    second = open_store(target, tmp_path / "b")
    import_run(second.store, path)
    loaded = second.get_run(done.run_id)
    assert loaded is not None and loaded.state == done.state
    assert loaded.patches == [{"step": 1, "keys": ["total"]}]
    old, new = first.store, second.store
    assert isinstance(old, HistoryStore) and isinstance(new, HistoryStore)
    for step in range(5):
        assert new.state_at(done.run_id, step) == old.state_at(done.run_id, step), step
    assert [(w["step"], w["how"]) for w in blame(new, loaded, "total")] == [
        (1, "set"),
        (1, "patched"),
        (2, "set"),
        (3, "set"),
        (4, "set"),
    ]
    first.close()
    second.close()


def test_bad_files_are_named(tmp_path: Path) -> None:
    engine = Engine(load_entrypoints=False, store="memory://")
    with pytest.raises(WfrunError, match="no such file"):
        import_run(engine.store, tmp_path / "missing.wfrun")
    (tmp_path / "junk.wfrun").write_text("not a database at all, just some text" * 50)
    with pytest.raises(WfrunError, match="not a readable .wfrun file"):
        import_run(engine.store, tmp_path / "junk.wfrun")
    sqlite3.connect(tmp_path / "other.db").execute(
        "CREATE TABLE meta (key, value)"
    ).connection.commit()
    with pytest.raises(WfrunError, match="is not a .wfrun file"):
        import_run(engine.store, tmp_path / "other.db")
    with pytest.raises(RunNotFoundError):
        export_run(engine.store, "nope", tmp_path / "x.wfrun")


def test_export_and_import_through_wf(tmp_path: Path) -> None:
    from click.testing import CliRunner
    from wfengine.cli import CliContext, build_cli

    first = open_store("sqlite", tmp_path)
    run = first.run(ledger(3), {"i": 0, "total": Decimal("0"), "entries": [], "seen": {}})
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    app = CliContext(first)
    out = tmp_path / "run.wfrun"
    result = CliRunner().invoke(
        build_cli(app), ["--store", url, "runs", "export", run.run_id, "-o", str(out)], obj=app
    )
    assert result.exit_code == 0, result.output
    assert f"exported run {run.run_id} to {out}" in result.stdout
    result = CliRunner().invoke(
        build_cli(app),
        ["--store", url, "runs", "import", str(out), "--run-id", "again"],
        obj=app,
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "imported run again (ledger, completed, 3 steps)"
    first.close()
