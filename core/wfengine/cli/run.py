"""``wf run TARGET``: run a workflow, a spec file or a stored graph, showing it live.

The run goes on in a worker thread (``RunHandle.events``) while this thread shows
its events. The first Ctrl-C asks the run to stop before its next step: it ends
``cancelled``, is saved, and can be resumed with ``wf runs resume``. A second Ctrl-C stops
waiting at once (the run may then be left ``running`` in the store; resume still works).
"""

from __future__ import annotations

import shlex
import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from ..budget import parse_budget
from ..errors import WorkflowError
from .context import CliContext, get_context
from .errors import EXIT
from .options import STEP_LIMIT, backend_option, debug_option, store_option
from .output import LiveDisplay, echo_json, summary_lines
from .state_args import build_state, state_options

if TYPE_CHECKING:
    from wfengine.handle import RunHandle
    from wfengine.run import WorkflowRun

EXIT_BY_STATUS = {
    "completed": EXIT["ok"],
    "failed": EXIT["failed"],
    "paused": EXIT["paused"],
    "cancelled": EXIT["cancelled"],
}
"""The exit code of ``wf run`` and ``wf runs resume`` for each final or paused status."""
"""``wf run`` / ``wf runs resume`` exit codes by the run's final status."""


@click.command("run")
@click.argument("target")
@state_options
@click.option(
    "--max-steps",
    type=STEP_LIMIT,
    help="Stop the run after N steps.",
)
@click.option(
    "--interrupt-before",
    "interrupt_before",
    multiple=True,
    metavar="NODE",
    help="Pause before NODE runs (repeatable); resume with `wf runs resume`.",
)
@click.option(
    "--interrupt-after",
    "interrupt_after",
    multiple=True,
    metavar="NODE",
    help="Pause after NODE's step (repeatable); resume with `wf runs resume`.",
)
@click.option(
    "--budget",
    "budget_items",
    multiple=True,
    metavar="KEY=N[,KEY=N]",
    help="Pause (not fail) when the run reaches a total: steps=N, seconds=S, cost=C (repeatable).",
)
@click.option(
    "--queue",
    is_flag=True,
    help="Store the run as queued for a `wf worker` and print its id at once (the store "
    "must queue runs: sqlite:// or postgresql://).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the finished run as JSON instead.")
@click.option("-q", "--quiet", is_flag=True, help="No live node lines; only the summary.")
@store_option
@backend_option
@debug_option
def run_command(
    target: str,
    state_json: dict[str, Any],
    assignments: list[tuple[list[str], Any]],
    max_steps: int | None,
    interrupt_before: tuple[str, ...],
    interrupt_after: tuple[str, ...],
    budget_items: tuple[str, ...],
    queue: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Run TARGET: a workflow name, a spec file (.yaml/.json) or a stored graph id.

    Shows a line per node as it finishes (step, duration, retries), then a summary:
    status, steps, time, the state's keys and where outputs went.

    \b
    Examples:
      wf run data-quality -s source=examples/data/customers.csv -s output_dir=out
      wf run data-quality -s source=data.csv -s threshold=3 -s max_rounds=2
      wf run pipeline.yaml --state @state.json --max-steps 50
      wf run 3f2a9c0d --interrupt-before report      # a stored graph id
      wf run data-quality --json > run.json
      wf --store sqlite:///runs.db run pipeline.yaml --queue   # for `wf worker`

    \b
    Exit codes: 0 completed (or queued, with --queue), 1 failed, 3 paused,
    130 cancelled (Ctrl-C), 2 bad input (unknown target, bad spec, bad -s).
    """
    app = get_context()
    engine = app.storage_engine()
    state = build_state(state_json, assignments)
    if queue:
        if not app.persistent:
            raise click.UsageError(
                f"--queue stores the run for a `wf worker` in another process, but the store "
                f"{engine.store_url} lives in this process only; pass --store sqlite:///runs.db "
                "(workers on this machine) or a postgresql:// URL (workers anywhere)"
            )
        run_id = engine.submit(
            target,
            state,
            max_steps=max_steps,
            interrupt_before=list(interrupt_before),
            interrupt_after=list(interrupt_after),
            budget=budget_option(budget_items),
        )
        if as_json:
            echo_json({"run_id": run_id, "status": "queued"})
        else:
            click.echo(run_id)
        return
    handle = engine.start(
        target,
        state,
        max_steps=max_steps,
        interrupt_before=list(interrupt_before),
        interrupt_after=list(interrupt_after),
        budget=budget_option(budget_items),
    )
    follow(app, handle, as_json=as_json, quiet=quiet)


def budget_option(items: tuple[str, ...]) -> dict[str, float] | None:
    """The ``--budget`` options as a budget (a usage error saying what is wrong)."""
    if not items:
        return None
    try:
        return parse_budget(items)
    except WorkflowError as exc:
        raise click.BadParameter(str(exc), param_hint="'--budget'") from None


def follow(
    app: CliContext,
    handle: RunHandle,
    *,
    as_json: bool = False,
    quiet: bool = False,
) -> None:
    """Drive the run (new or prepared for resumption) in a worker thread, showing its
    events, then its summary; exit with the code of its final status."""
    run = handle.run
    for warning in handle.warnings:
        click.echo(f"warning: graph '{handle.graph.name}': {warning}", err=True)
    display = None if (as_json or quiet) else LiveDisplay(nodes=handle.graph.nodes)
    interrupt = _CancelOnCtrlC(run)
    with interrupt:
        for event in handle.events():
            if interrupt.fresh():
                _say_cancelling(display)
            if display is not None:
                display.handle(event)
    if interrupt.fresh():
        _say_cancelling(display)
    if as_json:
        echo_json(run.to_dict())
    else:
        for line in summary_lines(
            run, resume_command=resume_command(app, run.run_id), persistent=app.persistent
        ):
            click.echo(line)
    code = EXIT_BY_STATUS.get(run.status.value, 1)
    if code:
        raise click.exceptions.Exit(code)


def _say_cancelling(display: LiveDisplay | None) -> None:
    text = "cancelling: the run stops after the current step (Ctrl-C again to stop waiting)"
    if display is not None:
        display.message(text)
    else:
        click.echo(text, err=True)


def resume_command(app: CliContext, run_id: str) -> str:
    """The command that resumes ``run_id`` (with ``--store`` when one was chosen)."""
    root = click.get_current_context().find_root().info_name or "wf"
    parts = [root]
    if app.store_url:
        parts += ["--store", shlex.quote(app.store_url)]
    return " ".join([*parts, "runs", "resume", run_id])


class _CancelOnCtrlC:
    """While active (main thread only): the first SIGINT cancels ``run`` between steps and
    returns; the next raises ``KeyboardInterrupt`` as usual."""

    def __init__(self, run: WorkflowRun) -> None:
        self.run = run
        self.count = 0
        self._reported = 0
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> _CancelOnCtrlC:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.count > 1:
            raise KeyboardInterrupt
        self.run.cancel()
        try:  # tell at once; the next event may be a long node away
            click.echo(
                "\ncancelling: the run stops after the current step (Ctrl-C again to stop waiting)",
                err=True,
            )
            self._reported = 1
        except RuntimeError:  # stderr was being written: the main loop says it instead
            pass

    def fresh(self) -> bool:
        """True once for a Ctrl-C that has not been reported yet."""
        if self.count and not self._reported:
            self._reported = self.count
            return True
        return False
