"""`RunHandle`: what `Engine.start`/`prepare_resume` give out, and the engine as the one
owner of the runs going on (issue 13, section 2)."""

from __future__ import annotations

import asyncio
import gc
import threading
from typing import Any

import pytest
from wfengine import END, Engine, Graph, RunStatus, WorkflowError
from wfengine.errors import RunActiveError
from wfengine.handle import RunHandle
from wfengine.run import EventType


def _graph(gate: threading.Event | None = None) -> Graph:
    def first(state: dict[str, Any]) -> dict[str, Any]:
        return {"n": state.get("n", 0) + 1}

    def second(state: dict[str, Any]) -> dict[str, Any]:
        if gate is not None:
            assert gate.wait(10), "the test never opened the gate"
        return {"n": state["n"] * 10}

    return (
        Graph("handle")
        .add_node("first", first)
        .add_node("second", second)
        .add_edge("first", "second")
        .add_edge("second", END)
        .set_entry_point("first")
    )


@pytest.fixture
def engine() -> Engine:
    return Engine(load_entrypoints=False)


def test_start_gives_a_handle_that_drives_the_run_once(engine: Engine) -> None:
    handle = engine.start(_graph(), {"n": 1})
    assert isinstance(handle, RunHandle)
    assert handle.run.status == RunStatus.PENDING
    assert engine.store.get_run(handle.run_id) is not None  # saved as pending
    assert handle.graph.name == "handle"
    run = handle.result()
    assert run is handle.run
    assert run.status == RunStatus.COMPLETED and run.state == {"n": 20}
    with pytest.raises(WorkflowError, match="already driven"):
        handle.result()
    with pytest.raises(WorkflowError, match="already driven"):
        handle.events()


def test_the_run_is_active_from_start_until_its_drive_ends(engine: Engine) -> None:
    gate = threading.Event()
    handle = engine.start(_graph(gate), {"n": 1})
    assert engine.active_run(handle.run_id) is handle.run  # claimed before any step
    events = handle.events()
    seen = [next(events).type]
    assert engine.active_run(handle.run_id) is handle.run
    assert [r.run_id for r in engine.active_runs()] == [handle.run_id]
    gate.set()
    seen += [event.type for event in events]
    assert seen[0] == EventType.RUN_STARTED and seen[-1] == EventType.RUN_FINISHED
    assert engine.active_run(handle.run_id) is None
    assert engine.active_runs() == []


def test_a_second_resume_of_an_active_run_is_refused(engine: Engine) -> None:
    run = engine.run(_graph(), {"n": 1}, interrupt_before=["second"])
    assert run.status == RunStatus.PAUSED
    first = engine.prepare_resume(run.run_id)
    with pytest.raises(RunActiveError, match="already running"):
        engine.prepare_resume(run.run_id)
    with pytest.raises(RunActiveError):
        engine.resume(run.run_id)
    assert first.result().status == RunStatus.COMPLETED
    assert engine.active_run(run.run_id) is None


def test_a_closed_or_dropped_handle_lets_the_run_go(engine: Engine) -> None:
    run = engine.run(_graph(), {"n": 1}, interrupt_before=["second"])
    handle = engine.prepare_resume(run.run_id)
    handle.close()
    assert engine.active_run(run.run_id) is None
    with pytest.raises(WorkflowError, match="closed"):
        handle.result()

    with engine.prepare_resume(run.run_id):  # a context manager closes it too
        assert engine.active_run(run.run_id) is not None
    assert engine.active_run(run.run_id) is None

    engine.prepare_resume(run.run_id)  # dropped at once, never driven
    gc.collect()
    assert engine.active_run(run.run_id) is None
    assert engine.resume(run.run_id).status == RunStatus.COMPLETED


def test_a_failed_prepare_does_not_leave_the_run_claimed(engine: Engine) -> None:
    run = engine.run(_graph(), {"n": 1})
    with pytest.raises(WorkflowError, match="already completed"):
        engine.prepare_resume(run.run_id)
    assert engine.active_run(run.run_id) is None


def test_engine_cancel_reaches_a_run_driven_through_its_handle(engine: Engine) -> None:
    gate = threading.Event()
    handle = engine.start(_graph(gate), {"n": 1})
    events = handle.events()
    next(events)
    cancelled = engine.cancel(handle.run_id)
    assert cancelled is handle.run and handle.run.cancel_requested
    gate.set()
    for _event in events:
        pass
    assert handle.run.status == RunStatus.CANCELLED
    assert engine.resume(handle.run_id).status == RunStatus.COMPLETED


def test_closing_the_event_iterator_early_cancels_and_releases(engine: Engine) -> None:
    gate = threading.Event()
    handle = engine.start(_graph(gate), {"n": 1})
    events = handle.events()
    next(events)
    gate.set()
    events.close()
    assert handle.run.status in (RunStatus.CANCELLED, RunStatus.COMPLETED)
    assert engine.active_run(handle.run_id) is None


def test_the_async_drives(engine: Engine) -> None:
    async def main() -> tuple[RunStatus, list[EventType]]:
        run = await engine.start(_graph(), {"n": 2}).aresult()
        types = [event.type async for event in engine.start(_graph(), {"n": 3}).aevents()]
        return run.status, types

    status, types = asyncio.run(main())
    assert status == RunStatus.COMPLETED
    assert types[0] == EventType.RUN_STARTED and types[-1] == EventType.RUN_FINISHED
    assert engine.active_runs() == []
