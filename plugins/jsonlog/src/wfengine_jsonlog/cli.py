"""The ``wf --log-json PATH`` and ``wf --log-json-values`` options.

The options are added to the ``wf`` group's parameters by ``wfengine_register_commands``.
They are eager and not passed to the group's callback: each sets its environment variable
(``WFENGINE_JSONLOG``, ``WFENGINE_JSONLOG_VALUES``) before any command runs, and the plugin
reads the environment at the start of each run — child processes inherit it too.
"""

from __future__ import annotations

import os
from typing import Any

import click

from .hooks import ENV_DESTINATION, ENV_VALUES


def _set_destination(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None and not ctx.resilient_parsing:
        os.environ[ENV_DESTINATION] = value


def _set_values(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        os.environ[ENV_VALUES] = "1"


def log_json_options() -> list[click.Option]:
    """The options, ready to append to a group's ``params``."""
    return [
        click.Option(
            ["--log-json"],
            metavar="PATH",
            expose_value=False,
            is_eager=True,
            callback=_set_destination,
            help=f"Append run and node events as JSON lines to PATH ('-': stderr, 'logging': "
            f"the 'wfengine' logger). Sets {ENV_DESTINATION}.",
        ),
        click.Option(
            ["--log-json-values"],
            is_flag=True,
            expose_value=False,
            is_eager=True,
            callback=_set_values,
            help=f"With --log-json: log the values of changed keys too. Sets {ENV_VALUES}=1.",
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
