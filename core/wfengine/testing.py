"""Helpers for testing wfengine plugins and graphs: the store contract every store must keep,
the history and queue capabilities, and replaying recorded runs as regression tests of a
graph's routing.
The pytest plugin :mod:`wfengine.pytest_plugin` (entry point ``pytest11``) offers them as
fixtures.

A store plugin's tests call :func:`check_store_contract` with a function opening the store
under test, empty at first; for a durable store each call opens the same data again (a
second process would) (see ``docs/stores.md``)::

    from wfengine.testing import check_store_contract

    def test_my_store_keeps_the_contract(tmp_path):
        check_store_contract(lambda: MyStore(f"my:///{tmp_path}/s.db"))

It drives the store through the engine (a run checkpointed step by step, a paused run
resumed by a second engine, graphs, listing, pruning) and checks what comes back, so a store
passes only by behaving, not by having the right attribute names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .engine import Engine
from .graph import END, Graph
from .run import RunStatus
from .storage import HistoryStore, QueueStore, Store, VersionedStore


def _counter() -> Graph:
    graph = Graph("contract", max_steps=50)
    graph.set_reducer("trail", "append")
    graph.add_node("tick", lambda s: {"n": s["n"] + 1, "trail": s["n"]})
    graph.add_edge("tick", "tick", when="n < 5").add_edge("tick", END, default=True)
    return graph.set_entry_point("tick")


def check_store_contract(open_store: Callable[[], Any]) -> None:
    """Assert that the store ``open_store`` opens keeps the store contract (version 1)."""
    store = open_store()
    assert isinstance(store, Store), "a store needs every member of wfengine.storage.Store"
    graph = _counter()
    with Engine(load_entrypoints=False, store=store) as engine:
        done = engine.run(graph, {"n": 0})
        assert done.status == RunStatus.COMPLETED and done.state["n"] == 5
        stored = store.get_run(done.run_id)
        assert stored is not None, "get_run must find a saved run"
        assert stored.state == {"n": 5, "trail": [0, 1, 2, 3, 4]}
        assert stored.step == 5 and stored.visited_nodes == ["tick"] * 5
        assert [entry.step for entry in stored.logs] == [1, 2, 3, 4, 5]
        assert stored.graph_version == done.graph_version

        paused = engine.run(graph, {"n": 0}, interrupt_before=["tick"])
        assert paused.status == RunStatus.PAUSED
        page, cursor = store.list_runs(limit=1)
        assert len(page) == 1 and cursor is not None, "list_runs pages newest first"
        rest, _ = store.list_runs(cursor=cursor)
        assert {r.run_id for r in page + rest} == {done.run_id, paused.run_id}
        only, _ = store.list_runs(status="paused")
        assert [r.run_id for r in only] == [paused.run_id]

        store.save_graph("g1", {"name": "g1", "entry": "a"})
        assert store.get_graph("g1") == {"name": "g1", "entry": "a"}
        assert [g["graph_id"] for g in store.list_graphs()] == ["g1"]
        if isinstance(store, VersionedStore) and done.graph_version is not None:
            version = store.get_graph_version(done.graph_version)
            assert version is not None and version["name"] == "contract"

    store.close()
    store = open_store() if getattr(store, "durable", False) else store
    if getattr(store, "durable", False):
        # a durable store is shared: a second engine resumes what the first paused
        with Engine(load_entrypoints=False, store=open_store()) as other:
            resumed = other.resume(paused.run_id, graph=graph)
            # one step ran, then the run paused before 'tick' again
            assert resumed.status == RunStatus.PAUSED and resumed.state["n"] == 1
            again = store.get_run(paused.run_id)
            assert again is not None and again.step == 1 and again.state["trail"] == [0]
    assert store.delete_run(done.run_id) is True
    assert store.get_run(done.run_id) is None
    store.close()


def check_list_filters(store: Store) -> None:
    """Check ``store.list_runs``'s ``created_after``, ``created_before`` and ``search``
    filters (with a graph / status filter and a cursor); ``store`` starts empty."""
    from .run import WorkflowRun

    def run(run_id: str, created: float, status: RunStatus, error: str | None) -> WorkflowRun:
        made = WorkflowRun(graph_id="g", run_id=run_id, status=status, created=created)
        if error is not None:
            made.error = {"type": "TimeoutError", "message": error, "traceback": "tb-only"}
        return made

    runs = [
        run("alpha-1", 100.0, RunStatus.COMPLETED, None),
        run("alpha-2", 200.0, RunStatus.FAILED, "upstream 50% TIMEOUT"),
        run("beta-3", 300.0, RunStatus.FAILED, "disk full"),
        run("beta-4", 400.0, RunStatus.COMPLETED, None),
    ]
    for made in runs:
        store.save_run(made)

    def ids(**filters: Any) -> list[str]:
        return [r.run_id for r in store.list_runs(**filters)[0]]

    assert ids(created_after=200.0) == ["beta-4", "beta-3", "alpha-2"], "created_after: >="
    assert ids(created_before=300.0) == ["alpha-2", "alpha-1"], "created_before: <"
    assert ids(created_after=150.0, created_before=350.0) == ["beta-3", "alpha-2"]
    assert ids(search="ALPHA") == ["alpha-2", "alpha-1"], "search: run id, any case"
    assert ids(search="UPSTREAM") == ["alpha-2"], "search: error message"
    assert ids(search="timeouterror") == ["beta-3", "alpha-2"], "search: error type"
    assert ids(search="50%") == ["alpha-2"] and ids(search="5_%") == [], "search: literal"
    assert ids(search="tb-only") == [], "search: not the traceback"
    assert ids(search="beta", status="failed") == ["beta-3"]
    page, cursor = store.list_runs(created_after=150.0, limit=2)
    assert [r.run_id for r in page] == ["beta-4", "beta-3"] and cursor is not None
    rest, cursor = store.list_runs(created_after=150.0, limit=2, cursor=cursor)
    assert [r.run_id for r in rest] == ["alpha-2"] and cursor is None, "cursor keeps filters"


def check_history_contract(open_store: Callable[[], Any]) -> None:
    """Assert that the store ``open_store`` opens keeps the optional history capability
    (:class:`~wfengine.storage.HistoryStore`): the state after every step, the steps with what
    they changed and added, forks."""
    store = open_store()
    assert isinstance(store, Store), "a store needs every member of wfengine.storage.Store"
    assert isinstance(store, HistoryStore), "a history store needs state_at, steps, fork_run"
    with Engine(load_entrypoints=False, store=store) as engine:
        done = engine.run(_counter(), {"n": 0})
        assert done.status == RunStatus.COMPLETED
        for step in range(6):
            expected = {"n": step, "trail": list(range(step))} if step else {"n": 0}
            assert store.state_at(done.run_id, step) == expected, f"state_at step {step}"
        steps = store.steps(done.run_id)
        assert [s["step"] for s in steps] == [1, 2, 3, 4, 5]
        assert steps[2]["nodes"] == ["tick"] and steps[2]["update"] == {"n": 3}
        assert steps[2].get("added", {}) in ({"trail": [2]}, {}), "added: what the step added"
        fork = store.fork_run(done.run_id, 2)
        assert fork.state == {"n": 2, "trail": [0, 1]} and fork.step == 2
        resumed = engine.resume(fork.run_id, graph=_counter())
        assert resumed.state == {"n": 5, "trail": [0, 1, 2, 3, 4]}
        assert store.state_at(done.run_id, 5)["n"] == 5, "the forked run is unchanged"
    store.close()


def check_queue_contract(open_store: Callable[[], Any], *, workers: int = 4) -> None:
    """Assert that the store ``open_store`` opens keeps the optional queue capability
    (:class:`~wfengine.storage.QueueStore`, :mod:`wfengine.queue`): oldest first, each run to
    one worker even when ``workers`` claim at once (each through its own store when the store
    is durable, as separate processes would), leases that expire and are taken over, heartbeats
    refused to a worker that lost its run, requeue, and cancel by flag or at once."""
    import threading
    import time

    from .errors import RunNotFoundError
    from .run import WorkflowRun

    store = open_store()
    is_queue = isinstance(store, QueueStore)
    assert is_queue, "a queue store needs claim_run, heartbeat, release_run, request_cancel, ..."
    durable = bool(getattr(store, "durable", False))

    def queued(n: int, created: float) -> list[str]:
        ids = []
        for i in range(n):
            run = WorkflowRun(graph_id="q", state={"i": i}, status=RunStatus.QUEUED)
            run.created, run.next_nodes = created + i, ["a"]
            store.save_run(run)
            ids.append(run.run_id)
        return ids

    assert store.claim_run("w0", 30.0) is None, "an empty queue has nothing to claim"
    first = queued(3, 1000.0)
    assert store.claim_run("w0", 30.0) == first[0], "the oldest queued run first"
    got = store.get_run(first[0])
    assert got is not None and got.status == RunStatus.RUNNING, "a claimed run is running"
    assert got.state == {"i": 0} and got.next_nodes == ["a"], "a claim keeps the run whole"
    assert store.heartbeat(first[0], "w0", 30.0) is True
    assert store.heartbeat(first[0], "w1", 30.0) is False, "only the holder heartbeats"
    assert store.claim_of(first[0]) == "w0" and store.claim_of(first[1]) is None, "claim_of"
    store.release_run(first[0], "w0", requeue=True)
    again = store.get_run(first[0])
    assert again is not None and again.status == RunStatus.QUEUED, "requeue: queued again"
    assert store.heartbeat(first[0], "w0", 30.0) is False, "a released run is nobody's"
    assert store.claim_of(first[0]) is None, "a released run is nobody's"
    taken = [store.claim_run("w0", 30.0) for _ in range(4)]
    assert taken == [first[0], first[1], first[2], None]
    for run_id in first:
        store.release_run(run_id, "w0")
    assert store.claim_run("w0", 30.0) is None, "a released running run is not requeued"

    # many workers at once: every run to exactly one of them
    many = set(queued(40, 2000.0))
    claimed: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    def work(name: str) -> None:
        mine = open_store() if durable else store
        try:
            while (run_id := mine.claim_run(name, 30.0)) is not None:
                claimed.setdefault(run_id, []).append(name)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            if mine is not store:
                mine.close()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, f"claiming failed: {errors[0]!r}"
    twice = {run_id: names for run_id, names in claimed.items() if len(names) > 1}
    assert not twice, f"runs claimed by two workers: {twice}"
    assert set(claimed) == many, "every queued run claimed"

    # an expired lease is taken over; the old holder learns it lost the run
    (lost,) = queued(1, 3000.0)
    assert store.claim_run("dead", 0.2) == lost
    assert store.claim_run("alive", 30.0) is None, "a live lease is not taken over"
    time.sleep(0.5)
    assert store.claim_of(lost) is None, "an expired lease is nobody's"
    assert store.claim_run("alive", 30.0) == lost, "an expired lease is taken over"
    assert store.heartbeat(lost, "dead", 30.0) is False
    assert store.heartbeat(lost, "alive", 30.0) is True
    store.release_run(lost, "dead")  # a stale release changes nothing
    assert store.heartbeat(lost, "alive", 30.0) is True

    # cancel: a claimed run is flagged, a queued one cancelled at once, an ended one refused
    assert store.cancel_requested(lost) is False
    assert store.request_cancel(lost) is True and store.cancel_requested(lost) is True
    (waiting,) = queued(1, 4000.0)
    assert store.request_cancel(waiting) is True
    cancelled = store.get_run(waiting)
    assert cancelled is not None and cancelled.status == RunStatus.CANCELLED
    assert store.claim_run("w0", 30.0) is None, "a cancelled run is not handed out"
    assert store.request_cancel(waiting) is False, "an ended run cannot be cancelled"
    try:
        store.request_cancel("no-such-run")
    except RunNotFoundError:
        pass
    else:
        raise AssertionError("request_cancel of an unknown run must raise RunNotFoundError")
    store.close()


def assert_replays(recorded: Any, graph: Graph) -> None:
    """Assert that ``graph`` routes the run recorded in ``recorded`` (a ``.wfrun`` path) the
    way it went; the message names the first step that routes elsewhere. Keep real runs as
    regression tests of a graph's conditions::

        def test_routing_still_matches(assert_replays):  # the pytest fixture
            assert_replays("tests/runs/big-order.wfrun", build_graph())
    """
    from .replay import replay

    result = replay(recorded, graph)
    diverged = result["diverged"]
    if diverged is not None:
        raise AssertionError(
            f"run {result['run_id']}: step {diverged['step']} ({', '.join(diverged['nodes'])}) "
            f"now routes to {diverged['routed']}, but the recorded run went to "
            f"{diverged['recorded']}"
            + (f" (missing nodes {diverged['missing_nodes']})" if diverged["missing_nodes"] else "")
            + (f": {diverged['reason']}" if diverged.get("reason") else "")
        )
