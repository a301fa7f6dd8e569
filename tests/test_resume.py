"""Pause before nodes, resume after a pause or failure, cancel (issue 2, "Errors")."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from wfengine import END, Graph, MemoryStore, RunStatus, WorkflowError, WorkflowExecutor


def pipeline(review: Any = None) -> Graph:
    """prepare -> review -> publish -> END; ``review`` checks the state."""

    def default_review(state: dict[str, Any]) -> dict[str, Any]:
        return {"reviewed": True}

    return (
        Graph("pipeline")
        .add_node("prepare", lambda s: {"draft": s["text"].upper()})
        .add_node("review", review or default_review)
        .add_node("publish", lambda s: {"published": s["draft"]})
        .add_edge("prepare", "review")
        .add_edge("review", "publish")
        .add_edge("publish", END)
        .set_entry_point("prepare")
    )


# -- pause and resume ------------------------------------------------------------------------


def test_interrupt_before_pauses_and_resume_continues() -> None:
    executor = WorkflowExecutor(pipeline())
    run = executor.run({"text": "hi"}, interrupt_before=["review"])
    assert run.status == RunStatus.PAUSED
    assert run.state == {"text": "hi", "draft": "HI"}
    assert run.visited_nodes == ["prepare"]
    assert run.next_nodes == ["review"]
    assert run.error is None
    assert run.finished is not None

    resumed = executor.resume(run, {"draft": "HELLO"})
    assert resumed is run
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state == {"text": "hi", "draft": "HELLO", "reviewed": True, "published": "HELLO"}
    assert run.visited_nodes == ["prepare", "review", "publish"]
    assert [e.step for e in run.logs] == [1, 2, 3]


def test_interrupt_before_the_entry_point() -> None:
    executor = WorkflowExecutor(pipeline())
    run = executor.run({"text": "a"}, interrupt_before=["prepare"])
    assert run.status == RunStatus.PAUSED
    assert run.step == 0 and run.logs == []
    assert executor.resume(run).status == RunStatus.COMPLETED


def test_interrupt_in_a_loop_pauses_each_time_the_node_comes_round() -> None:
    graph = (
        Graph("loop")
        .add_node("work", lambda s: {"n": s["n"] + 1})
        .add_node("check", lambda s: None)
        .add_edge("work", "check")
        .add_edge("check", "work", condition=lambda s: s["n"] < 3)
        .add_edge("check", END, default=True)
        .set_entry_point("work")
    )
    executor = WorkflowExecutor(graph)
    run = executor.run({"n": 0}, interrupt_before=["check"])
    pauses = 0
    while run.status == RunStatus.PAUSED:
        pauses += 1
        assert run.next_nodes == ["check"]
        executor.resume(run)
    assert run.status == RunStatus.COMPLETED
    assert pauses == 3
    assert run.state == {"n": 3}


def test_interrupt_before_one_branch_of_a_fan_out_pauses_the_whole_step() -> None:
    graph = (
        Graph("fan")
        .add_node("start", lambda s: None)
        .add_node("a", lambda s: {"a": True})
        .add_node("b", lambda s: {"b": True})
        .add_edge("start", "a")
        .add_edge("start", "b")
        .add_edge("a", END)
        .add_edge("b", END)
        .set_entry_point("start")
    )
    executor = WorkflowExecutor(graph)
    run = executor.run({}, interrupt_before=["b"])
    assert run.status == RunStatus.PAUSED
    assert run.next_nodes == ["a", "b"]
    assert executor.resume(run).state == {"a": True, "b": True}


def test_interrupt_before_an_unknown_node_is_an_error() -> None:
    with pytest.raises(WorkflowError, match="unknown node.*reveiw"):
        WorkflowExecutor(pipeline()).run({"text": "x"}, interrupt_before=["reveiw"])


def test_async_pause_and_resume() -> None:
    async def review(state: dict[str, Any]) -> dict[str, Any]:
        return {"reviewed": state["draft"]}

    executor = WorkflowExecutor(pipeline(review))

    async def main() -> Any:
        run = await executor.arun({"text": "x"}, interrupt_before=["review"])
        assert run.status == RunStatus.PAUSED
        return await executor.aresume(run, {"draft": "Y"})

    run = asyncio.run(main())
    assert run.status == RunStatus.COMPLETED
    assert run.state["reviewed"] == "Y" and run.state["published"] == "Y"


# -- resume after a failure ------------------------------------------------------------------


def strict_review(state: dict[str, Any]) -> dict[str, Any]:
    if not state.get("approved"):
        raise PermissionError("not approved")
    return {"reviewed": True}


def test_resume_after_a_failure_reruns_the_failed_step_with_the_patch() -> None:
    executor = WorkflowExecutor(pipeline(strict_review))
    run = executor.run({"text": "x"})
    assert run.status == RunStatus.FAILED
    assert run.error is not None and run.error["node"] == "review"
    assert run.next_nodes == ["review"]

    executor.resume(run, {"approved": True})
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.error is None
    assert run.state["published"] == "X"
    assert run.visited_nodes == ["prepare", "review", "publish"]
    assert [(e.node, e.step, e.status) for e in run.logs] == [
        ("prepare", 1, "completed"),
        ("review", 2, "failed"),
        ("review", 2, "completed"),
        ("publish", 3, "completed"),
    ]


def test_resume_that_fails_again_stays_failed_and_resumable() -> None:
    executor = WorkflowExecutor(pipeline(strict_review))
    run = executor.run({"text": "x"})
    executor.resume(run)
    assert run.status == RunStatus.FAILED
    assert [e.status for e in run.logs if e.node == "review"] == ["failed", "failed"]
    executor.resume(run, {"approved": True})
    assert run.status == RunStatus.COMPLETED


def test_resume_after_a_step_limit_with_a_higher_limit() -> None:
    graph = (
        Graph("count")
        .add_node("inc", lambda s: {"n": s["n"] + 1})
        .add_edge("inc", "inc", condition=lambda s: s["n"] < 10)
        .add_edge("inc", END, default=True)
        .set_entry_point("inc")
    )
    executor = WorkflowExecutor(graph)
    run = executor.run({"n": 0}, max_steps=4)
    assert run.status == RunStatus.FAILED and run.state == {"n": 4}
    executor.resume(run, max_steps=100)
    assert run.status == RunStatus.COMPLETED
    assert run.state == {"n": 10}


def test_resume_of_a_completed_run_is_refused() -> None:
    executor = WorkflowExecutor(pipeline())
    run = executor.run({"text": "x"})
    with pytest.raises(WorkflowError, match="already completed"):
        executor.resume(run)


def test_resume_a_run_rebuilt_from_its_dict() -> None:
    from wfengine import WorkflowRun

    executor = WorkflowExecutor(pipeline(strict_review))
    failed = executor.run({"text": "x"})
    copy = WorkflowRun.from_dict(failed.to_dict())
    executor.resume(copy, {"approved": True})
    assert copy.status == RunStatus.COMPLETED
    assert copy.run_id == failed.run_id
    assert copy.state["published"] == "X"


def test_resume_after_a_failed_join_source_still_joins() -> None:
    attempts: list[int] = []

    def flaky_b(state: dict[str, Any]) -> dict[str, Any]:
        attempts.append(1)
        if not state.get("fixed"):
            raise RuntimeError("b broke")
        return {"b": True}

    graph = (
        Graph("join")
        .add_node("start", lambda s: None)
        .add_node("a", lambda s: {"a": True})
        .add_node("b", flaky_b)
        .add_node("c", lambda s: {"c": s["a"] and s["b"]})
        .add_edge("start", "a")
        .add_edge("start", "b")
        .add_edge(["a", "b"], "c")
        .add_edge("c", END)
        .set_entry_point("start")
    )
    executor = WorkflowExecutor(graph)
    run = executor.run({})
    assert run.status == RunStatus.FAILED
    executor.resume(run, {"fixed": True})
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state["c"] is True
    assert run.visited_nodes.count("c") == 1


# -- cancel ------------------------------------------------------------------------------------


def ticker(on_tick: Any = None) -> Graph:
    """``tick`` counts ``n`` up to 50; ``on_tick(n)`` is called in each step."""

    def tick(state: dict[str, Any]) -> dict[str, Any]:
        if on_tick is not None:
            on_tick(state["n"])
        return {"n": state["n"] + 1}

    return (
        Graph("ticker")
        .add_node("tick", tick)
        .add_edge("tick", "tick", condition=lambda s: s["n"] < 50)
        .add_edge("tick", END, default=True)
        .set_entry_point("tick")
    )


def test_cancel_from_another_thread_stops_between_steps_and_resume_finishes() -> None:
    reached, cancelled = threading.Event(), threading.Event()

    def on_tick(n: int) -> None:
        if n == 3:  # hold step 4 until the other thread has cancelled
            reached.set()
            assert cancelled.wait(5)

    executor = WorkflowExecutor(ticker(on_tick))
    run = executor.new_run({"n": 0})

    def canceller() -> None:
        assert reached.wait(5)
        executor.cancel(run)
        cancelled.set()

    other = threading.Thread(target=canceller)
    other.start()
    executor.run_existing(run)
    other.join(5)
    assert run.status == RunStatus.CANCELLED
    assert run.state["n"] == 4  # the step in progress finished, no further step ran
    assert run.state["n"] == run.step == len(run.logs)
    assert all(e.status == "completed" for e in run.logs)

    executor.resume(run)
    assert run.status == RunStatus.COMPLETED
    assert run.state == {"n": 50}
    assert len(run.logs) == 50


def test_cancel_from_inside_a_node_stops_before_the_next_step() -> None:
    holder: dict[str, Any] = {}

    def stopper(state: dict[str, Any]) -> dict[str, Any]:
        holder["run"].cancel()
        return {"stopped": True}

    graph = (
        Graph("g")
        .add_node("stopper", stopper)
        .add_node("after", lambda s: {"after": True})
        .add_edge("stopper", "after")
        .add_edge("after", END)
        .set_entry_point("stopper")
    )
    executor = WorkflowExecutor(graph)
    run = holder["run"] = executor.new_run({})
    executor.run_existing(run)
    assert run.status == RunStatus.CANCELLED
    assert run.state == {"stopped": True}  # the step in progress is kept
    assert run.next_nodes == ["after"]
    assert run.cancel_requested

    executor.resume(run)
    assert run.status == RunStatus.COMPLETED
    assert not run.cancel_requested
    assert run.state == {"stopped": True, "after": True}


def test_cancel_an_async_run_from_another_task() -> None:
    async def main() -> Any:
        reached, cancelled = asyncio.Event(), asyncio.Event()

        async def tick(state: dict[str, Any]) -> dict[str, Any]:
            if state["n"] == 3:
                reached.set()
                await asyncio.wait_for(cancelled.wait(), 5)
            return {"n": state["n"] + 1}

        graph = Graph("t").add_node("tick", tick).add_edge("tick", "tick")
        executor = WorkflowExecutor(graph.set_entry_point("tick"))
        run = executor.new_run({"n": 0})

        async def canceller() -> None:
            await asyncio.wait_for(reached.wait(), 5)
            run.cancel()
            cancelled.set()

        _, finished = await asyncio.gather(canceller(), executor.arun_existing(run))
        return finished

    run = asyncio.run(main())
    assert run.status == RunStatus.CANCELLED
    assert run.state == {"n": 4}


def test_cancel_before_the_run_starts_runs_nothing() -> None:
    executor = WorkflowExecutor(ticker())
    run = executor.new_run({"n": 0})
    run.cancel()
    executor.run_existing(run)
    assert run.status == RunStatus.CANCELLED
    assert run.logs == [] and run.state == {"n": 0}


def test_paused_run_is_kept_by_the_store_and_resumed_from_it() -> None:
    store = MemoryStore()
    executor = WorkflowExecutor(pipeline(), store=store)
    run = executor.run({"text": "x"}, interrupt_before=["publish"])
    stored = store.get_run(run.run_id)
    assert stored is not None and stored.status == RunStatus.PAUSED
    executor.resume(stored)
    final = store.get_run(run.run_id)
    assert final is not None and final.status == RunStatus.COMPLETED
    assert final.state["published"] == "X"
