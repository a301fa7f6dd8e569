"""Options shared by several ``wf`` commands, and the duration parameter type.

``--store`` and ``--debug`` are group options (``wf --store URL runs list``); commands that
touch storage accept them after the command name too (``wf runs list --store URL``), since
that is where people type them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

import click

from wfengine.settings import MAX_STEPS_CEILING

from .context import CliContext

STEP_LIMIT = click.IntRange(min=1, max=MAX_STEPS_CEILING)
"""The type of ``--max-steps``: a positive integer a store can keep."""

F = TypeVar("F", bound=Callable[..., Any])


def _set_store(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.ensure_object(CliContext).store_url = value


def _set_debug(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(CliContext).debug = True


def store_option(func: F) -> F:
    """``--store URL`` on a command (same as the group option)."""
    return click.option(
        "--store",
        metavar="URL",
        expose_value=False,
        callback=_set_store,
        is_eager=True,
        help="Store for runs and graphs (default: per-user SQLite when installed, else memory).",
    )(func)


def _set_backend(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.ensure_object(CliContext).backend_url = value


BACKEND_HELP = (
    "Where node calls run: threads:// (default), processes://?workers=N (every core of this "
    "machine), or a scheme a backend plugin adds. Hooks, the log and the store stay in this "
    "process; `local: true` keeps a node here. A node's `resources:` go to backends that "
    "use them (threads:// and processes:// ignore them). Default: WFENGINE_BACKEND, else "
    "threads://; `wf backends` lists the schemes. See docs/backends.md."
)


def backend_option(func: F) -> F:
    """``--backend URL`` on a command that runs nodes."""
    return click.option(
        "--backend",
        metavar="URL",
        expose_value=False,
        callback=_set_backend,
        is_eager=True,
        help=BACKEND_HELP,
    )(func)


def debug_option(func: F) -> F:
    """``--debug`` on a command (same as the group option)."""
    return click.option(
        "--debug",
        is_flag=True,
        expose_value=False,
        callback=_set_debug,
        is_eager=True,
        help="Show full tracebacks instead of one-line errors.",
    )(func)


def json_option(func: F) -> F:
    """``--json``: print JSON instead of text."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")(func)


_UNITS = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)([wdhms])")


def parse_duration(text: str) -> float:
    """``"30d"``, ``"12h"``, ``"15m"``, ``"90s"``, ``"1w"``, ``"1h30m"`` → seconds."""
    compact = text.strip().lower().replace(" ", "")
    if not compact or _PART.sub("", compact):
        raise ValueError(
            f"{text!r} is not a duration: use a number and a unit, like 30d, 12h, 15m, 90s or 1h30m"
        )
    return sum(float(n) * _UNITS[u] for n, u in _PART.findall(compact))


class Duration(click.ParamType):  # type: ignore[type-arg]  # generic only in newer Click
    """A duration like ``30d`` as seconds (a float)."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Seconds from text like ``30d``; a usage error for anything else."""
        if isinstance(value, int | float):
            return float(value)
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
