"""The ``wf`` command line: one Click group, its commands split by group into modules.

``main()`` is the console script. It creates the engine (which imports the entry-point
plugins, but opens no store), lets plugins add commands (``wfengine_register_commands``),
then parses the arguments. Tests and embedding code pass an engine of their own::

    main(["run", "my-workflow", "-s", "n=3"], engine=Engine(plugins=[p], load_entrypoints=False))

or drive :data:`cli` with ``CliRunner().invoke(cli, args, obj=CliContext(engine))``.

Errors: a :class:`~wfengine.errors.WorkflowError` (bad input: unknown name, bad spec, run not
found, ...) is one line on stderr and exit code 2; any other exception is one line with a
hint to rerun with ``--debug`` and exit code 1; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import copy
import sys
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from .context import CliContext, EngineFactory, get_context
from .errors import EXIT, UnexpectedError, UserError

if TYPE_CHECKING:
    from wfengine.engine import Engine

__all__ = [
    "EXIT",
    "CliContext",
    "UnexpectedError",
    "UserError",
    "build_cli",
    "cli",
    "create_cli",
    "get_context",
    "main",
]

HELP = """Run workflows: directed graphs of Python functions over a shared state dict.

A TARGET is a registered workflow name (see `wf workflows`), a spec file (.yaml, .yml,
.json) or the id of a graph stored with `wf graphs create`.

\b
Examples:
  wf run data-quality -s source=examples/data/customers.csv -s output_dir=out
  wf run pipeline.yaml --state @state.json --interrupt-before review
  wf runs list --status failed
  wf runs resume 3f2a9c0d -s threshold=5
  wf graphs draw data-quality
  wf --store sqlite:////tmp/runs.db runs list
  wf --store sqlite:////tmp/runs.db run pipeline.yaml --queue   # then: wf worker

\b
Storage: runs and graphs go to --store URL (or WFENGINE_STORE); by default the
SQLite database in your user data directory when wfengine-sqlite is installed,
else memory (nothing kept after wf exits).

\b
Exit codes:
  0    the run completed (or the command succeeded)
  1    the run failed, or wf hit an unexpected error (rerun with --debug)
  2    bad usage or input: unknown name, bad spec, run not found, bad -s
  3    the run paused before a node (--interrupt-before)
  130  the run was cancelled (Ctrl-C); `wf runs resume RUN_ID` goes on
"""


class WfGroup(click.Group):
    """The ``wf`` group: turns engine errors into one-line messages (see module docstring)."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; map exceptions to messages and exit codes."""
        from wfengine.errors import WorkflowError

        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, BrokenPipeError):
            raise  # Click reports these itself (a closed pipe, as in `wf runs list | head`)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            raise click.exceptions.Exit(EXIT["cancelled"]) from None
        except WorkflowError as exc:
            if _debug(ctx):
                raise
            raise UserError(str(exc)) from exc
        except Exception as exc:
            if _debug(ctx):
                raise
            raise UnexpectedError(
                f"unexpected {type(exc).__name__}: {exc} (rerun with wf --debug for the traceback)"
            ) from exc


def _debug(ctx: click.Context) -> bool:
    obj = ctx.find_object(CliContext)
    return bool(obj and obj.debug)


def create_cli() -> click.Group:
    """A new ``wf`` group with the built-in commands (no plugin commands yet)."""
    from . import cache, catalog, graphs, history, run, runs, serve, worker

    del history  # its commands join the runs group on import

    @click.group(cls=WfGroup, help=HELP, context_settings={"help_option_names": ["-h", "--help"]})
    @click.option(
        "--store",
        "store_url",
        envvar="WFENGINE_STORE",
        metavar="URL",
        help="Store for runs and graphs (memory://, sqlite:////abs/path.db). Env: WFENGINE_STORE.",
    )
    @click.option(
        "--debug",
        is_flag=True,
        envvar="WFENGINE_DEBUG",
        help="Show full tracebacks instead of one-line errors.",
    )
    @click.version_option(_version(), "-V", "--version", prog_name="wf (wfengine)")
    @click.pass_context
    def group(ctx: click.Context, store_url: str | None, debug: bool) -> None:
        app = ctx.ensure_object(CliContext)
        if store_url:
            app.store_url = store_url
        app.debug = app.debug or debug

    group.name = "wf"
    group.add_command(run.run_command)
    group.add_command(runs.runs_group)
    group.add_command(graphs.graphs_group)
    group.add_command(cache.cache_group)
    for command in catalog.commands:
        group.add_command(command)
    group.add_command(serve.serve_command)
    group.add_command(worker.worker_command)
    return group


def _version() -> str:
    from wfengine.version import __version__

    return __version__


def build_cli(app: CliContext) -> click.Group:
    """The ``wf`` group with the commands of ``app``'s engine's plugins added.

    A plugin may add commands, never replace (or remove) a built-in one: the built-in is put
    back and the plugin reported as a failed registration naming both commands.
    """
    group = create_cli()
    builtins = dict(group.commands)
    builtin_params = list(group.params)
    app.engine.register_commands(group)
    _keep_builtin_commands(group, builtins, app.engine)
    plugin_params = [p for p in group.params if p not in builtin_params]
    _repeat_on_subcommands(group, plugin_params)
    return group


def _repeat_on_subcommands(group: click.Group, params: list[click.Parameter]) -> None:
    """Let group options that plugins add be given after the subcommand too (as ``--store``
    can): ``wf run demo --log-json x`` is ``wf --log-json x run demo``. An option a command
    already has under one of the same names is left to the command."""
    if not params:
        return
    for name, command in list(group.commands.items()):
        # a copy: the built-in command objects are shared by every group create_cli makes
        command = copy.copy(command)
        taken = {opt for param in command.params for opt in getattr(param, "opts", ())}
        command.params = [
            *command.params,
            *(p for p in params if not taken.intersection(getattr(p, "opts", ()))),
        ]
        if isinstance(command, click.Group):
            command.commands = dict(command.commands)
            _repeat_on_subcommands(command, params)
        group.commands[name] = command


def _keep_builtin_commands(
    group: click.Group, builtins: dict[str, click.Command], engine: Engine
) -> None:
    from wfengine.plugins import PluginFailure, report_failure

    for name, original in builtins.items():
        current = group.commands.get(name)
        if current is original:
            continue
        group.commands[name] = original
        if current is None:
            plugin, what = _command_plugin(original, engine), "removed"
        else:
            callback = current.callback
            where = f"{getattr(callback, '__module__', '?')}.{getattr(callback, '__name__', '?')}"
            plugin = _command_plugin(current, engine)
            what = f"replaced by its command '{current.name}' ({where})"
        failure = PluginFailure(
            plugin,
            f"the built-in command 'wf {name}' would be {what}; refused, 'wf {name}' is "
            "the built-in",
            "register",
        )
        engine.plugin_failures.append(failure)
        report_failure(failure)


def _command_plugin(command: click.Command, engine: Engine) -> str:
    """The plugin whose ``wfengine_register_commands`` lives in the module defining
    ``command``'s callback; else the plugins implementing the hook, named together."""
    impls = engine.pm.hook.wfengine_register_commands.get_hookimpls()
    module = getattr(command.callback, "__module__", None)
    for impl in impls:
        if module is not None and impl.function.__module__ == module:
            return str(impl.plugin_name)
    return " or ".join(sorted({str(impl.plugin_name) for impl in impls})) or "unknown"


def main(
    args: Sequence[str] | None = None,
    *,
    engine: Engine | EngineFactory | None = None,
    prog_name: str = "wf",
    standalone_mode: bool = True,
) -> Any:
    """The ``wf`` console script; ``engine`` (an Engine or a factory) replaces the default."""
    argv = list(sys.argv[1:] if args is None else args)
    _escape_unencodable_output()
    from wfengine.settings import env_flag

    debug = "--debug" in argv or env_flag("WFENGINE_DEBUG")
    app = CliContext(engine)
    app.debug = debug
    try:
        group = _build_reporting_plugin_warnings(app)
    except Exception as exc:
        if debug:
            raise
        from wfengine.errors import WorkflowError

        if isinstance(exc, WorkflowError):
            click.echo(f"Error: {exc}", err=True)
            sys.exit(EXIT["usage"])
        click.echo(
            f"Error: unexpected {type(exc).__name__} while loading plugins: {exc} "
            "(rerun with wf --debug for the traceback)",
            err=True,
        )
        sys.exit(EXIT["failed"])
    return group.main(args=argv, prog_name=prog_name, obj=app, standalone_mode=standalone_mode)


def _build_reporting_plugin_warnings(app: CliContext) -> click.Group:
    """Build the group; a skipped plugin becomes one ``warning:`` line on stderr."""
    from wfengine.plugins import PluginWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PluginWarning)
        group = build_cli(app)
    for warning in caught:
        if issubclass(warning.category, PluginWarning):
            click.echo(f"warning: {warning.message}", err=True)
        else:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    return group


def _escape_unencodable_output() -> None:
    """A value the terminal's encoding cannot show (a lone surrogate in a state, say) is
    printed as its ``\\uXXXX`` escape instead of failing the command."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and getattr(stream, "errors", None) == "strict":
            reconfigure(errors="backslashreplace")


cli = create_cli()
"""The ``wf`` group without plugin commands, for ``CliRunner().invoke(cli, ..., obj=...)``."""
