"""Run endpoints: start (waiting or in the background), inspect, list, resume, cancel."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from ..errors import RunActiveError, WorkflowError
from ..interrupts import NO_ANSWER, AnswerError
from ..run import RunStatus, WorkflowRun
from ..submit import QueueUnsupportedError
from .context import ServerContext, context
from .errors import ApiError
from .jsonsafe import SafeJSONResponse
from .models import (
    CancelResult,
    ErrorResponse,
    ResumeRequest,
    RunAccepted,
    RunLogs,
    RunPage,
    RunRequest,
    RunResult,
    RunStateOut,
    RunSummary,
    log_entries,
)

router = APIRouter(tags=["runs"])
Ctx = Annotated[ServerContext, Depends(context)]
_ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {"model": RunAccepted, "description": "Running in the background"}
}


@router.post("/graph/run", response_model=RunResult, responses=_ACCEPTED)
async def run_graph(body: RunRequest, request: Request) -> Any:
    """Run a stored graph or registered workflow: to its end (``wait: true``), in the
    background (``wait: false``, answered ``202`` at once), or queued for a worker
    (``queue: true``, answered ``202 {run_id, status: "queued"}`` at once)."""
    # The hot path: no Depends, one hop to the server's run threads for everything else. No
    # run executes on the event loop, however fast its graph was before: a client controls
    # how long a run takes, and the loop serves every other client (hardening F4).
    ctx: ServerContext = request.app.state.wfengine
    return await ctx.in_thread(_run_graph, ctx, body, _content_length(request))


def _run_graph(ctx: ServerContext, body: RunRequest, body_bytes: int | None) -> Response:
    ctx.runnable(body.graph_id)
    ctx.limits.check_max_steps(body.max_steps)
    state = ctx.paths.state(body.initial_state, "initial_state")
    ctx.limits.check_state(state, "initial_state", body_bytes=body_bytes)
    if body.queue:
        return _submit(ctx, body, state)
    if body.wait:
        run = ctx.engine.run(body.graph_id, state, **body.run_options())
        return SafeJSONResponse(RunResult.data(run, ctx.expose_tracebacks))
    run = ctx.runs.start(body.graph_id, state, **body.run_options())
    return _accepted(run)


def _submit(ctx: ServerContext, body: RunRequest, state: dict[str, Any]) -> Response:
    """``queue: true``: store the run as queued for a worker; 202 with its id."""
    if body.wait and "wait" in body.model_fields_set:
        raise ApiError(
            422,
            "queue: true stores the run for a worker and answers at once; it cannot also "
            "wait: true for the run to end (leave wait out, or follow the run at "
            "/ws/runs/{run_id})",
            type="queue_and_wait",
            details={"fields": ["queue", "wait"]},
        )
    try:
        run_id = ctx.engine.submit(body.graph_id, state, **body.run_options())
    except QueueUnsupportedError as exc:
        raise ApiError(422, str(exc), type="queue_unsupported") from None
    if ctx.feed.listeners() and (queued := ctx.engine.store.get_run(run_id)) is not None:
        ctx.feed.publish(queued)  # no run hook fires for a run stored for a worker
    body_out = RunAccepted(run_id=run_id, graph_id=body.graph_id, status=RunStatus.QUEUED)
    return JSONResponse(
        body_out.model_dump(mode="json"),
        status_code=202,
        headers={"Location": f"/graph/state/{run_id}"},
    )


@router.get("/graph/state/{run_id}", response_model=RunStateOut)
def run_state(run_id: str, ctx: Ctx) -> RunStateOut:
    """A run's status, the node(s) it runs next, its state, visited nodes, step and error."""
    return RunStateOut.of(_get_run(ctx, run_id), ctx.expose_tracebacks)


@router.get("/runs/{run_id}/logs", response_model=RunLogs)
def run_logs(run_id: str, ctx: Ctx) -> RunLogs:
    """One log entry per node attempt: node, step, attempt, start, duration, status, error."""
    run = _get_run(ctx, run_id)
    return RunLogs(run_id=run.run_id, logs=log_entries(run, ctx.expose_tracebacks))


@router.get("/runs", response_model=RunPage)
def list_runs(
    ctx: Ctx,
    graph_id: Annotated[str | None, Query(max_length=256)] = None,
    status: RunStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: Annotated[str | None, Query(max_length=256)] = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    q: Annotated[str | None, Query(max_length=256)] = None,
) -> RunPage:
    """Runs newest first, filtered by graph, status, creation time (``created_after``
    inclusive, ``created_before`` exclusive; ISO 8601, UTC when no offset is given) and ``q``
    (text in the run id, error type or error message, ignoring case); page with ``cursor``."""
    filters: dict[str, Any] = {}
    if created_after is not None:
        filters["created_after"] = _epoch(created_after)
    if created_before is not None:
        filters["created_before"] = _epoch(created_before)
    if q:
        filters["search"] = q
    try:
        page, next_cursor = ctx.engine.store.list_runs(
            graph_id=graph_id,
            status=status.value if status else None,
            limit=limit,
            cursor=cursor,
            logs=False,
            **filters,
        )
    except (ValueError, TypeError) as exc:
        raise ApiError(
            422,
            f"invalid cursor {cursor!r}: pass the next_cursor of a previous page",
            type="invalid_cursor",
            details={"cursor": cursor},
        ) from exc
    return RunPage(runs=[RunSummary.of(run) for run in page], next_cursor=next_cursor)


@router.post(
    "/runs/{run_id}/resume",
    response_model=RunResult,
    responses={**_ACCEPTED, 409: {"model": ErrorResponse}},
)
def resume_run(run_id: str, ctx: Ctx, body: ResumeRequest | None = None) -> Any:
    """Continue a paused, failed or cancelled run from its last completed step, optionally
    replacing state keys first; in the background unless ``wait: true``."""
    body = body or ResumeRequest()
    ctx.limits.check_max_steps(body.max_steps)
    patch = ctx.paths.state(body.state_patch, "state_patch") if body.state_patch else None
    if patch:
        ctx.limits.check_state(patch, "state_patch")
    run = _get_run(ctx, run_id)
    if ctx.engine.active_run(run_id) is not None:
        raise _already_active(run_id)
    # a "running" run in a durable store may be one a crash interrupted: resumable
    running_here = run.status == RunStatus.RUNNING and not ctx.engine.store.durable
    if run.status == RunStatus.COMPLETED or running_here:
        raise _not_resumable(run)
    ctx.runnable(run.graph_id)
    answer = body.answer if "answer" in body.model_fields_set else NO_ANSWER
    try:
        if body.wait:
            run = ctx.engine.resume(
                run_id, patch, max_steps=body.max_steps, answer=answer, budget=body.budget
            )
            return SafeJSONResponse(RunResult.data(run, ctx.expose_tracebacks))
        return _accepted(
            ctx.runs.resume(
                run_id, patch, max_steps=body.max_steps, answer=answer, budget=body.budget
            )
        )
    except RunActiveError as exc:  # driven here since the check above, or by a worker
        raise ApiError(409, str(exc), type="run_active", details={"run_id": run_id}) from None
    except AnswerError as exc:
        raise ApiError(
            422, str(exc), type="invalid_answer", details={"run_id": run_id, "field": "answer"}
        ) from None
    except WorkflowError as exc:
        if type(exc) is WorkflowError:  # "already completed", ...
            raise ApiError(
                409, str(exc), type="run_not_resumable", details={"run_id": run_id}
            ) from None
        raise


def _already_active(run_id: str) -> ApiError:
    return ApiError(
        409,
        f"run {run_id} is already running on this server",
        type="run_active",
        details={"run_id": run_id},
    )


@router.post(
    "/runs/{run_id}/cancel", response_model=CancelResult, responses={409: {"model": ErrorResponse}}
)
def cancel_run(run_id: str, ctx: Ctx) -> CancelResult:
    """Cancel a run: a running one stops before its next step, a paused or failed one is
    marked ``cancelled`` at once; a completed one cannot be cancelled (409)."""
    live = ctx.runs.live(run_id)
    if live is not None:
        live.cancel()
        return CancelResult(run_id=run_id, status=live.status, cancel_requested=True)
    run = _get_run(ctx, run_id)
    if run.status in (RunStatus.COMPLETED, RunStatus.CANCELLED):
        raise ApiError(
            409,
            f"run {run_id} is already {run.status.value}",
            type="run_not_cancellable",
            details={"run_id": run_id, "status": run.status.value},
        )
    run = ctx.engine.cancel(run_id)
    ctx.feed.publish(run)  # no run hook fires for a run that is not going on
    return CancelResult(run_id=run_id, status=run.status, cancel_requested=True)


def _content_length(request: Request) -> int | None:
    try:
        return int(request.headers["content-length"])
    except (KeyError, ValueError):
        return None


def _get_run(ctx: ServerContext, run_id: str) -> WorkflowRun:
    live = ctx.runs.live(run_id)
    return live if live is not None else ctx.engine.get_run(run_id)


def _not_resumable(run: WorkflowRun) -> ApiError:
    return ApiError(
        409,
        f"run {run.run_id} is {run.status.value}; only paused, failed or "
        "cancelled runs can be resumed",
        type="run_not_resumable",
        details={"run_id": run.run_id, "status": run.status.value},
    )


def _accepted(run: WorkflowRun) -> JSONResponse:
    body = RunAccepted(run_id=run.run_id, graph_id=run.graph_id, status=run.status)
    return JSONResponse(
        body.model_dump(mode="json"),
        status_code=202,
        headers={"Location": f"/graph/state/{run.run_id}"},
    )


def _epoch(moment: datetime) -> float:
    """``moment`` as epoch seconds; a time without an offset is UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
