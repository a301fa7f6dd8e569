"""``wf runs``: list, show, resume, cancel and prune the runs in the store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from wfengine.errors import StoreError

from .answers import parse_answers
from .context import NO_PERSISTENT_STORE, CliContext, get_context
from .options import (
    STEP_LIMIT,
    Duration,
    backend_option,
    debug_option,
    json_option,
    store_option,
)
from .output import (
    echo_json,
    format_seconds,
    format_table,
    log_table,
    run_detail_lines,
    run_duration,
)
from .run import budget_option, follow
from .state_args import build_state, state_options

if TYPE_CHECKING:
    from wfengine.run import WorkflowRun

_TIME_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
STATUSES = ("pending", "queued", "running", "paused", "completed", "failed", "cancelled")


@click.group("runs")
def runs_group() -> None:
    """List, inspect, resume, cancel and prune runs kept in the store.

    \b
    Examples:
      wf runs list --status failed --limit 5
      wf runs show 3f2a9c0d --logs
      wf runs resume 3f2a9c0d -s threshold=5
      wf runs cancel 3f2a9c0d
      wf runs prune --older-than 30d --keep-last 100
    """


@runs_group.command("list")
@click.option("--graph", "graph_id", metavar="ID", help="Only runs of this graph or workflow.")
@click.option("--status", type=click.Choice(STATUSES), help="Only runs with this status.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Show at most N runs (newest first).",
)
@click.option(
    "--since",
    type=click.DateTime(_TIME_FORMATS),
    help="Only runs created at or after this time (UTC), e.g. 2026-05-01 or 2026-05-01T12:00.",
)
@click.option(
    "--until", type=click.DateTime(_TIME_FORMATS), help="Only runs created before this time (UTC)."
)
@click.option(
    "--search", metavar="TEXT", help="Only runs whose id or error contains TEXT (any case)."
)
@click.option(
    "--cursor", metavar="CURSOR", help="Continue after a previous page (its 'next page' cursor)."
)
@json_option
@store_option
@debug_option
def list_runs(
    graph_id: str | None,
    status: str | None,
    limit: int,
    since: datetime | None,
    until: datetime | None,
    search: str | None,
    cursor: str | None,
    as_json: bool,
) -> None:
    """List runs, newest first.

    \b
    Examples:
      wf runs list
      wf runs list --graph data-quality --status completed --limit 5
      wf runs list --status failed --since 2026-05-01 --search timeout
      wf runs list --json | jq '.[].run_id'
    """
    app = get_context()
    store = app.store
    app.warn_if_not_persistent()
    filters: dict[str, Any] = {}
    if since is not None:
        filters["created_after"] = since.replace(tzinfo=UTC).timestamp()
    if until is not None:
        filters["created_before"] = until.replace(tzinfo=UTC).timestamp()
    if search:
        filters["search"] = search
    try:
        runs, next_cursor = store.list_runs(
            graph_id=graph_id, status=status, limit=limit, cursor=cursor, logs=False, **filters
        )
    except (ValueError, TypeError, StoreError) as exc:
        raise click.BadParameter(
            f"{cursor!r} is not a cursor this store issued; pass the one a previous page printed",
            param_hint="--cursor",
        ) from exc
    if as_json:
        echo_json([r.to_dict(logs=False) for r in runs])
        return
    if not runs:
        filtered = graph_id or status or filters or cursor
        click.echo("no runs" + (" match" if filtered else " yet"))
        return
    rows = [
        (
            r.run_id,
            r.graph_id,
            r.status.value,
            r.step,
            r.created_at[:19].replace("T", " "),
            format_seconds(run_duration(r)),
        )
        for r in runs
    ]
    click.echo(
        format_table(("RUN_ID", "GRAPH", "STATUS", "STEPS", "CREATED (UTC)", "DURATION"), rows)
    )
    if next_cursor is not None:
        click.echo(f"more runs: add --cursor {next_cursor}")


@runs_group.command("show")
@click.argument("run_id")
@click.option("--logs", is_flag=True, help="Also show one line per node attempt.")
@click.option("--state", "show_state", is_flag=True, help="Also print the state as JSON.")
@click.option(
    "--step",
    type=click.IntRange(min=0),
    help="Print the state right after step N instead (0: the initial state).",
)
@click.option("--cache", "show_cache", is_flag=True, help="Also show each cache hit and miss.")
@json_option
@store_option
@debug_option
def show_run(
    run_id: str, logs: bool, show_state: bool, step: int | None, show_cache: bool, as_json: bool
) -> None:
    """Show one run: status, steps, timing, visited nodes, error.

    \b
    Examples:
      wf runs show 3f2a9c0d
      wf runs show 3f2a9c0d --logs --state
      wf runs show 3f2a9c0d --step 4
      wf runs show 3f2a9c0d --cache
      wf runs show 3f2a9c0d --json
    """
    app = get_context()
    run = _get_run(app, run_id)
    if step is not None:
        from wfengine.history import history_store

        state = history_store(app.store).state_at(run_id, step)
        if as_json:
            echo_json({"run_id": run_id, "step": step, "state": state})
        else:
            click.echo(f"state of run {run_id} after step {step}:")
            echo_json(state)
        return
    if as_json:
        echo_json(run.to_dict(logs=True))
        return
    for line in run_detail_lines(run):
        click.echo(line)
    if logs:
        click.echo("")
        click.echo(log_table(run) if run.logs else "no log entries")
        for entry in run.logs:
            if entry.status == "failed" and entry.error and entry.error.get("traceback"):
                click.echo("")
                click.echo(
                    f"traceback of {entry.node} (step {entry.step}, attempt {entry.attempt}):"
                )
                click.echo(str(entry.error["traceback"]).rstrip())
    if show_cache:
        click.echo("")
        rows = [(e.get("step", ""), e["node"], e["result"], e["reason"]) for e in run.cache_log]
        click.echo(
            format_table(("STEP", "NODE", "RESULT", "REASON"), rows) if rows else "no cache lookups"
        )
    if show_state:
        click.echo("")
        echo_json(run.state)


@runs_group.command("resume")
@click.argument("run_id")
@state_options
@click.option("--max-steps", type=STEP_LIMIT, help="A new step limit for the rest of the run.")
@click.option(
    "--answer",
    "answers",
    multiple=True,
    metavar="JSON|@FILE|NODE=JSON",
    help="Answer the run's pending interrupt() question; NODE=JSON (repeatable) when several "
    "nodes asked.",
)
@click.option(
    "--budget",
    "budget_items",
    multiple=True,
    metavar="KEY=N[,KEY=N]",
    help="New totals for the run's budget: steps=N sets the steps total to N (repeatable).",
)
@click.option(
    "--allow-changed-graph",
    is_flag=True,
    help="Resume a run of a Python graph even though its code or structure changed since.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the finished run as JSON instead.")
@click.option("-q", "--quiet", is_flag=True, help="No live node lines; only the summary.")
@store_option
@backend_option
@debug_option
def resume_run(
    run_id: str,
    state_json: dict[str, Any],
    assignments: list[tuple[list[str], Any]],
    max_steps: int | None,
    answers: tuple[str, ...],
    budget_items: tuple[str, ...],
    allow_changed_graph: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Continue a paused, failed or cancelled run from where it stopped.

    -s/--state values replace state keys before the run goes on, so you can
    fix the input of the step that failed or was paused.

    The run goes on with the exact graph version it started with: a spec
    file's run needs no file at hand, and a workflow or stored graph changed
    since resumes on its old spec. A Python graph whose code changed is
    refused unless --allow-changed-graph.

    \b
    Examples:
      wf runs resume 3f2a9c0d
      wf runs resume 3f2a9c0d -s threshold=5 -s approved=true
      wf runs resume 3f2a9c0d --state @patch.json
      wf runs resume 3f2a9c0d --answer true         # a node asked with interrupt()
      wf runs resume 3f2a9c0d --budget steps=2000   # paused by its budget
      wf runs resume 3f2a9c0d --answer @reply.json
      wf runs resume 3f2a9c0d --answer review=true --answer legal='"ok"'

    \b
    Exit codes as for `wf run`: 0 completed, 1 failed, 3 paused, 130 cancelled.
    """
    app = get_context()
    engine = app.storage_engine()
    _get_run(app, run_id)  # a clear "not found" (with the store note) before anything else
    patch = build_state(state_json, assignments)
    answer = parse_answers(answers)
    handle = engine.prepare_resume(
        run_id,
        patch or None,
        max_steps=max_steps,
        allow_changed_graph=allow_changed_graph,
        answer=answer,
        budget=budget_option(budget_items),
    )
    follow(app, handle, as_json=as_json, quiet=quiet)


@runs_group.command("cancel")
@click.argument("run_id")
@store_option
@debug_option
def cancel_run(run_id: str) -> None:
    """Mark a paused, failed or queued run cancelled (it can still be resumed later).

    A run a `wf worker` is running (on any machine) is flagged in the store:
    its worker cancels it before its next step. To stop a `wf run` going on
    in a terminal, press Ctrl-C there (it then stops between steps and saves
    the run as cancelled).

    \b
    Example:
      wf runs cancel 3f2a9c0d
    """
    app = get_context()
    engine = app.storage_engine()
    was_running = _get_run(app, run_id).status.value == "running"
    run = engine.cancel(run_id)
    if run.status.value == "running":  # claimed by a worker: flagged for it
        click.echo(f"run {run.run_id}: cancel requested; its worker stops it before its next step")
        return
    click.echo(f"run {run.run_id}: {run.status.value}")
    if was_running:
        click.echo(
            "note: the store said this run was running; a process still running it is not "
            "stopped by this (press Ctrl-C there)",
            err=True,
        )


@runs_group.command("prune")
@click.option(
    "--older-than",
    type=Duration(),
    metavar="DURATION",
    help="Delete finished runs created longer ago than this (30d, 12h, 15m, 90s).",
)
@click.option(
    "--keep-last",
    type=click.IntRange(min=0),
    metavar="N",
    help="Keep the newest N runs; delete finished runs beyond them.",
)
@click.option(
    "--status",
    type=click.Choice(STATUSES),
    help="Only delete runs with this status (paused/running ones only when named).",
)
@store_option
@debug_option
def prune_runs(older_than: float | None, keep_last: int | None, status: str | None) -> None:
    """Delete old finished runs (completed, failed, cancelled) from the store.

    Running and paused runs are kept unless --status names their status.

    \b
    Examples:
      wf runs prune --older-than 30d
      wf runs prune --keep-last 100
      wf runs prune --older-than 12h --status failed
    """
    if older_than is None and keep_last is None:
        raise click.UsageError(
            "say which runs to delete: --older-than DURATION and/or "
            "--keep-last N (example: wf runs prune --older-than 30d)"
        )
    app = get_context()
    store = app.store
    app.warn_if_not_persistent()
    deleted = store.prune(older_than=older_than, keep_last=keep_last, status=status)
    click.echo(f"deleted {deleted} run{'s' if deleted != 1 else ''}")


def _get_run(app: CliContext, run_id: str) -> WorkflowRun:
    """The run, or a not-found error that mentions the in-memory store when that is why."""
    from wfengine.errors import RunNotFoundError

    try:
        return app.storage_engine().get_run(run_id)
    except RunNotFoundError as exc:
        if not app.persistent:
            raise RunNotFoundError(f"{exc}; {NO_PERSISTENT_STORE}") from None
        raise
