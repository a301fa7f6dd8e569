"""The graph of the SIGKILL test, and its child process: ``python pg_crashgraph.py URL
EFFECTS STEPS`` runs it on the store at URL, writing a line per node call to EFFECTS (before
the step commits), until it is killed."""

from __future__ import annotations

import os
import sys
from typing import Any

from wfengine import END, Engine, Graph


def counting(effects: str, steps: int) -> Graph:
    """``steps`` steps; each appends its number to ``seen`` and to the ``effects`` file."""

    def tick(state: dict[str, Any]) -> dict[str, Any]:
        i = state["i"] + 1
        fd = os.open(effects, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, f"{i}\n".encode())
        finally:
            os.close(fd)
        return {"i": i, "seen": i}

    graph = Graph("crash", reducers={"seen": "append"}, max_steps=steps + 5)
    graph.add_node("tick", tick).set_entry_point("tick")
    graph.add_edge("tick", "tick", condition=lambda s: s["i"] < steps)
    return graph.add_edge("tick", END, default=True)


if __name__ == "__main__":
    url, effects, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
    import wfengine_postgres.plugin

    with Engine(load_entrypoints=False, plugins=[wfengine_postgres.plugin], store=url) as engine:
        engine.run(counting(effects, steps), {"i": 0, "seen": []})
