"""Graph endpoints: create from a spec, list, show, Mermaid."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from ..errors import WorkflowError
from ..graph import Graph
from ..graph_ids import GRAPH_ID_PATTERN, GraphIdTakenError, check_graph_id
from .context import ServerContext, context
from .errors import ApiError
from .jsonsafe import jsonable
from .models import (
    EdgeOut,
    GraphCreated,
    GraphList,
    GraphOut,
    GraphSpecIn,
    GraphSummary,
    MermaidOut,
)

log = logging.getLogger("wfengine.server")

router = APIRouter(tags=["graphs"])
Ctx = Annotated[ServerContext, Depends(context)]


@router.post("/graph/create", status_code=201, response_model=GraphCreated)
def create_graph(
    spec: GraphSpecIn,
    ctx: Ctx,
    graph_id: Annotated[
        str | None,
        Query(
            pattern=GRAPH_ID_PATTERN,
            description=(
                "Store under this id (replacing a graph stored under it); default: a new uuid"
            ),
        ),
    ] = None,
) -> GraphCreated:
    """Validate a declarative spec and store it; only registered tools and conditions."""
    data = spec.to_spec()
    ctx.limits.check_spec(data)
    if graph_id is not None:
        try:
            check_graph_id(graph_id, ctx.engine.workflows)
        except GraphIdTakenError as exc:
            raise ApiError(
                409, str(exc), type="graph_id_taken", details={"graph_id": graph_id}
            ) from None
    data = ctx.paths.spec(data)
    graph = _load(ctx, data)
    gid = ctx.engine.save_graph(data, graph_id)
    return GraphCreated(
        graph_id=gid,
        name=graph.name,
        nodes=list(graph.nodes),
        edges=[
            EdgeOut.model_validate(
                {
                    "from": list(e.sources),
                    "to": e.target,
                    "condition": e.label
                    if e.condition is not None or e.condition_spec is not None
                    else None,
                    "default": e.default,
                }
            )
            for e in graph.edges
        ],
    )


def _load(ctx: ServerContext, data: dict[str, object]) -> Graph:
    try:
        # the node limit counts subgraphs' nodes too (check_spec sees the top level only)
        return ctx.engine.load_spec(data, max_nodes=ctx.limits.max_nodes)
    except WorkflowError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
        # the spec loader should say SpecError; answer 422 rather than 500 if it slips
        log.warning("spec loader raised %s for a bad spec", type(exc).__name__, exc_info=True)
        raise ApiError(
            422,
            f"invalid spec: {type(exc).__name__}: {exc}",
            type="SpecError",
            details={"where": None},
        ) from None


@router.get("/graphs", response_model=GraphList)
def list_graphs(ctx: Ctx) -> GraphList:
    """Stored graphs, newest first (registered workflows: ``GET /workflows``)."""
    return GraphList(graphs=[GraphSummary(**g) for g in ctx.engine.store.list_graphs()])


@router.get("/graph/{graph_id}", response_model=GraphOut)
def get_graph(graph_id: str, ctx: Ctx) -> GraphOut:
    """A stored graph's spec, or a registered workflow's graph description."""
    if graph_id in ctx.engine.workflows:
        graph = ctx.engine.workflows.build(graph_id)
        return GraphOut(graph_id=graph_id, kind="workflow", spec=_describe(graph))
    spec = ctx.engine.store.get_graph(graph_id)
    if spec is None:
        raise _not_found(graph_id)
    return GraphOut(graph_id=graph_id, kind="stored", spec=jsonable(spec))


@router.get("/graph/{graph_id}/mermaid", response_model=MermaidOut)
def get_mermaid(graph_id: str, ctx: Ctx) -> MermaidOut:
    """The graph as a Mermaid flowchart."""
    ctx.runnable(graph_id)
    _, graph = ctx.engine.graph(graph_id)
    return MermaidOut(graph_id=graph_id, mermaid=graph.to_mermaid())


def _describe(graph: Graph) -> dict[str, object]:
    """A workflow's graph in the spec's shape (Python functions by qualified name)."""
    return dict(jsonable(graph.to_dict()))


def _not_found(graph_id: str) -> ApiError:
    return ApiError(
        404,
        f"no stored graph has the id {graph_id!r}; see GET /graphs",
        type="graph_not_found",
        details={"graph_id": graph_id},
    )
