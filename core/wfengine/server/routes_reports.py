"""``GET /runs/{run_id}/report.html``: the data-quality report a run wrote, for the studio.

The file is the one the run's state names under a ``report_html`` key (``dq.report`` puts it
in ``report.outputs``), read only when it lies inside the data directory (the API's path
rule: a run cannot make the server hand out any other file). It is served with its own
strict CSP and in a sandbox: the report has no script, and none would run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from .context import ServerContext, context
from .errors import ApiError

router = APIRouter(tags=["runs"])
Ctx = Annotated[ServerContext, Depends(context)]
REPORT_KEY = "report_html"
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox; "
    "base-uri 'none'; form-action 'none'"
)
"""The report's own styles are inline (one self-contained file); nothing else is allowed."""
_MAX_DEPTH = 6


@router.get("/runs/{run_id}/report.html", response_class=Response)
def run_report(run_id: str, ctx: Ctx) -> Response:
    """The ``report.html`` named by the run's state (``...report_html``), from the data dir."""
    live = ctx.runs.live(run_id)
    run = live if live is not None else ctx.engine.get_run(run_id)
    named = report_path(run.state)
    if named is None:
        raise ApiError(
            404,
            f"run {run_id} has no report: its state names no '{REPORT_KEY}' file",
            type="report_not_found",
            details={"run_id": run_id},
        )
    path = Path(ctx.paths.resolve(named, f"state.{REPORT_KEY}"))
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise ApiError(
            404,
            f"run {run_id}'s report {named!r} cannot be read ({exc.strerror}); "
            "it may have been moved or deleted",
            type="report_not_found",
            details={"run_id": run_id, "path": named},
        ) from None
    return Response(
        body,
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": REPORT_CSP, "X-Content-Type-Options": "nosniff"},
    )


def report_path(state: Any, depth: int = 0) -> str | None:
    """The first string under a ``report_html`` key in ``state`` (mappings and lists, a few
    levels deep), or ``None``."""
    if depth > _MAX_DEPTH:
        return None
    if isinstance(state, dict):
        value = state.get(REPORT_KEY)
        if isinstance(value, str):
            return value
        children: Any = state.values()
    elif isinstance(state, list | tuple):
        children = state
    else:
        return None
    for child in children:
        found = report_path(child, depth + 1)
        if found is not None:
            return found
    return None
