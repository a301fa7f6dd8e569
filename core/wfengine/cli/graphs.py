"""``wf graphs``: store graph specs, list and show them, draw any graph as Mermaid."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from .context import get_context
from .options import debug_option, json_option, store_option
from .output import echo_json, format_table


@click.group("graphs")
def graphs_group() -> None:
    """Store graph specs and look at graphs.

    \b
    Examples:
      wf graphs create pipeline.yaml          # prints the new graph id
      wf graphs list
      wf graphs show 3f2a9c0d
      wf graphs draw data-quality > graph.mmd
    """


@graphs_group.command("create")
@click.argument("spec", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--id",
    "graph_id",
    metavar="ID",
    help="Store under this id (default: a new one): letters, digits, _ . : -",
)
@store_option
@debug_option
def create_graph(spec: str, graph_id: str | None) -> None:
    """Validate the spec file SPEC (YAML or JSON; - for stdin) and store it.

    Prints the graph id; run it with `wf run ID`.

    \b
    Examples:
      wf graphs create pipeline.yaml
      wf graphs create pipeline.json --id nightly-checks
      cat pipeline.yaml | wf graphs create -
    """
    from wfengine.errors import SpecError

    data = read_spec_file(spec)
    engine = get_context().storage_engine()
    try:
        new_id = engine.save_graph(data, graph_id)
    except SpecError as exc:
        if exc.source:
            raise
        raise SpecError(exc.message, exc.where, source=spec) from exc
    click.echo(new_id)


@graphs_group.command("list")
@json_option
@store_option
@debug_option
def list_graphs(as_json: bool) -> None:
    """List stored graphs, newest first.

    \b
    Examples:
      wf graphs list
      wf graphs list --json
    """
    app = get_context()
    graphs = app.store.list_graphs()
    if as_json:
        echo_json(graphs)
        return
    if not app.persistent:
        app.warn_if_not_persistent()
    if not graphs:
        click.echo("no stored graphs (store one with: wf graphs create SPEC)")
        return
    rows = [
        (
            g.get("graph_id"),
            g.get("name"),
            g.get("version"),
            str(g.get("created_at") or "")[:19].replace("T", " "),
        )
        for g in graphs
    ]
    click.echo(format_table(("GRAPH_ID", "NAME", "VERSION", "CREATED (UTC)"), rows))


@graphs_group.command("show")
@click.argument("graph_id")
@json_option
@store_option
@debug_option
def show_graph(graph_id: str, as_json: bool) -> None:
    """Print the stored spec of GRAPH_ID (YAML, or JSON with --json).

    \b
    Examples:
      wf graphs show 3f2a9c0d
      wf graphs show 3f2a9c0d --json > pipeline.json
      wf graphs show pipeline@0123456789ab    # a version a run used
    """
    from wfengine.errors import UnknownNameError

    store = get_context().store
    if "@" in graph_id and store.get_graph(graph_id) is None:
        from wfengine.graph_versions_index import find_version

        version = find_version(store, graph_id)
        if version.get("spec") is None:  # a Python graph: only its fingerprint is kept
            if as_json:
                echo_json(version)
            else:
                click.echo(f"{version['label']}: a Python graph (no spec is kept)")
            return
        spec = version["spec"]
    else:
        spec = store.get_graph(graph_id)
    if spec is None:
        raise UnknownNameError(f"no stored graph with id '{graph_id}' (see: wf graphs list)")
    if as_json:
        echo_json(spec)
        return
    import yaml

    click.echo(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True).rstrip())


@graphs_group.command("versions")
@click.argument("name")
@json_option
@store_option
@debug_option
def graph_versions(name: str, as_json: bool) -> None:
    """List the versions of graph NAME that runs used, with those runs.

    \b
    Examples:
      wf graphs versions pipeline
      wf graphs show pipeline@0123456789ab
    """
    from wfengine.graph_versions_index import versions_of

    found = versions_of(get_context().store, name)
    if as_json:
        echo_json(found)
        return
    if not found:
        click.echo(f"no run of graph '{name}' recorded a version")
        return
    rows = [
        (v["label"], v["kind"] or "?", len(v["runs"]), v["last_used"][:19].replace("T", " "))
        for v in found
    ]
    click.echo(format_table(("VERSION", "KIND", "RUNS", "LAST USED (UTC)"), rows))


@graphs_group.command("draw")
@click.argument("target")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid"]),
    default="mermaid",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--direction",
    type=click.Choice(["TD", "LR", "BT", "RL"]),
    default="TD",
    show_default=True,
    help="Flow direction.",
)
@store_option
@debug_option
def draw_graph(target: str, fmt: str, direction: str) -> None:
    """Draw TARGET (a stored graph id, a spec file or a workflow name).

    \b
    Examples:
      wf graphs draw data-quality
      wf graphs draw pipeline.yaml --direction LR > pipeline.mmd
      wf graphs draw 3f2a9c0d
    """
    _graph_id, graph = get_context().storage_engine().graph(target)
    click.echo(graph.to_mermaid(direction=direction), nl=False)


def read_spec_file(source: str) -> dict[str, Any]:
    """A spec mapping from a YAML/JSON file (or ``-``: stdin); errors name the file and line."""
    from wfengine.errors import SpecError
    from wfengine.spec import read_spec

    if source != "-":
        return read_spec(Path(source))[0]
    text = sys.stdin.read()
    if not text.strip():
        raise SpecError("no spec on standard input", source="<stdin>")
    try:
        return read_spec(text)[0]
    except SpecError as exc:
        raise SpecError(exc.message, exc.where, source=exc.source or "<stdin>") from None
