"""The worker in one process (memory store): fencing of a run whose lease is lost, a run that
cannot start here, events published to the store's feed, the fenced store's capabilities.
Worker processes on SQLite are tested in plugins/sqlite/tests/test_sqlite_workers.py."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from wfengine import END, Engine, Graph, RunStatus, hookimpl
from wfengine.storage import MemoryStore, PendingWritesStore, QueueStore
from wfengine.worker import FencedStore, Lease, LeaseLostError, Worker

SPEC: dict[str, Any] = {
    "name": "two",
    "entry": "a",
    "nodes": {"a": {"tool": "slow"}, "b": {"tool": "slow"}},
    "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "END"}],
}
STARTED = threading.Event()
RELEASE = threading.Event()


def slow(state: dict[str, Any]) -> dict[str, Any]:
    STARTED.set()
    RELEASE.wait(5)
    return {"n": state.get("n", 0) + 1}


class Tools:
    @hookimpl
    def wfengine_register_tools(self, registry: Any) -> None:
        registry.register("slow", slow)


class Flow:
    @hookimpl
    def wfengine_register_workflows(self, registry: Any) -> None:
        registry.register("only-here", only_here)


def only_here() -> Graph:
    graph = Graph("only-here")
    graph.add_node("a", slow).set_entry_point("a").add_edge("a", END)
    return graph


@pytest.fixture(autouse=True)
def _gate() -> Any:
    STARTED.clear()
    RELEASE.clear()
    yield
    RELEASE.set()


def engine(store: MemoryStore, *plugins: Any) -> Engine:
    return Engine(plugins=[Tools(), *plugins], load_entrypoints=False, store=store)


class Recording(MemoryStore):
    """A memory store that checkpoints every step (as a durable one) and records writes."""

    durable = True

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[str, int, str]] = []

    def save_run(self, run: Any) -> None:
        self.writes.append(("run", run.step, run.status.value))
        super().save_run(run)

    def save_step(self, run: Any, update: Any, logs: Any) -> None:
        self.writes.append(("step", run.step, run.status.value))
        super().save_step(run, update, logs)


def test_a_worker_that_loses_its_run_writes_nothing_more_for_it() -> None:
    store = Recording()
    engine(store).submit(SPEC, {"n": 0})
    worker = Worker(engine(store), exit_when_idle=True, poll=0.01, lease=0.3)
    thread = threading.Thread(target=worker.run)
    thread.start()
    assert STARTED.wait(5)
    assert store.writes == [("run", 0, "queued"), ("run", 0, "running")]
    (run_id,) = store._claims  # type: ignore[attr-defined]
    # another worker took the run over: this worker's heartbeat is refused from now on
    store._claims[run_id].worker = "heir"  # type: ignore[attr-defined]
    time.sleep(0.3)  # a heartbeat (every 0.1 s) notices
    RELEASE.set()
    thread.join(5)
    assert worker.finished == {"lost (another worker may hold it now)": 1}
    assert store.writes == [("run", 0, "queued"), ("run", 0, "running")], "no step, no status"
    assert store._claims[run_id].worker == "heir", "the heir keeps its claim"  # type: ignore[attr-defined]


def test_without_the_theft_the_same_run_checkpoints_and_completes() -> None:
    """The check above is not vacuous: the same worker writes each step when it holds on."""
    store = Recording()
    engine(store).submit(SPEC, {"n": 0})
    RELEASE.set()
    Worker(engine(store), exit_when_idle=True, poll=0.01, lease=0.3).run()
    assert ("step", 1, "running") in store.writes and store.writes[-1] == ("run", 2, "completed")


def test_the_fenced_store_refuses_writes_once_the_lease_ran_out() -> None:
    store = MemoryStore()
    leases = {"r1": Lease("r1", time.monotonic() + 0.05)}
    fenced = FencedStore(store, leases)
    assert isinstance(fenced, QueueStore) and isinstance(fenced, PendingWritesStore)
    fenced.save_pending_writes("r1", 1, {"a": {"x": 1}})
    time.sleep(0.1)
    with pytest.raises(LeaseLostError, match="no longer holds run r1"):
        fenced.save_pending_writes("r1", 1, {"a": {"x": 2}})
    assert leases["r1"].lost is True
    assert store.get_pending_writes("r1", 1) == {"a": {"x": 1}}
    fenced.save_pending_writes("other", 1, {"a": {}})  # runs it does not lease: untouched


def test_a_run_the_worker_cannot_start_fails_with_the_reason() -> None:
    store = MemoryStore()
    run_id = engine(store, Flow()).submit("only-here", {"n": 0})
    worker = Worker(engine(store), exit_when_idle=True, poll=0.01, lease=5)
    assert worker.run() == 1
    run = store.get_run(run_id)
    assert run is not None and run.status == RunStatus.FAILED
    assert run.error is not None and run.error["where"] == "worker"
    assert "only-here" in run.error["message"]
    assert store.claim_run("w", 5) is None, "released, not handed out again"


def test_the_worker_publishes_its_runs_events_to_the_feed() -> None:
    store = MemoryStore()
    RELEASE.set()
    store.listen_events(0)  # start listening
    run_id = engine(store).submit(SPEC, {"n": 0})
    Worker(engine(store), exit_when_idle=True, poll=0.01).run()
    events = store.listen_events(1)
    assert {e["run_id"] for e in events} == {run_id}
    kinds = [e["type"] for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert events[-1]["status"] == "completed" and kinds.count("step_finished") == 2


def test_stop_requeues_the_run_after_its_step() -> None:
    store = MemoryStore()
    run_id = engine(store).submit(SPEC, {"n": 0})
    worker = Worker(engine(store), poll=0.01, lease=5)
    thread = threading.Thread(target=worker.run)
    thread.start()
    assert STARTED.wait(5)
    worker.stop()
    RELEASE.set()
    thread.join(5)
    assert worker.finished == {"requeued": 1}
    run = store.get_run(run_id)
    assert run is not None and run.status == RunStatus.QUEUED and run.step == 1
    assert store.claim_run("next", 5) == run_id


def test_bad_worker_options_are_refused() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        Worker(engine(MemoryStore()), concurrency=0)
    with pytest.raises(ValueError, match="positive"):
        Worker(engine(MemoryStore()), lease=0)


def test_the_worker_rides_out_a_store_that_fails_to_claim() -> None:
    class Flaky(MemoryStore):
        fails = 2

        def claim_run(self, worker: str, lease: float = 30.0) -> str | None:
            if self.fails:
                self.fails -= 1
                raise ConnectionError("the database is restarting")
            return super().claim_run(worker, lease)

    store = Flaky()
    RELEASE.set()
    run_id = engine(store).submit(SPEC, {"n": 0})
    said: list[str] = []
    worker = Worker(engine(store), exit_when_idle=True, poll=0.01, say=said.append)
    assert worker.run() == 1
    assert sum("could not claim a run: the database is restarting" in s for s in said) == 2
    run = store.get_run(run_id)
    assert run is not None and run.status == RunStatus.COMPLETED
