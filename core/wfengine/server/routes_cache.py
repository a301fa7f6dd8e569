"""Cached node results (``docs/caching.md``): ``GET /cache`` and ``DELETE /cache``, as
``wf cache list|clear``. A store without the :class:`~wfengine.storage.CacheStore` capability
is answered ``501`` (error type ``cache_unsupported``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from ..run import iso
from ..storage import CacheStore
from .context import ServerContext, context
from .errors import ApiError
from .models import ErrorResponse

router = APIRouter(tags=["cache"])
Ctx = Annotated[ServerContext, Depends(context)]
GraphFilter = Annotated[
    str | None, Query(max_length=256, description="Only entries of this graph.")
]
_ERRORS: dict[int | str, dict[str, Any]] = {
    501: {"model": ErrorResponse, "description": "The store keeps no cache"},
}


class CacheEntryOut(BaseModel):
    """One cached node result, without the result itself."""

    key: str
    graph_id: str
    node: str
    created_at: str | None
    ttl: float | None
    parts: dict[str, Any]


class CacheList(BaseModel):
    """Cached node results, newest first."""

    entries: list[CacheEntryOut]


class CacheCleared(BaseModel):
    """How many cached results were forgotten."""

    cleared: int


def _cache(ctx: ServerContext) -> CacheStore:
    store = ctx.engine.store
    if not isinstance(store, CacheStore):
        raise ApiError(
            501,
            f"the store {type(store).__name__} keeps no cache (memory:// and sqlite:// do)",
            type="cache_unsupported",
        )
    return store


@router.get("/cache", response_model=CacheList, responses=_ERRORS)
def list_cache(ctx: Ctx, graph_id: GraphFilter = None) -> CacheList:
    """Cached node results, newest first: graph, node, when, what the key holds."""
    entries = _cache(ctx).list_cache_entries(graph_id)
    return CacheList(
        entries=[
            CacheEntryOut(
                key=e["key"],
                graph_id=e["graph_id"],
                node=e["node"],
                created_at=iso(e["created"]),
                ttl=e.get("ttl"),
                parts=e.get("parts") or {},
            )
            for e in entries
        ]
    )


@router.delete("/cache", response_model=CacheCleared, responses=_ERRORS)
def clear_cache(ctx: Ctx, graph_id: GraphFilter = None) -> CacheCleared:
    """Forget cached node results: all, or one graph's."""
    return CacheCleared(cleared=_cache(ctx).clear_cache(graph_id))
