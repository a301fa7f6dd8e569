"""``wf workflows``, ``wf tools``, ``wf backends``, ``wf plugins``: what plugins provide.

None of these opens the store.
"""

from __future__ import annotations

import click

from ..backends import backend_scheme
from .context import get_context
from .options import debug_option, json_option
from .output import echo_json, format_table


@click.command("workflows")
@json_option
@debug_option
def list_workflows(as_json: bool) -> None:
    """List the registered workflows (run one with `wf run NAME`).

    \b
    Examples:
      wf workflows
      wf workflows --json
    """
    entries = get_context().engine.workflows.entries()
    if as_json:
        echo_json([e.to_dict() for e in entries])
        return
    if not entries:
        click.echo(
            "no workflows registered (install a plugin that provides some, e.g. "
            "wfengine-dataquality)"
        )
        return
    click.echo(
        format_table(
            ("WORKFLOW", "PLUGIN", "DESCRIPTION"),
            [(e.name, e.plugin, e.description) for e in entries],
        )
    )


@click.command("tools")
@json_option
@debug_option
def list_tools(as_json: bool) -> None:
    """List the registered tools (what spec nodes name with `tool:`).

    \b
    Examples:
      wf tools
      wf tools --json | jq -r '.[].name'
    """
    entries = get_context().engine.tools.entries()
    if as_json:
        echo_json([e.to_dict() for e in entries])
        return
    if not entries:
        click.echo("no tools registered")
        return
    click.echo(
        format_table(
            ("TOOL", "PLUGIN", "DESCRIPTION"), [(e.name, e.plugin, e.description) for e in entries]
        )
    )


@click.command("backends")
@json_option
@debug_option
def list_backends(as_json: bool) -> None:
    """List the execution backends (URL schemes for --backend and WFENGINE_BACKEND).

    The backend in use is marked with '*'. See docs/backends.md.

    \b
    Examples:
      wf backends
      WFENGINE_BACKEND=processes://?workers=4 wf backends --json
    """
    engine = get_context().engine
    in_use = backend_scheme(engine.backend_url) if "://" in engine.backend_url else None
    entries = engine.backends.entries()
    if as_json:
        echo_json([{**e.to_dict(), "in_use": e.name == in_use} for e in entries])
        return
    rows = [
        (("* " if e.name == in_use else "  ") + e.name + "://", e.plugin, e.description)
        for e in entries
    ]
    click.echo(format_table(("  SCHEME", "PLUGIN", "DESCRIPTION"), rows))


@click.command("plugins")
@json_option
@click.option("--all", "show_all", is_flag=True, help="Include the engine's built-in plugins.")
@debug_option
def list_plugins(as_json: bool, show_all: bool) -> None:
    """List loaded plugins (name, version, hooks) and plugins that failed to load.

    \b
    Examples:
      wf plugins
      wf plugins --all --json
      WFENGINE_DISABLE_PLUGINS=jsonlog wf plugins
    """
    engine = get_context().engine
    plugins = [p for p in engine.plugins() if show_all or not p.builtin]
    failures = list(engine.plugin_failures)
    if as_json:
        echo_json(
            {"plugins": [p.to_dict() for p in plugins], "failures": [f.to_dict() for f in failures]}
        )
        return
    if plugins:
        rows = [
            (
                p.name,
                p.version or "-",
                p.distribution or p.module,
                ", ".join(h.removeprefix("wfengine_") for h in p.hooks),
            )
            for p in plugins
        ]
        click.echo(format_table(("PLUGIN", "VERSION", "DISTRIBUTION", "HOOKS"), rows))
    else:
        click.echo("no plugins loaded" + ("" if show_all else " (--all shows the built-ins)"))
    if failures:
        click.echo("")
        click.echo(click.style("failed to load:", fg="red"))
        for failure in failures:
            click.echo(f"  {failure.name} ({failure.stage}): {failure.error}")


commands = [list_workflows, list_tools, list_backends, list_plugins]
"""The catalog commands, added to the ``wf`` group."""
