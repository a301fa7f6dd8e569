"""The store under the engine: runs saved and listed, a second engine reading them, values the
store refuses, a failing write, time travel, and the plugin's registration."""

from __future__ import annotations

import datetime as dt
import sqlite3
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from sqlite_testgraphs import counting_loop, initial_state, open_engine, short_loop
from wfengine import END, Engine, Graph, RunStatus

import wfengine_sqlite.plugin
from wfengine_sqlite import SQLiteStore


def steps_in(path: Path) -> list[int]:
    with sqlite3.connect(path) as conn:
        return [row[0] for row in conn.execute("SELECT step FROM steps ORDER BY run_pk, step")]


def test_the_entry_point_names_the_plugin_module() -> None:
    found = {ep.name: ep.value for ep in entry_points(group="wfengine")}
    assert found.get("sqlite") == "wfengine_sqlite.plugin"


def test_the_engine_opens_sqlite_urls(engine: Engine, db_url: str) -> None:
    assert "sqlite" in engine.stores
    assert isinstance(engine.store, SQLiteStore) and engine.store.url == db_url
    assert engine.store_url == db_url


def test_runs_are_saved_listed_and_readable_from_a_second_engine(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    graph = short_loop(6)
    runs = [engine.run(graph, {"i": 0, "trail": []}) for _ in range(5)]
    other = Graph("other").add_node("x", lambda s: {"x": 1}).add_edge("x", END)
    other.set_entry_point("x")
    other_run = engine.run(other, {})
    assert all(r.status == RunStatus.COMPLETED for r in [*runs, other_run])

    with open_engine(db_url) as second:
        for run in runs:
            back = second.get_run(run.run_id)
            assert back.to_dict() == run.to_dict()
        page, cursor = second.store.list_runs(graph_id="short-loop", limit=2)
        seen = [r.run_id for r in page]
        while cursor:
            page, cursor = second.store.list_runs(graph_id="short-loop", limit=2, cursor=cursor)
            seen += [r.run_id for r in page]
        assert sorted(seen) == sorted(r.run_id for r in runs) and len(seen) == 5
        done, _ = second.store.list_runs(status="completed")
        assert len(done) == 6


def test_stored_graphs_resolve_by_id(engine: Engine) -> None:
    engine.store.save_graph("saved", {"name": "saved", "version": 1})
    assert engine.store.get_graph("saved") == {"name": "saved", "version": 1}


def test_an_unstorable_value_fails_the_run_and_keeps_earlier_steps(
    engine: Engine, db_path: Path
) -> None:
    class Opaque:
        pass

    graph = Graph("refuse")
    graph.add_node("ok", lambda s: {"rows": [{"created": dt.date(2026, 1, i)} for i in (1, 2)]})
    graph.add_node("bad", lambda s: {"rows": [*s["rows"], {}, {"created": Opaque()}]})
    graph.add_node("never", lambda s: {"never": True})
    graph.add_edge("ok", "bad").add_edge("bad", "never").add_edge("never", END)
    graph.set_entry_point("ok")

    run = engine.run(graph, {"n": 1})
    assert run.status == RunStatus.FAILED
    assert run.error is not None
    assert run.error["message"].startswith('state["rows"][3]["created"]: cannot store <class ')
    assert run.error["where"] == "checkpoint" and run.error["step"] == 2
    assert run.error["type"] == "UnstorableValueError"
    assert "never" not in run.state and run.step == 1  # rolled back in memory

    stored = engine.store.get_run(run.run_id)
    assert stored is not None
    assert stored.status == RunStatus.FAILED and stored.step == 1
    assert stored.state == {"n": 1, "rows": [{"created": dt.date(2026, 1, i)} for i in (1, 2)]}
    assert stored.error is not None and stored.error["message"] == run.error["message"]
    assert steps_in(db_path) == [1]


class FaultyStore(SQLiteStore):
    """Every write goes through ``_commit`` or ``_commit_step``; the N-th one raises."""

    def __init__(self, url: str, fail_at: int) -> None:
        self.writes = 0
        self.fail_at = 0
        super().__init__(url)  # creating the schema is a write too: count from here
        self.writes = 0
        self.fail_at = fail_at

    def _tick(self) -> None:
        self.writes += 1
        if self.writes == self.fail_at:
            raise sqlite3.OperationalError("disk I/O error (injected)")

    def _commit(self, conn: sqlite3.Connection) -> None:
        self._tick()
        super()._commit(conn)

    def _commit_step(self, conn: sqlite3.Connection, row: Any) -> None:
        self._tick()
        super()._commit_step(conn, row)


def test_a_failing_write_fails_the_run_clearly_and_it_resumes(tmp_path: Path) -> None:
    effects = tmp_path / "effects.txt"
    graph = counting_loop(effects, steps=12)
    # writes: the graph version, save_run (start), save_run (begin), then one per step: the
    # 9th write is step 6
    store = FaultyStore(f"sqlite:///{tmp_path}/f.db", fail_at=9)
    with Engine(load_entrypoints=False, plugins=[wfengine_sqlite.plugin], store=store) as eng:
        run = eng.run(graph, initial_state())
        assert run.status == RunStatus.FAILED
        assert run.error is not None and run.error["where"] == "checkpoint"
        assert "could not checkpoint step 6 of run" in run.error["message"]
        assert "disk I/O error (injected)" in run.error["message"]
        assert eng.store.get_run(run.run_id).step == 5  # type: ignore[union-attr]

        resumed = eng.resume(run.run_id, graph=graph)  # the fault has passed
        assert resumed.status == RunStatus.COMPLETED and resumed.step == 12

    with open_engine("memory://") as memory:
        reference = memory.run(counting_loop(tmp_path / "ref.txt", steps=12), initial_state())
    with open_engine(f"sqlite:///{tmp_path}/f.db") as fresh:
        assert fresh.get_run(run.run_id).state == reference.state
    lines = effects.read_text().split()
    calls = [int(n) for n in lines[::2]]
    assert calls == [1, 2, 3, 4, 5, 6, 6, 7, 8, 9, 10, 11, 12]  # only step 6 ran twice
    assert steps_in(tmp_path / "f.db") == list(range(1, 13))


def test_a_failing_save_run_at_the_end_is_reported(tmp_path: Path) -> None:
    graph = short_loop(4)
    # the graph version + 2 starts + 4 steps + end
    store = FaultyStore(f"sqlite:///{tmp_path}/f.db", fail_at=8)
    with Engine(load_entrypoints=False, plugins=[wfengine_sqlite.plugin], store=store) as eng:
        run = eng.run(graph, {"i": 0, "trail": []})
        assert run.status == RunStatus.FAILED
        assert run.error is not None and run.error["where"] == "save_run"
        stored = eng.store.get_run(run.run_id)
        assert stored is not None and stored.step == 4 and stored.state["i"] == 2


def test_time_travel_fork_and_resume_through_the_engine(engine: Engine, tmp_path: Path) -> None:
    graph = counting_loop(tmp_path / "effects.txt", steps=10)
    run = engine.run(graph, initial_state())
    assert run.status == RunStatus.COMPLETED
    store = engine.store
    assert isinstance(store, SQLiteStore)

    fork = store.fork_run(run.run_id, 4)
    assert fork.state == store.state_at(run.run_id, 4)
    assert fork.state["i"] == 4 and fork.next_nodes == ["add"]
    patched = engine.resume(fork.run_id, {"total": fork.state["total"] * 10}, graph=graph)
    assert patched.status == RunStatus.COMPLETED and patched.step == 10
    assert patched.visited_nodes == run.visited_nodes
    assert patched.state["total"] != run.state["total"]
    assert patched.state["i"] == run.state["i"]
    # the patched state is the fork's state at step 4; the original is untouched
    assert store.state_at(fork.run_id, 4)["total"] == fork.state["total"] * 10
    assert store.get_run(run.run_id).state == run.state  # type: ignore[union-attr]


def test_a_paused_run_resumes_from_another_engine(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    graph = counting_loop(tmp_path / "effects.txt", steps=6)
    run = engine.run(graph, initial_state(), interrupt_before=["check"])
    assert run.status == RunStatus.PAUSED and run.step == 1
    with open_engine(db_url) as second:
        done = second.resume(run.run_id, graph=graph)
        assert done.status == RunStatus.PAUSED and done.step == 3
        while done.status == RunStatus.PAUSED:
            done = second.resume(run.run_id, graph=graph)
        assert done.status == RunStatus.COMPLETED and done.step == 6


def test_a_run_trimming_its_log_in_memory_keeps_every_entry_in_order_on_disk(
    db_url: str,
) -> None:
    from wfengine.limits import RunLimits

    graph = Graph("long", max_steps=500)
    graph.set_reducer("n", "add")
    graph.add_node("tick", lambda s: {"n": 1})
    graph.add_edge("tick", "tick", when="n < 120").add_edge("tick", END, default=True)
    graph.set_entry_point("tick")
    engine = Engine(
        plugins=[wfengine_sqlite.plugin],
        load_entrypoints=False,
        store=db_url,
        limits=RunLimits(max_log_entries=20),
    )
    run = engine.run(graph, {})
    assert run.status == RunStatus.COMPLETED and len(run.logs) <= 20 and run.logs_dropped
    stored = engine.store.get_run(run.run_id)
    assert stored is not None
    assert [e.step for e in stored.logs] == list(range(1, 121))
    engine.close()


def test_the_plugin_offers_the_per_user_database_as_the_default_store() -> None:
    from wfengine_sqlite.location import default_url

    engine = Engine(plugins=[wfengine_sqlite.plugin], load_entrypoints=False)
    url = engine.stores.default_url()
    assert url == default_url()
    assert url is not None and url.startswith("sqlite:////") and url.endswith("wfengine.db")


def test_single_node_steps_of_a_checkpointed_run_take_the_lean_path(
    engine: Engine, db_path: Path, monkeypatch: Any
) -> None:
    from wfengine.execution import Execution

    monkeypatch.setenv("WFENGINE_LEAN_STEPS", "1")
    lean_steps = Execution.lean_steps
    taken: list[int] = []

    def spy(self: Execution, batch: list[str]) -> None:
        taken.append(self.run.step)
        lean_steps(self, batch)

    monkeypatch.setattr(Execution, "lean_steps", spy)
    graph = Graph("lean", reducers={"trail": "append"})
    graph.add_node("tick", lambda s: {"n": s["n"] + 1, "trail": s["n"]})
    graph.add_edge("tick", "tick", condition=lambda s: s["n"] < 5)
    graph.add_edge("tick", END, default=True)
    run = engine.run(graph.set_entry_point("tick"), {"n": 0, "trail": []})
    assert run.status == RunStatus.COMPLETED and taken == [0]  # one lean stretch, 5 steps
    assert steps_in(db_path) == [1, 2, 3, 4, 5]  # each one checkpointed
    store = engine.store
    assert isinstance(store, SQLiteStore)
    assert store.state_at(run.run_id, 3) == {"n": 3, "trail": [0, 1, 2]}
    assert store.steps(run.run_id)[3]["added"] == {"trail": [3]}  # what step 4 added
