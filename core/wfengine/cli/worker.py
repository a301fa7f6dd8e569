"""``wf worker``: claim queued runs from a shared store and drive them (:mod:`wfengine.worker`)."""

from __future__ import annotations

import click

from ..queue import DEFAULT_LEASE
from .context import get_context
from .options import backend_option, debug_option, store_option

POSITIVE = click.FloatRange(min=0.01)


@click.command("worker")
@store_option
@backend_option
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Runs driven at once (threads of this process).",
)
@click.option(
    "--lease",
    type=POSITIVE,
    default=DEFAULT_LEASE,
    show_default=True,
    metavar="S",
    help="Seconds a claim lasts without a heartbeat (renewed every S/3); after that another "
    "worker takes the run over from its last checkpoint.",
)
@click.option(
    "--poll",
    type=POSITIVE,
    default=1.0,
    show_default=True,
    metavar="S",
    help="Seconds between looks at an empty queue.",
)
@click.option("--name", metavar="NAME", help="Name to claim runs under (default: HOST:PID).")
@click.option(
    "--max-runs",
    type=click.IntRange(min=1),
    metavar="N",
    help="Stop after claiming N runs (and finishing them).",
)
@click.option(
    "--exit-when-idle",
    is_flag=True,
    help="Stop when the queue is empty and no run is going on (batch jobs, tests).",
)
@debug_option
def worker_command(
    concurrency: int,
    lease: float,
    poll: float,
    name: str | None,
    max_runs: int | None,
    exit_when_idle: bool,
) -> None:
    """Claim queued runs from the store and run them, until stopped.

    Runs are queued with `wf run TARGET --queue`, `POST /graph/run` with
    "queue": true, or engine.submit(). Start as many workers as you like, on
    this machine (sqlite:///path.db) or on many (postgresql://user@host/db,
    from wfengine-postgres): the store gives each run to one worker. A worker
    renews its claim every LEASE/3 seconds; when a worker dies, another one
    takes its run over after the lease and continues from the last committed
    step (only the step that was in flight runs again).

    A cancel asked anywhere (`wf runs cancel ID`, POST /runs/{id}/cancel)
    stops the run before its next step. SIGTERM or Ctrl-C stops the worker
    gracefully: each run finishes its step and goes back to the queue for
    another worker; a second signal exits at once.

    Prints one line per claimed and per finished run on stderr. Tools and
    workflows come from the plugins installed here: install the same ones on
    every worker.

    \b
    Examples:
      wf worker --store sqlite:///runs.db --concurrency 4
      wf worker --store postgresql://wf@db/wf --backend dask://scheduler:8786
      wf worker --store sqlite:///runs.db --exit-when-idle
    """
    from ..worker import Worker

    app = get_context()
    engine = app.storage_engine()
    if not app.persistent:
        raise click.UsageError(
            f"the store {engine.store_url} lives in this process only: no other process can "
            "queue runs in it; pass --store sqlite:///runs.db (workers on this machine) or a "
            "postgresql:// URL (workers anywhere)"
        )
    worker = Worker(
        engine,
        name=name,
        concurrency=concurrency,
        lease=lease,
        poll=poll,
        max_runs=max_runs,
        exit_when_idle=exit_when_idle,
        say=lambda line: click.echo(line, err=True),
    )
    click.echo(
        f"worker {worker.name}: claiming runs from {engine.store_url} "
        f"(concurrency {concurrency}, lease {lease:g} s)",
        err=True,
    )
    claimed = worker.run()
    summary = ", ".join(f"{n} {what}" for what, n in sorted(worker.finished.items()))
    click.echo(
        f"worker {worker.name}: stopped after {claimed} run(s) ({summary or 'none'})", err=True
    )
