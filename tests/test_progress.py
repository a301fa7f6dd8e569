"""Live output from inside nodes: ``wfengine.emit`` to events, hooks and nobody."""

from __future__ import annotations

import asyncio
from typing import Any

import wfengine
from wfengine import END, Engine, EventType, Graph, RunStatus, hookimpl


def counting(total: int) -> Graph:
    def work(state: dict[str, Any]) -> dict[str, Any]:
        for done in range(1, total + 1):
            wfengine.emit("progress", {"done": done, "total": total})
        return {"rows": total}

    return Graph("count").add_node("work", work).add_edge("work", END).set_entry_point("work")


def test_emit_reaches_the_stream_in_order_within_the_node() -> None:
    with Engine(load_entrypoints=False) as engine:
        events = list(engine.stream(counting(3)))
    kinds = [e.type for e in events]
    first = kinds.index(EventType.NODE_PROGRESS)
    assert kinds[first - 1] is EventType.NODE_STARTED
    assert kinds[first : first + 4] == [EventType.NODE_PROGRESS] * 3 + [EventType.NODE_FINISHED]
    progress = [e.to_dict() for e in events if e.type is EventType.NODE_PROGRESS]
    assert progress[-1]["kind"] == "progress" and progress[-1]["data"] == {"done": 3, "total": 3}
    assert {(p["node"], p["step"]) for p in progress} == {("work", 1)}


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, Any]] = []

    @hookimpl
    def wfengine_node_progress(self, node: str, kind: str, data: Any) -> None:
        self.seen.append((node, kind, data))


def test_emit_calls_the_node_progress_hook() -> None:
    recorder = Recorder()
    with Engine(plugins=[recorder], load_entrypoints=False) as engine:
        assert engine.run(counting(2)).status is RunStatus.COMPLETED
    assert recorder.seen == [
        ("work", "progress", {"done": 1, "total": 2}),
        ("work", "progress", {"done": 2, "total": 2}),
    ]


def test_emit_from_parallel_and_async_nodes_names_each_node() -> None:
    async def slow(state: dict[str, Any]) -> dict[str, Any]:
        wfengine.emit("token", "a")
        await asyncio.sleep(0)
        return {"a": 1}

    def quick(state: dict[str, Any]) -> dict[str, Any]:
        wfengine.emit("token", "b")
        return {"b": 1}

    graph = (
        Graph("par")
        .add_node("start", lambda s: {})
        .add_node("slow", slow)
        .add_node("quick", quick)
        .add_edge("start", "slow")
        .add_edge("start", "quick")
        .add_edge("slow", END)
        .add_edge("quick", END)
        .set_entry_point("start")
    )
    recorder = Recorder()
    with Engine(plugins=[recorder], load_entrypoints=False) as engine:
        assert engine.run(graph).status is RunStatus.COMPLETED
    assert sorted(recorder.seen) == [("quick", "token", "b"), ("slow", "token", "a")]


def test_emit_without_a_consumer_or_outside_a_node_does_nothing() -> None:
    wfengine.emit("progress", {"done": 1})  # outside any node
    with Engine(load_entrypoints=False) as engine:
        run = engine.run(counting(1000))
    assert run.status is RunStatus.COMPLETED and run.state == {"rows": 1000}


def test_a_failing_progress_hook_does_not_stop_the_run() -> None:
    class Broken:
        @hookimpl
        def wfengine_node_progress(self, kind: str) -> None:
            raise RuntimeError("observer bug")

    with Engine(plugins=[Broken()], load_entrypoints=False) as engine:
        assert engine.run(counting(2)).status is RunStatus.COMPLETED


def test_wf_run_draws_a_progress_bar_for_data_with_a_total() -> None:
    import io

    from wfengine.cli.output import LiveDisplay, progress_bar

    assert progress_bar(250, 1000) == " [#####---------------]  25%  250/1,000"
    out = io.StringIO()
    display = LiveDisplay(out, tty=True, nodes=["work"])
    with Engine(load_entrypoints=False) as engine:
        for event in engine.stream(counting(4)):
            display.handle(event)
    text = out.getvalue()
    assert "work (step 1) [####################] 100%  4/4" in text
    assert "25%  1/4" in text  # the first emit drew; 2/4 and 3/4 came within 0.1 s
    assert text.split("\r\x1b[K")[-1].startswith("  ok step 1    work")  # bar cleared
