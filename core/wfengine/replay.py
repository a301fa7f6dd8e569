"""Replay a recorded run's routing: ``wf runs replay run.wfrun`` and
:func:`wfengine.testing.assert_replays`.

No node runs. Starting from the recorded initial state, each step's recorded changes are
applied, then the graph routes as the engine would (its conditions on the state after the
step, joins included); the nodes it picks must be the ones the run went on to. The first step
where they differ is reported: a changed condition that would now route a real run elsewhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .execution import Execution
from .graph import Graph
from .growth import MERGE, TAIL, regrow
from .run import WorkflowRun
from .wfrun import read_run


def replay(source: str | Path | dict[str, Any], graph: Graph) -> dict[str, Any]:
    """Replay the run in ``source`` (a ``.wfrun`` path, or :func:`~wfengine.wfrun.read_run`
    data) on ``graph``: ``{run_id, steps, diverged}``, where ``diverged`` is ``None`` or
    ``{step, nodes, recorded, routed}`` for the first step whose route differs."""
    data = source if isinstance(source, dict) else read_run(source)
    run = WorkflowRun(graph_id=graph.name, state=dict(data["initial"]))
    router = Execution.router(graph, run)
    for item in data["steps"]:
        state = run.state
        for key, part in item["added"].items():
            state[key] = regrow(state.get(key), TAIL if isinstance(part, list) else MERGE, part)
        state.update(item["update"])
        nodes = list(item["nodes"])
        unknown = [n for n in nodes if n not in graph.nodes]
        routed = router.route(nodes, state) if not unknown else []
        recorded = list(item["next_nodes"])
        if unknown or routed != recorded:
            return {
                "run_id": data["run"]["run_id"],
                "steps": len(data["steps"]),
                "diverged": {
                    "step": item["step"],
                    "nodes": nodes,
                    "recorded": recorded,
                    "routed": routed,
                    "missing_nodes": unknown,
                },
            }
    return {"run_id": data["run"]["run_id"], "steps": len(data["steps"]), "diverged": None}
