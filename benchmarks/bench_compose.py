"""Composition overhead: a map (``Send`` fan-out) over 10,000 trivial items, and a subgraph
node against the same node inline.

The engine's time per item, less a plain Python loop calling the same function on the same
items, is the map's overhead per copy (target: at most 20 us per item on threads, memory
store; SQLite reported separately when the plugin is installed). The best of a few repeats
is kept (a shared machine). A subgraph node (a one-node child graph) in a 2-node loop of
10,000 calls, against the node inline: target at most 5 us more per call.

    python benchmarks/bench_compose.py

With LangGraph importable (a benchmark-only venv; it is not a dependency), the same map
through LangGraph's ``Send`` is measured next to it.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from wfengine import END, Engine, Graph, Send

ITEMS = 10_000
REPEATS = 3


def best(fn: Callable[[], Any], repeats: int = REPEATS) -> float:
    """The fastest of ``repeats`` timings of ``fn()``, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def work(state: dict[str, Any]) -> dict[str, Any]:
    return {"out": [state["doc"] + 1]}


def map_graph(max_parallel: int | None) -> Graph:
    return (
        Graph("map", reducers={"out": "extend"})
        .add_node(
            "split",
            lambda s: [Send("work", {"doc": d}) for d in s["docs"]],
            routes=["work"],
            max_parallel=max_parallel,
        )
        .add_node("work", work)
        .add_edge("split", END)
        .set_entry_point("split")
    )


def router_graph(max_parallel: int | None) -> Graph:
    """The same map through a router (``add_router``): the copies run in the next step."""
    return (
        Graph("router-map", reducers={"out": "extend"})
        .add_node("split", lambda s: None)
        .add_node("work", work)
        .add_router(
            "split",
            lambda s: [Send("work", {"doc": d}) for d in s["docs"]],
            ["work"],
            max_parallel=max_parallel,
        )
        .add_edge("work", END)
        .set_entry_point("split")
    )


def baseline(docs: list[int]) -> list[int]:
    out: list[int] = []
    for d in docs:
        out.extend(work({"doc": d})["out"])
    return out


def measure(
    store: str, max_parallel: int | None, plugins: list[Any], build: Any = map_graph
) -> float:
    """Engine overhead per item, in microseconds."""
    docs = list(range(ITEMS))
    engine = Engine(load_entrypoints=False, plugins=plugins, store=store)
    graph = build(max_parallel)
    try:

        def once() -> None:
            run = engine.run(graph, {"docs": docs})
            assert run.status == "completed" and len(run.state["out"]) == ITEMS, run.error

        spent = best(once)
    finally:
        engine.close()
    plain = best(lambda: baseline(docs))
    return (spent - plain) / ITEMS * 1e6


CALLS = 10_000


def inc(state: dict[str, Any]) -> dict[str, Any]:
    return {"i": state["i"] + 1}


def loop(inner: Graph | None) -> Graph:
    """``a`` then ``b`` (inline, or a subgraph holding ``b``), ``CALLS`` times."""
    graph = Graph("loop").add_node("a", lambda s: None)
    if inner is None:
        graph.add_node("b", inc)
    else:
        graph.add_subgraph("b", inner)
    return (
        graph.add_edge("a", "b")
        .add_edge("b", "a", condition=lambda s: s["i"] < CALLS)
        .add_edge("b", END, default=True)
        .set_entry_point("a")
    )


def subgraph_overhead() -> float:
    """What a subgraph node adds per call over the same node inline, in microseconds."""
    child = Graph("child").add_node("b", inc).add_edge("b", END).set_entry_point("b")
    engine = Engine(load_entrypoints=False, store="memory://")
    try:
        times = {}
        for label, graph in (("inline", loop(None)), ("subgraph", loop(child))):

            def once(graph: Graph = graph) -> None:
                run = engine.run(graph, {"i": 0}, max_steps=4 * CALLS)
                assert run.status == "completed" and run.state["i"] == CALLS, run.error

            times[label] = best(once)
    finally:
        engine.close()
    return (times["subgraph"] - times["inline"]) / CALLS * 1e6


def langgraph_overhead() -> float | None:
    """LangGraph's ``Send`` map over the same items, per item over the plain loop (us), or
    ``None`` when LangGraph is not installed."""
    try:
        import operator
        from typing import Annotated, TypedDict

        from langgraph.graph import END as LG_END
        from langgraph.graph import START, StateGraph
        from langgraph.types import Send as LGSend
    except ImportError:
        return None

    # the functional form: its hints are objects, not strings (this module has
    # `from __future__ import annotations`, which LangGraph's schema reader cannot resolve)
    docs_state = TypedDict(  # type: ignore[misc]  # noqa: UP013
        "docs_state", {"docs": list[int], "out": Annotated[list[int], operator.add]}
    )
    builder = StateGraph(docs_state)
    builder.add_node("work", work)
    builder.add_conditional_edges(
        START, lambda s: [LGSend("work", {"doc": d}) for d in s["docs"]], ["work"]
    )
    builder.add_edge("work", LG_END)
    app = builder.compile()
    docs = list(range(ITEMS))
    spent = best(lambda: app.invoke({"docs": docs, "out": []}))
    return (spent - best(lambda: baseline(docs))) / ITEMS * 1e6


def main() -> int:
    rows = [("memory://", None, [], map_graph), ("memory://", 8, [], map_graph)]
    rows.append(("memory://", 8, [], router_graph))
    try:
        import wfengine_sqlite.plugin

        folder = tempfile.mkdtemp(prefix="bench-compose-")
        rows.append((f"sqlite:///{folder}/runs.db", 8, [wfengine_sqlite.plugin], map_graph))
    except ImportError:
        print("(wfengine-sqlite not installed: SQLite row skipped)")
    failed = False
    print(f"{'case':56} {'overhead':>12}")
    for store, limit, plugins, build in rows:
        overhead = measure(store, limit, plugins, build)
        kind = store.split(":")[0]
        target = " (target <= 20 us)" if kind == "memory" else ""
        failed |= kind == "memory" and overhead > 20
        how = "router map" if build is router_graph else "map"
        label = f"{how} over {ITEMS:,} items, {kind}, max_parallel={limit}"
        print(f"{label:56} {overhead:9.2f} us   per item{target}")
    extra = subgraph_overhead()
    failed |= extra > 5
    label = f"subgraph node vs inline, {CALLS:,} calls, memory"
    print(f"{label:56} {extra:9.2f} us   per call (target <= 5 us)")
    theirs = langgraph_overhead()
    if theirs is None:
        print("(langgraph not installed: the Send comparison is skipped)")
    else:
        label = f"LangGraph Send map over {ITEMS:,} items"
        print(f"{label:56} {theirs:9.2f} us   per item")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
