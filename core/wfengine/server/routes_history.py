"""History endpoints: a run's steps, its state at a step, diffs, blame, forks.

They read the store's :class:`~wfengine.storage.HistoryStore` capability through
:mod:`wfengine.history` (as ``wf runs history/show --step/diff/blame/fork`` do); a store
without it is answered ``501`` (error type ``HistoryUnsupportedError``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from .. import history
from .context import ServerContext, context
from .errors import ApiError
from .jsonsafe import SafeJSONResponse
from .models import ErrorResponse, RunResult
from .routes_runs import _accepted, _get_run

router = APIRouter(tags=["history"])
Ctx = Annotated[ServerContext, Depends(context)]
_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse},
    501: {"model": ErrorResponse, "description": "The store keeps no history"},
}
Step = Annotated[int, Query(ge=0, le=10**12)]


class ForkRequest(BaseModel):
    """Fork a run after ``step`` into a new run, patch its state, and drive it."""

    step: int = Field(ge=0, le=10**12)
    state_patch: dict[str, Any] | None = None
    wait: bool = False
    max_steps: int | None = Field(default=None, ge=1)


def _check_step(run_id: str, step: int, last: int) -> None:
    if step > last:
        raise ApiError(
            404,
            f"run {run_id} has no step {step}; its last step is {last}",
            type="step_not_found",
            details={"run_id": run_id, "step": step, "last_step": last},
        )


@router.get("/runs/{run_id}/history", responses=_ERRORS)
def run_history(run_id: str, ctx: Ctx) -> Any:
    """Every committed step: node(s), changed keys, next nodes, attempts, duration."""
    run = _get_run(ctx, run_id)
    rows = history.step_rows(ctx.engine.store, run)
    return SafeJSONResponse({"run_id": run_id, "steps": rows})


@router.get("/runs/{run_id}/state", responses=_ERRORS)
def run_state_at(run_id: str, ctx: Ctx, step: Step) -> Any:
    """The state right after ``step`` (0: the initial state)."""
    run = _get_run(ctx, run_id)
    _check_step(run_id, step, run.step)
    state = history.history_store(ctx.engine.store).state_at(run_id, step)
    return SafeJSONResponse({"run_id": run_id, "step": step, "state": state})


@router.get("/runs/{run_id}/diff", responses=_ERRORS)
def run_diff(
    run_id: str,
    ctx: Ctx,
    start: Annotated[int | None, Query(alias="from", ge=0, le=10**12)] = None,
    end: Annotated[int | None, Query(alias="to", ge=0, le=10**12)] = None,
    other: Annotated[str | None, Query(max_length=256)] = None,
) -> Any:
    """The state key by key between steps ``from`` and ``to`` (default: 0 and the last), or
    with ``other=RUN_ID`` the first step where two runs part."""
    run = _get_run(ctx, run_id)
    store = ctx.engine.store
    if other is not None:
        if start is not None or end is not None:
            raise ApiError(422, "give other=RUN_ID, or from/to; not both", type="invalid_query")
        _get_run(ctx, other)
        return SafeJSONResponse(history.diff_runs(store, run_id, other))
    first = 0 if start is None else start
    last = run.step if end is None else end
    _check_step(run_id, max(first, last), run.step)
    return SafeJSONResponse(history.diff_steps(store, run_id, first, last))


@router.get("/runs/{run_id}/blame/{key}", responses=_ERRORS)
def run_blame(run_id: str, key: str, ctx: Ctx) -> Any:
    """Every write of state key ``key``: step, node(s), how (set/added), digest, value."""
    run = _get_run(ctx, run_id)
    writes = history.blame(ctx.engine.store, run, key)
    return SafeJSONResponse({"run_id": run_id, "key": key, "writes": writes})


@router.post(
    "/runs/{run_id}/fork",
    response_model=RunResult,
    responses={**_ERRORS, 202: {"description": "The fork runs in the background"}},
)
def fork_run(run_id: str, body: ForkRequest, ctx: Ctx) -> Any:
    """A new run going on from ``step`` of this one (with ``state_patch``), linked to it;
    to its end (``wait: true``) or in the background (``202``). The old run is unchanged."""
    ctx.limits.check_max_steps(body.max_steps)
    patch = ctx.paths.state(body.state_patch, "state_patch") if body.state_patch else None
    if patch:
        ctx.limits.check_state(patch, "state_patch")
    run = _get_run(ctx, run_id)
    _check_step(run_id, body.step, run.step)
    ctx.runnable(run.graph_id)
    fork = history.history_store(ctx.engine.store).fork_run(run_id, body.step)
    if body.wait:
        done = ctx.engine.resume(fork.run_id, patch, max_steps=body.max_steps)
        return SafeJSONResponse(RunResult.data(done, ctx.expose_tracebacks))
    return _accepted(ctx.runs.resume(fork.run_id, patch, max_steps=body.max_steps))
