"""Queued runs in the engine: ``submit``, ``take_over`` (what a worker drives), stopping a run
after its step without cancelling it, and cancel through the store's flag."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from wfengine import Engine, Graph, RunStatus, hookimpl
from wfengine.errors import RunActiveError, WorkflowError
from wfengine.graph import END
from wfengine.storage import MemoryStore
from wfengine.submit import NotQueueableError, QueueUnsupportedError


def counting_graph(name: str = "python-counter") -> Graph:
    graph = Graph(name, max_steps=50)
    graph.add_node("tick", lambda s: {"n": s["n"] + 1})
    graph.add_edge("tick", "tick", when="n < 3").add_edge("tick", END, default=True)
    return graph.set_entry_point("tick")


def spec_counter() -> dict[str, Any]:
    return {
        "name": "spec-counter",
        "entry": "tick",
        "nodes": {"tick": {"tool": "increment"}},
        "edges": [
            {"from": "tick", "to": "tick", "when": "n < 3"},
            {"from": "tick", "to": "END", "default": True},
        ],
    }


class Tools:
    @hookimpl
    def wfengine_register_tools(self, registry: Any) -> None:
        registry.register("increment", lambda s: {"n": s["n"] + 1})


class Workflows:
    @hookimpl
    def wfengine_register_workflows(self, registry: Any) -> None:
        registry.register("python-counter", counting_graph)


def engine(**kw: Any) -> Engine:
    return Engine(plugins=[Tools(), Workflows()], load_entrypoints=False, **kw)


def test_submit_stores_a_queued_run_at_its_entry_point() -> None:
    with engine() as eng:
        run_id = eng.submit(spec_counter(), {"n": 0}, max_steps=9, interrupt_after=["tick"])
        run = eng.store.get_run(run_id)
        assert run is not None and run.status == RunStatus.QUEUED
        assert run.next_nodes == ["tick"] and run.state == {"n": 0} and run.step == 0
        assert run.max_steps == 9 and run.interrupt_after == ["tick"]
        assert run.graph_version is not None
        assert eng.active_run(run_id) is None, "nothing runs in the submitting process"


def test_a_worker_engine_takes_a_submitted_run_over_and_finishes_it() -> None:
    store = MemoryStore()
    with engine(store=store) as client, engine(store=store) as worker:
        run_id = client.submit(spec_counter(), {"n": 0})
        assert store.claim_run("w", 30.0) == run_id
        done = worker.take_over(run_id, worker="w").result()
        assert done.status == RunStatus.COMPLETED and done.state["n"] == 3


def test_a_run_a_worker_holds_is_not_resumed_elsewhere_until_its_lease_runs_out() -> None:
    """A resume from another process (``wf runs resume``, the server) must not drive a run
    a live worker drives: both would write its steps."""
    store = MemoryStore()
    with engine(store=store) as client, engine(store=store) as other:
        run_id = client.submit(spec_counter(), {"n": 0})
        assert store.claim_run("w1", 0.3) == run_id
        with pytest.raises(RunActiveError, match="being driven by worker 'w1'"):
            other.resume(run_id)
        with pytest.raises(RunActiveError, match="worker 'w1'"):
            other.take_over(run_id, worker="w2")
        time.sleep(0.4)  # w1 stopped heartbeating: its lease ran out
        assert other.resume(run_id).status == RunStatus.COMPLETED


def test_submit_refuses_bad_input_as_start_does() -> None:
    with engine() as eng:
        with pytest.raises(Exception, match="unknown node"):
            eng.submit(spec_counter(), {"n": 0}, interrupt_before=["nope"])
        assert eng.store.list_runs()[0] == []


def test_submit_refuses_a_python_graph_object_a_worker_cannot_rebuild() -> None:
    with engine() as eng:
        with pytest.raises(NotQueueableError, match="register the graph as a workflow"):
            eng.submit(counting_graph("made-here"), {"n": 0})
        assert eng.store.list_runs()[0] == [], "nothing stored"
        # the same kind of graph, registered as a workflow the workers load: accepted
        run_id = eng.submit("python-counter", {"n": 0})
        assert eng.get_run(run_id).status == RunStatus.QUEUED


def test_submit_refuses_a_store_that_cannot_queue() -> None:
    class Plain:
        durable = False

        def __init__(self) -> None:
            self.inner = MemoryStore()

        def __getattr__(self, name: str) -> Any:
            if name in ("claim_run", "heartbeat", "release_run", "request_cancel"):
                raise AttributeError(name)
            return getattr(self.inner, name)

    eng = engine(store=Plain())  # type: ignore[arg-type]
    with pytest.raises(QueueUnsupportedError, match="cannot queue runs"):
        eng.submit(spec_counter(), {"n": 0})


def test_a_queued_run_pauses_before_an_interrupt_on_its_first_node() -> None:
    with engine() as eng:
        run_id = eng.submit(spec_counter(), {"n": 0}, interrupt_before=["tick"])
        eng.store.claim_run("w", 30.0)  # type: ignore[attr-defined]
        run = eng.take_over(run_id, worker="w").result()
        assert run.status == RunStatus.PAUSED and run.step == 0


def slow_graph(started: threading.Event, release: threading.Event) -> Graph:
    def tick(state: dict[str, Any]) -> dict[str, Any]:
        started.set()
        release.wait(5)
        return {"n": state["n"] + 1}

    graph = Graph("slow", max_steps=50)
    graph.add_node("tick", tick)
    graph.add_edge("tick", "tick", when="n < 5").add_edge("tick", END, default=True)
    return graph.set_entry_point("tick")


@pytest.mark.parametrize("status", [RunStatus.QUEUED, RunStatus.PAUSED])
def test_stop_finishes_the_step_in_flight_and_keeps_the_run_resumable(
    status: RunStatus,
) -> None:
    started, release = threading.Event(), threading.Event()
    graph = slow_graph(started, release)
    with Engine(load_entrypoints=False) as eng:
        handle = eng.start(graph, {"n": 0})
        done: list[Any] = []
        thread = threading.Thread(target=lambda: done.append(handle.result()))
        thread.start()
        assert started.wait(5)
        handle.stop(status)
        release.set()
        thread.join(5)
        run = done[0]
        assert run.status == status, "stopped, not cancelled"
        assert run.step == 1 and run.state["n"] == 1, "the step in flight finished"
        if status == RunStatus.QUEUED:  # for a worker: claimed, then taken over
            eng.store.claim_run("w", 30.0)  # type: ignore[attr-defined]
            resumed = eng.take_over(run.run_id, worker="w").result()
        else:
            resumed = eng.resume(run.run_id, graph=graph)
        assert resumed.status == RunStatus.COMPLETED and resumed.state["n"] == 5


def test_stop_refuses_a_final_status() -> None:
    with Engine(load_entrypoints=False) as eng:
        handle = eng.start(counting_graph(), {"n": 0})
        with pytest.raises(ValueError, match="paused or queued"):
            handle.stop(RunStatus.CANCELLED)
        handle.close()


def test_cancel_of_a_run_a_worker_holds_flags_it_in_the_store() -> None:
    store = MemoryStore()
    with engine(store=store) as client:
        run_id = client.submit(spec_counter(), {"n": 0})
        assert store.claim_run("w", 30.0) == run_id
        run = client.cancel(run_id)  # not active in this engine: through the store
        assert run.status == RunStatus.RUNNING and store.cancel_requested(run_id) is True
        queued = client.submit(spec_counter(), {"n": 0})
        assert client.cancel(queued).status == RunStatus.CANCELLED, "unclaimed: at once"
        assert store.claim_run("w2", 30.0) is None


def test_a_stop_while_a_retry_waits_gives_the_retry_up_without_cancelling() -> None:
    calls: list[float] = []

    def flaky(state: dict[str, Any]) -> dict[str, Any]:
        calls.append(time.time())
        raise RuntimeError("down")

    graph = Graph("flaky")
    graph.add_node("f", flaky, retry={"max_attempts": 3, "initial_delay": 5.0})
    graph.set_entry_point("f").add_edge("f", END)
    with Engine(load_entrypoints=False) as eng:
        handle = eng.start(graph, {})
        done: list[Any] = []
        thread = threading.Thread(target=lambda: done.append(handle.result()))
        thread.start()
        deadline = time.time() + 5
        while not calls and time.time() < deadline:
            time.sleep(0.01)
        handle.stop(RunStatus.QUEUED)
        thread.join(5)
        assert done[0].status == RunStatus.QUEUED and done[0].step == 0


def test_a_queued_run_is_not_resumed_here_behind_the_workers_back() -> None:
    with engine() as eng:
        run_id = eng.submit(spec_counter(), {"n": 0})
        with pytest.raises(WorkflowError, match="queued for a worker"):
            eng.resume(run_id)
        eng.cancel(run_id)
        assert eng.resume(run_id).status == RunStatus.COMPLETED, "once cancelled: resumable"


def test_aevents_of_a_resumed_run_do_not_pause_again_at_the_same_node() -> None:
    """A resumed drive passes the interrupt it stopped at, however it is driven."""
    import asyncio

    with engine() as eng:
        paused = eng.run(spec_counter(), {"n": 0}, interrupt_before=["tick"])
        assert paused.status == RunStatus.PAUSED

        async def drive() -> list[str]:
            handle = eng.prepare_resume(paused.run_id)
            return [event.type.value async for event in handle.aevents()]

        kinds = asyncio.run(drive())
        run = eng.get_run(paused.run_id)
        # one step ran (then the loop came back to 'tick' and paused before it again)
        assert "node_finished" in kinds and run.step == 1 and run.state["n"] == 1, kinds
