"""Graphs for the composition crash tests: a subgraph and a map whose nodes record every call
in a side-effect file and SIGKILL their own process once (when no ``killed`` marker exists).

Run as a script by the tests: ``python compose_testgraphs.py CASE URL EFFECTS [RUN_ID]``;
without a run id it starts a run, with one it resumes it and prints the final status.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from sqlite_testgraphs import open_engine
from wfengine import END, Graph, Send


def recorder(effects: Path, label: str, *, kill: bool = False) -> Any:
    """A node appending ``label`` (and the doc, for map copies) to ``effects``; with ``kill``
    it SIGKILLs the process the first time (a ``.killed`` marker beside ``effects``)."""

    def node(state: dict[str, Any]) -> dict[str, Any]:
        doc = state.get("doc")
        text = label if doc is None else f"{label} {doc}"
        with effects.open("a") as f:
            f.write(text + "\n")
            f.flush()
        marker = effects.with_suffix(".killed")
        if kill and not marker.exists():
            marker.write_text("x")
            os.kill(os.getpid(), signal.SIGKILL)
        if doc is not None:
            return {"out": [doc * 10]}
        return {label.replace("/", "_"): True}

    return node


def subgraph_case(effects: Path) -> Graph:
    child = (
        Graph("review")
        .add_node("s1", recorder(effects, "review/s1"))
        .add_node("s2", recorder(effects, "review/s2", kill=True))
        .add_node("s3", recorder(effects, "review/s3"))
        .add_edge("s1", "s2")
        .add_edge("s2", "s3")
        .add_edge("s3", END)
        .set_entry_point("s1")
    )
    return (
        Graph("parent")
        .add_node("load", recorder(effects, "load"))
        .add_subgraph("review", child)
        .add_node("done", recorder(effects, "done"))
        .add_edge("load", "review")
        .add_edge("review", "done")
        .add_edge("done", END)
        .set_entry_point("load")
    )


def map_case(effects: Path) -> Graph:
    work = recorder(effects, "work")
    kill = recorder(effects, "work", kill=True)

    def copy(state: dict[str, Any]) -> dict[str, Any]:
        return (kill if state["doc"] == 5 else work)(state)

    return (
        Graph("map", reducers={"out": "extend"})
        .add_node(
            "split",
            lambda s: [Send("work", {"doc": d}) for d in s["docs"]],
            routes=["work"],
            max_parallel=1,  # copies 0-4 finish (and are kept) before copy 5 kills
        )
        .add_node("work", copy)
        .add_node("after", recorder(effects, "after"))
        .add_edge("split", "after")
        .add_edge("after", END)
        .set_entry_point("split")
    )


CASES = {"subgraph": subgraph_case, "map": map_case}


def main(case: str, url: str, effects: str, run_id: str | None = None) -> None:
    graph = CASES[case](Path(effects))
    with open_engine(url) as engine:
        if run_id is None:
            engine.run(graph, {"docs": list(range(10))})
        else:
            print(engine.resume(run_id, graph=graph).status)


if __name__ == "__main__":
    main(*sys.argv[1:])
