"""The ``wf --log-json PATH`` and ``wf --log-json-values`` options.

``wfengine_register_commands`` adds them to the ``wf`` group's parameters; ``wf`` repeats a
plugin's group options on every subcommand, so ``wf run demo --log-json PATH`` works as
``wf --log-json PATH run demo`` does. They are eager and not passed to any callback: each
configures the JSON log of the engine ``wf`` runs with. Nothing goes through the process
environment, so two engines in one process can log to two files.
"""

from __future__ import annotations

from typing import Any

import click

from .hooks import JsonLogPlugin

PLUGIN_NAME = "jsonlog"
"""The entry point's name: the options replace that plugin, in ``wf``'s engine only."""

_META_KEY = "wfengine_jsonlog.options"


def _set_destination(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None and not ctx.resilient_parsing:
        _configure(ctx, destination=value)


def _set_values(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        _configure(ctx, values=True)


def _configure(ctx: click.Context, **options: Any) -> None:
    """Configure the :class:`JsonLogPlugin` of ``wf``'s engine with the options so far.

    The engine's entry-point instance is its own (the entry point names a class), so it is
    configured in place; an engine without one gets one. Without a ``CliContext`` (a group
    of one's own) the options are only recorded in ``ctx.meta``.
    """
    chosen: dict[str, Any] = ctx.meta.setdefault(_META_KEY, {})
    chosen.update(options)
    from wfengine.cli import CliContext

    app = ctx.find_object(CliContext)
    if app is None:
        return
    engine = app.engine
    plugin = _configurable(engine.pm)
    if plugin is not None:  # this engine's own entry-point instance: configure it
        plugin.destination = chosen.get("destination")
        plugin.values = chosen.get("values")
        plugin.close()  # the next run opens the new destination
        return
    engine.register_plugin(
        JsonLogPlugin(chosen.get("destination"), values=chosen.get("values")), PLUGIN_NAME
    )


def _configurable(pm: Any) -> JsonLogPlugin | None:
    """The engine's entry-point instance (or the one an earlier option registered), not an
    instance a program passed with its own destination."""
    from .plugin import EntryPointPlugin

    made = pm.get_plugin(PLUGIN_NAME)
    if isinstance(made, JsonLogPlugin):
        return made
    for plugin in pm.get_plugins():
        if isinstance(plugin, EntryPointPlugin):
            return plugin
    return None


def log_json_options() -> list[click.Option]:
    """The options, ready to append to a group's ``params``."""
    return [
        click.Option(
            ["--log-json"],
            metavar="PATH",
            expose_value=False,
            is_eager=True,
            callback=_set_destination,
            help="Append run and node events as JSON lines to PATH ('-': stderr, 'logging': "
            "the 'wfengine' logger). Overrides WFENGINE_JSONLOG.",
        ),
        click.Option(
            ["--log-json-values"],
            is_flag=True,
            expose_value=False,
            is_eager=True,
            callback=_set_values,
            help="With --log-json: log the values of changed keys too.",
        ),
    ]


def add_log_json_options(cli: Any) -> None:
    """Add the options to ``cli`` (a :class:`click.Command`) unless it already has them."""
    params = getattr(cli, "params", None)
    if params is None:
        return
    present = {name for param in params for name in getattr(param, "opts", ())}
    for option in log_json_options():
        if not present.intersection(option.opts):
            params.append(option)
