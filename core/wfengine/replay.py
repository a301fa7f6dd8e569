"""Replay a recorded run's routing: ``wf runs replay run.wfrun`` and
:func:`wfengine.testing.assert_replays`.

No node runs. Starting from the recorded initial state, each step's recorded changes are
applied, then the graph routes as the engine would (its conditions on the state after the
step, joins included); the nodes it picks must be the ones the run went on to. The first step
where they differ is reported: a changed condition that would now route a real run elsewhere.

A step runs the nodes the step before went to (step 1: the entry point). What nodes chose
themselves is taken from the record, checked against the graph as it is now:

* a node that returned a :class:`~wfengine.compose.Command`: its recorded choice
  (``LogEntry.goto``) replaces its edges, and must still be among the node's ``routes``;
* the copies a node (or a spec map node) sent: each copy's node must still be among the
  routes of a node of the step; the sender's edges then route as recorded;
* a router's dispatch step (``source@send``): the router is run again on the state before
  the step (it is routing code, like a condition) and must send to the nodes the run's copies
  ran; their edges then route as recorded;
* a node paused by ``interrupt()`` and answered: its step is the one that committed;
* a state patch given on resume after step N (``wf runs resume -s``, a fork's edits) is
  applied to the state after step N's route is checked, as the run had it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import WorkflowError
from .execution import Execution
from .graph import END, Graph
from .growth import MERGE, TAIL, regrow
from .run import LogEntry, WorkflowRun
from .wfrun import read_run


class _Diverged(Exception):
    """This step routes elsewhere, for ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def replay(source: str | Path | dict[str, Any], graph: Graph) -> dict[str, Any]:
    """Replay the run in ``source`` (a ``.wfrun`` path, or :func:`~wfengine.wfrun.read_run`
    data) on ``graph``: ``{run_id, steps, diverged}``, where ``diverged`` is ``None`` or
    ``{step, nodes, recorded, routed, missing_nodes, reason}`` for the first step whose route
    differs (``reason``: why, when it is more than the next nodes differing)."""
    data = source if isinstance(source, dict) else read_run(source)
    run = WorkflowRun(graph_id=graph.name, state=dict(data["initial"]))
    router = Execution.router(graph, run)
    done = _completed_by_step(data["logs"])
    entry = graph.resolve(graph.entry_point) if graph.entry_point else None
    batch: list[str] | None = None
    patches: dict[int, list[Mapping[str, Any]]] = {}
    for patch in data["run"].get("patches") or []:  # step 0's are in the initial state
        if patch["step"] > 0:
            patches.setdefault(patch["step"], []).append(patch)
    for item in data["steps"]:
        nodes = list(item["nodes"])
        recorded = list(item["next_nodes"])
        if batch is None:  # step 1 runs the entry point (with any copies it sent)
            batch = [entry] if entry is not None and entry in nodes else nodes
        state = run.state
        unknown = [n for n in dict.fromkeys([*batch, *nodes]) if n not in graph.nodes]
        routed: list[str] = []
        reason = None
        if not unknown:
            try:
                ran = list(dict.fromkeys([*nodes, *done.get(item["step"], {})]))
                sent = _dispatched(router, batch, ran, state)
                _apply(state, item)
                _chosen(router, graph, batch, done.get(item["step"], {}))
                _copies(graph, batch, nodes)
                routed = router.route(router.routing(batch) if sent else batch, state)
            except _Diverged as exc:
                reason = exc.reason
            except Exception as exc:  # a condition that fails on the recorded state
                reason = f"routing failed: {type(exc).__name__}: {exc}"
            finally:
                router.goto.clear()
                router.sent.clear()
        if unknown or reason is not None or routed != recorded:
            return {
                "run_id": data["run"]["run_id"],
                "steps": len(data["steps"]),
                "diverged": {
                    "step": item["step"],
                    "nodes": nodes,
                    "recorded": recorded,
                    "routed": routed,
                    "missing_nodes": unknown,
                    "reason": reason,
                },
            }
        batch = recorded
        for patch in patches.get(item["step"], ()):  # given on resume after this step
            run.state.update(patch.get("values") or {})
    return {"run_id": data["run"]["run_id"], "steps": len(data["steps"]), "diverged": None}


def _completed_by_step(logs: list[LogEntry]) -> dict[int, dict[str, LogEntry]]:
    """Each step's last completed entry per node (a resumed step logs its nodes again)."""
    found: dict[int, dict[str, LogEntry]] = {}
    for entry in logs:
        if entry.status == "completed":
            found.setdefault(entry.step, {})[entry.node] = entry
    return found


def _apply(state: dict[str, Any], item: Mapping[str, Any]) -> None:
    """Apply a recorded step's changes to ``state``."""
    for key, part in item["added"].items():
        state[key] = regrow(state.get(key), TAIL if isinstance(part, list) else MERGE, part)
    state.update(item["update"])


def _dispatched(
    router: Execution, batch: list[str], ran: list[str], state: Mapping[str, Any]
) -> bool:
    """Set the nodes each router dispatch node of ``batch`` sends to (its router run again
    on the state before the step), after checking they are the nodes the run's copies ran
    (``ran``: the step's completed nodes)."""
    found = False
    graph = router.graph
    for name in batch:
        route = router.routes.get(name)
        if route is None or route.dispatch is None:
            continue
        found = True
        try:
            _update, sends = router._direction(name, graph.nodes[name].func(state))
        except WorkflowError as exc:
            raise _Diverged(str(exc)) from None
        now = list(dict.fromkeys(send.node for send in sends or ()))
        allowed = _routes(graph, name)
        went = [n for n in ran if n not in batch and n in allowed]
        if now != went:
            raise _Diverged(
                f"router {route.dispatch.name} of node '{route.dispatch.source}' now sends to "
                f"{now}, but the run's copies ran {went}"
            )
    return found


def _chosen(
    router: Execution, graph: Graph, batch: list[str], done: Mapping[str, LogEntry]
) -> None:
    """Set the recorded Command choices of ``batch``'s nodes, each still among its routes."""
    for name in batch:
        entry = done.get(name)
        if entry is None or entry.goto is None:
            continue
        allowed = _routes(graph, name)
        for target in entry.goto:
            if target not in allowed:
                raise _Diverged(
                    f"node '{name}' chose {target!r} (Command goto), which is no longer among "
                    f"its routes ({', '.join(graph.nodes[name].routes) or 'none declared'})"
                )
        router.goto[name] = list(entry.goto)


def _copies(graph: Graph, batch: list[str], nodes: list[str]) -> None:
    """Check every copy the step ran (a recorded node beyond ``batch``) is still among the
    routes of a node of the step."""
    allowed = {target for name in batch for target in _routes(graph, name)}
    for name in dict.fromkeys(nodes):
        if name not in batch and name not in allowed:
            senders = ", ".join(batch)
            raise _Diverged(
                f"the step ran copies of '{name}', which no node of the step ({senders}) "
                "declares among its routes any more"
            )


def _routes(graph: Graph, name: str) -> set[str]:
    """Node ``name``'s routes as node paths (``END`` kept)."""
    node = graph.nodes[name]
    if node.route_map is not None:
        return set(node.route_map.values())
    return {target if target == END else graph.resolve(target) for target in node.routes}
