"""Async and mixed graphs: ``arun``, ``astream``, async fan-out (issue 2, "Execution").

pytest-asyncio is not a test dependency of the engine, so each test drives its own loop
with ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from wfengine import END, EventType, Graph, RunStatus, WorkflowExecutor


async def adouble(state: dict[str, Any]) -> dict[str, Any]:
    await asyncio.sleep(0)
    return {"value": state["value"] * 2}


async def aadd_five(state: dict[str, Any]) -> dict[str, Any]:
    await asyncio.sleep(0)
    return {"value": state["value"] + 5}


def add_five(state: dict[str, Any]) -> dict[str, Any]:
    return {"value": state["value"] + 5}


def two_step(first: Any, second: Any) -> Graph:
    return (
        Graph("two")
        .add_node("A", first)
        .add_node("B", second)
        .add_edge("A", "B")
        .add_edge("B", END)
        .set_entry_point("A")
    )


def test_async_only_graph_with_arun() -> None:
    run = asyncio.run(WorkflowExecutor(two_step(adouble, aadd_five)).arun({"value": 10}))
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state == {"value": 25}
    assert run.visited_nodes == ["A", "B"]
    assert [(e.node, e.status) for e in run.logs] == [("A", "completed"), ("B", "completed")]


def test_async_only_graph_with_the_sync_run() -> None:
    run = WorkflowExecutor(two_step(adouble, aadd_five)).run({"value": 10})
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state == {"value": 25}


def test_mixed_graph_sync_and_async_nodes() -> None:
    executor = WorkflowExecutor(two_step(adouble, add_five))
    assert executor.run({"value": 10}).state == {"value": 25}
    assert asyncio.run(executor.arun({"value": 10})).state == {"value": 25}


def test_sync_only_graph_with_arun_runs_nodes_off_the_event_loop() -> None:
    loop_thread: list[int] = []
    node_thread: list[int] = []

    def record(state: dict[str, Any]) -> dict[str, Any]:
        node_thread.append(threading.get_ident())
        return {"value": state["value"] * 2}

    async def main() -> Any:
        loop_thread.append(threading.get_ident())
        return await WorkflowExecutor(two_step(record, add_five)).arun({"value": 10})

    run = asyncio.run(main())
    assert run.state == {"value": 25}
    assert node_thread and node_thread[0] != loop_thread[0]


def test_sync_run_of_an_async_graph_inside_a_running_loop() -> None:
    async def main() -> Any:
        return WorkflowExecutor(two_step(adouble, aadd_five)).run({"value": 1})

    run = asyncio.run(main())
    assert run.status == RunStatus.COMPLETED
    assert run.state == {"value": 7}


def test_async_node_mutating_its_input_does_not_corrupt_the_run() -> None:
    async def vandal(state: dict[str, Any]) -> None:
        state["value"] = -1

    run = asyncio.run(WorkflowExecutor(two_step(vandal, aadd_five)).arun({"value": 1}))
    assert run.state == {"value": 6}


def test_async_node_error_fails_the_run() -> None:
    async def boom(state: dict[str, Any]) -> None:
        raise LookupError("nothing here")

    run = asyncio.run(WorkflowExecutor(two_step(adouble, boom)).arun({"value": 1}))
    assert run.status == RunStatus.FAILED
    assert run.error is not None
    assert run.error["type"] == "LookupError" and run.error["node"] == "B"
    assert run.error["step"] == 2
    assert run.logs[-1].state_before == {"value": 2}


def test_callable_object_with_async_call_is_awaited() -> None:
    class Doubler:
        async def __call__(self, state: dict[str, Any]) -> dict[str, Any]:
            return {"value": state["value"] * 2}

    graph = two_step(Doubler(), add_five)
    assert graph.nodes["A"].is_async
    assert WorkflowExecutor(graph).run({"value": 10}).state == {"value": 25}


# -- async fan-out -------------------------------------------------------------------------


def fan_out(**branches: Any) -> Graph:
    graph = Graph("fan").add_node("start", lambda s: None).set_entry_point("start")
    for name, func in branches.items():
        graph.add_node(name, func).add_edge("start", name).add_edge(name, END)
    return graph


def test_async_branches_overlap_on_the_event_loop() -> None:
    async def main() -> Any:
        barrier = asyncio.Barrier(2)

        def branch(name: str) -> Any:
            async def node(state: dict[str, Any]) -> dict[str, Any]:
                await asyncio.wait_for(barrier.wait(), 5)
                return {name: threading.get_ident()}

            return node

        executor = WorkflowExecutor(fan_out(left=branch("left"), right=branch("right")))
        return await executor.arun({}), threading.get_ident()

    run, loop_thread = asyncio.run(main())
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state == {"left": loop_thread, "right": loop_thread}


def test_async_and_sync_branches_overlap() -> None:
    both_started = threading.Barrier(2, timeout=5)

    def sync_branch(state: dict[str, Any]) -> dict[str, Any]:
        both_started.wait()
        return {"sync": True}

    async def async_branch(state: dict[str, Any]) -> dict[str, Any]:
        # wait in a thread so the loop stays free while the sync branch arrives
        await asyncio.to_thread(both_started.wait)
        return {"async": True}

    graph = fan_out(sync=sync_branch, asyncb=async_branch)
    run = WorkflowExecutor(graph).run({})
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state == {"sync": True, "async": True}


def test_async_join_waits_for_both_sources() -> None:
    order: list[str] = []

    async def slow(state: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0.02)
        order.append("slow")
        return {"slow": 1}

    async def fast(state: dict[str, Any]) -> dict[str, Any]:
        order.append("fast")
        return {"fast": 2}

    async def joined(state: dict[str, Any]) -> dict[str, Any]:
        order.append("joined")
        return {"sum": state["slow"] + state["fast"]}

    graph = (
        Graph("join")
        .add_node("start", lambda s: None)
        .add_node("slow", slow)
        .add_node("fast", fast)
        .add_node("joined", joined)
        .add_edge("start", "slow")
        .add_edge("start", "fast")
        .add_edge(["slow", "fast"], "joined")
        .add_edge("joined", END)
        .set_entry_point("start")
    )
    run = asyncio.run(WorkflowExecutor(graph).arun({}))
    assert run.status == RunStatus.COMPLETED, run.error
    assert order == ["fast", "slow", "joined"]
    assert run.state == {"slow": 1, "fast": 2, "sum": 3}


def test_async_conflicting_writes_fail_the_run() -> None:
    async def left(state: dict[str, Any]) -> dict[str, Any]:
        return {"k": 1}

    async def right(state: dict[str, Any]) -> dict[str, Any]:
        return {"k": 2}

    run = asyncio.run(WorkflowExecutor(fan_out(left=left, right=right)).arun({}))
    assert run.status == RunStatus.FAILED
    assert run.error is not None and run.error["type"] == "StateConflictError"
    assert "'left'" in run.error["message"] and "'right'" in run.error["message"]


# -- astream --------------------------------------------------------------------------------


def test_astream_yields_events_in_order() -> None:
    async def main() -> list[Any]:
        executor = WorkflowExecutor(two_step(adouble, add_five))
        return [event async for event in executor.astream({"value": 10})]

    events = asyncio.run(main())
    assert [(e.type, e.node) for e in events] == [
        (EventType.RUN_STARTED, None),
        (EventType.NODE_STARTED, "A"),
        (EventType.NODE_FINISHED, "A"),
        (EventType.STEP_FINISHED, None),
        (EventType.NODE_STARTED, "B"),
        (EventType.NODE_FINISHED, "B"),
        (EventType.STEP_FINISHED, None),
        (EventType.RUN_FINISHED, None),
    ]
    assert events[-1].data["status"] == "completed"
    assert events[2].data["update"] == {"value": 20}
    assert events[3].data["next_nodes"] == ["B"]
    assert len({e.run_id for e in events}) == 1


def test_astream_delivers_node_started_before_a_slow_node_finishes() -> None:
    finish = asyncio.Event()

    async def slow(state: dict[str, Any]) -> dict[str, Any]:
        await asyncio.wait_for(finish.wait(), 5)
        return {"done": True}

    async def main() -> list[Any]:
        executor = WorkflowExecutor(
            Graph("slow").add_node("slow", slow).add_edge("slow", END).set_entry_point("slow")
        )
        seen = []
        async for event in executor.astream({}):
            seen.append(event.type)
            if event.type == EventType.NODE_STARTED:
                assert not finish.is_set()
                finish.set()  # only now may the node finish
        return seen

    seen = asyncio.run(main())
    assert seen[-1] == EventType.RUN_FINISHED
    assert EventType.NODE_FINISHED in seen


def test_astream_closed_early_cancels_the_run() -> None:
    calls: list[int] = []

    async def spin(state: dict[str, Any]) -> dict[str, Any]:
        calls.append(1)
        await asyncio.sleep(0.001)
        return {"n": state["n"] + 1}

    graph = Graph("spin").add_node("spin", spin).add_edge("spin", "spin").set_entry_point("spin")
    executor = WorkflowExecutor(graph)

    async def main() -> Any:
        run = executor.new_run({"n": 0})
        stream = executor.astream(run=run)
        async for event in stream:
            if event.type == EventType.STEP_FINISHED:
                break
        await stream.aclose()
        return run

    start = time.perf_counter()
    run = asyncio.run(main())
    assert time.perf_counter() - start < 5
    assert run.status == RunStatus.CANCELLED  # not failed at the step limit
    assert run.step < 1000


def test_stream_of_an_async_graph() -> None:
    events = list(WorkflowExecutor(two_step(adouble, aadd_five)).stream({"value": 10}))
    assert events[0].type == EventType.RUN_STARTED
    assert events[-1].type == EventType.RUN_FINISHED
    assert events[-1].data["status"] == "completed"
    assert [e.node for e in events if e.type == EventType.NODE_FINISHED] == ["A", "B"]


def test_sync_node_timeout_in_a_mixed_graph() -> None:
    release = threading.Event()

    def stuck(state: dict[str, Any]) -> None:
        release.wait(10)

    graph = (
        Graph("mixed")
        .add_node("A", adouble)
        .add_node("stuck", stuck, timeout=0.05)
        .add_edge("A", "stuck")
        .add_edge("stuck", END)
        .set_entry_point("A")
    )
    start = time.perf_counter()
    try:
        run = asyncio.run(WorkflowExecutor(graph).arun({"value": 1}))
    finally:
        release.set()
    assert time.perf_counter() - start < 2
    assert run.status == RunStatus.FAILED
    assert run.error is not None
    assert run.error["type"] == "NodeTimeoutError" and run.error["node"] == "stuck"
    assert run.state == {"value": 2}
