"""``wf runs history/diff/blame/fork``: a run's past, through the store's history capability
(:mod:`wfengine.history`). ``wf runs show ID --step N`` lives with ``show`` in ``runs.py``."""

from __future__ import annotations

from typing import Any

import click

from .context import get_context
from .options import debug_option, json_option, store_option
from .output import echo_json, format_table, short_value
from .run import follow
from .runs import _get_run, runs_group
from .state_args import build_state, state_options


@runs_group.command("history")
@click.argument("run_id")
@json_option
@store_option
@debug_option
def history_command(run_id: str, as_json: bool) -> None:
    """List a run's steps: node(s), changed keys, attempts, duration.

    \b
    Examples:
      wf runs history 3f2a9c0d
      wf runs history 3f2a9c0d --json | jq '.[] | select(.changed | index("total"))'
    """
    from wfengine.history import step_rows

    app = get_context()
    run = _get_run(app, run_id)
    rows = step_rows(app.store, run)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo(f"run {run_id} has no committed steps")
        return
    table = [
        (
            r["step"],
            ",".join(r["nodes"]),
            ",".join(r["changed"]) or "-",
            r["attempts"] if r["attempts"] is not None else "-",
            f"{r['duration_ms']:.1f}" if r["duration_ms"] is not None else "-",
            ",".join(r["next_nodes"]) or "(end)",
        )
        for r in rows
    ]
    click.echo(format_table(("STEP", "NODES", "CHANGED", "ATTEMPTS", "MS", "NEXT"), table))


@runs_group.command("diff")
@click.argument("run_id")
@click.argument("other_run_id", required=False)
@click.option("--from", "start", type=click.IntRange(min=0), help="Step to compare from.")
@click.option("--to", "end", type=click.IntRange(min=0), help="Step to compare to.")
@json_option
@store_option
@debug_option
def diff_command(
    run_id: str, other_run_id: str | None, start: int | None, end: int | None, as_json: bool
) -> None:
    """Compare a run's state between two steps, or find where two runs part.

    \b
    Examples:
      wf runs diff 3f2a9c0d --from 2 --to 5
      wf runs diff 3f2a9c0d 77b1e2aa
    """
    from wfengine.history import diff_runs, diff_steps

    app = get_context()
    run = _get_run(app, run_id)
    if other_run_id is not None:
        if start is not None or end is not None:
            raise click.UsageError("give two run ids, or one run id with --from/--to; not both")
        _get_run(app, other_run_id)
        result = diff_runs(app.store, run_id, other_run_id)
    else:
        first = 0 if start is None else start
        last = run.step if end is None else end
        result = diff_steps(app.store, run_id, first, last)
    if as_json:
        echo_json(result)
        return
    if "runs" in result:
        if result["step"] is None:
            click.echo(f"runs {run_id} and {other_run_id} agree on every step")
            return
        click.echo(f"runs {run_id} and {other_run_id} part at step {result['step']}")
        if "nodes" in result:
            click.echo(f"  nodes: {result['nodes'][0]} vs {result['nodes'][1]}")
        else:
            click.echo(f"  one run has {result['steps'][0]} steps, the other {result['steps'][1]}")
    else:
        click.echo(f"run {run_id}: state after step {result['from']} -> after {result['to']}")
    _echo_changes(result)


def _echo_changes(result: dict[str, Any]) -> None:
    for key, value in result.get("added", {}).items():
        click.echo(f"  + {key} = {short_value(value)}")
    for key, value in result.get("removed", {}).items():
        click.echo(f"  - {key} = {short_value(value)}")
    for key, change in result.get("changed", {}).items():
        click.echo(
            f"  ~ {key}: {short_value(change['before'], 40)} -> {short_value(change['after'], 40)}"
        )


@runs_group.command("blame")
@click.argument("run_id")
@click.argument("key")
@json_option
@store_option
@debug_option
def blame_command(run_id: str, key: str, as_json: bool) -> None:
    """Every write of a state key: step, node(s), how, a digest of the value.

    A value given by a state patch on resume or fork (``-s k=v``) shows as ``patched``, with
    "(resume patch)" for its nodes.

    \b
    Examples:
      wf runs blame 3f2a9c0d total
    """
    from wfengine.history import blame

    app = get_context()
    run = _get_run(app, run_id)
    writes = blame(app.store, run, key)
    if as_json:
        echo_json(writes)
        return
    if not writes:
        click.echo(f"no step of run {run_id} wrote '{key}'")
        return
    rows = [
        (
            w["step"],
            "(resume patch)" if w["patch"] else ",".join(w["nodes"]),
            w["how"],
            w["digest"],
            short_value(w["value"], 50),
        )
        for w in writes
    ]
    click.echo(format_table(("STEP", "NODES", "HOW", "DIGEST", "VALUE"), rows))


@runs_group.command("fork")
@click.argument("run_id")
@click.option("--step", type=click.IntRange(min=0), required=True, help="Fork after this step.")
@state_options
@click.option("--json", "as_json", is_flag=True, help="Print the finished run as JSON instead.")
@click.option("-q", "--quiet", is_flag=True, help="No live node lines; only the summary.")
@store_option
@debug_option
def fork_command(
    run_id: str,
    step: int,
    state_json: dict[str, Any],
    assignments: list[tuple[list[str], Any]],
    as_json: bool,
    quiet: bool,
) -> None:
    """Start a new run where RUN_ID was after --step, with -s edits, and drive it.

    The new run is linked to its parent (run and step); the parent is unchanged.

    \b
    Examples:
      wf runs fork 3f2a9c0d --step 3 -s threshold=5

    \b
    Exit codes as for `wf run`: 0 completed, 1 failed, 3 paused, 130 cancelled.
    """
    from wfengine.history import history_store

    app = get_context()
    engine = app.storage_engine()
    _get_run(app, run_id)
    patch = build_state(state_json, assignments)
    fork = history_store(app.store).fork_run(run_id, step)
    if not quiet and not as_json:
        click.echo(f"forked run {run_id} after step {step} as {fork.run_id}", err=True)
    follow(app, engine.prepare_resume(fork.run_id, patch or None), as_json=as_json, quiet=quiet)


@runs_group.command("export")
@click.argument("run_id")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), required=True, help="The .wfrun file."
)
@store_option
@debug_option
def export_command(run_id: str, output: str) -> None:
    """Write a run (graph version, plugin versions, initial state, steps, logs, error) to one
    portable .wfrun file, e.g. for a bug report.

    \b
    Examples:
      wf runs export 3f2a9c0d -o run.wfrun
    """
    from wfengine.wfrun import export_run

    app = get_context()
    _get_run(app, run_id)
    path = export_run(app.store, run_id, output)
    click.echo(f"exported run {run_id} to {path}")


@runs_group.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--run-id", help="Import under this id instead of the run's own.")
@store_option
@debug_option
def import_command(path: str, run_id: str | None) -> None:
    """Load a run from a .wfrun file into the store (with its history and graph version).

    \b
    Examples:
      wf runs import run.wfrun
      wf runs import run.wfrun --run-id copy-of-3f2a9c0d
    """
    from wfengine.wfrun import import_run

    run = import_run(get_context().store, path, run_id=run_id)
    click.echo(f"imported run {run.run_id} ({run.graph_id}, {run.status.value}, {run.step} steps)")


@runs_group.command("replay")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option(
    "--graph",
    "graph_source",
    metavar="SPEC",
    help="Replay on this spec file instead of the graph version the run recorded.",
)
@json_option
@debug_option
def replay_command(path: str, graph_source: str | None, as_json: bool) -> None:
    """Check that a graph still routes a recorded run the way it went: the recorded node
    outputs are replayed (no node runs) and every step's next nodes compared; a node's
    recorded Command choice, the copies it sent and a router's sends are checked against
    the graph's declared routes.

    \\b
    Examples:
      wf runs replay run.wfrun                       # on the graph version it ran
      wf runs replay run.wfrun --graph pipeline.yaml # on the spec as it is now

    \\b
    Exit codes: 0 every step routes as recorded, 1 a step routes elsewhere.
    """
    from wfengine.errors import SpecError
    from wfengine.replay import replay
    from wfengine.wfrun import read_run

    engine = get_context().engine
    data = read_run(path)
    if graph_source is not None:
        graph = engine.load_spec(graph_source)
    else:
        version = data["graph"]
        if version is None or version.get("spec") is None:
            raise SpecError(
                f"{path}: the run recorded no spec of its graph (a Python graph, or a store "
                "without graph versions); pass --graph SPEC"
            )
        graph = engine.load_spec(version["spec"])
    result = replay(data, graph)
    if as_json:
        echo_json(result)
    else:
        diverged = result["diverged"]
        if diverged is None:
            click.echo(f"all {result['steps']} steps of run {result['run_id']} route as recorded")
        else:
            click.echo(
                f"step {diverged['step']} ({','.join(diverged['nodes'])}) routes to "
                f"{diverged['routed']} but the run went to {diverged['recorded']}"
                + (
                    f"; missing nodes {diverged['missing_nodes']}"
                    if diverged["missing_nodes"]
                    else ""
                )
                + (f": {diverged['reason']}" if diverged.get("reason") else "")
            )
    if result["diverged"] is not None:
        raise SystemExit(1)
