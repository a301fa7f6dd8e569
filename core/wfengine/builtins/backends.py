"""The built-in execution backends: ``threads://`` and ``processes://``."""

from __future__ import annotations

from ..backends import BackendContext, BackendRegistry, url_options
from ..markers import hookimpl
from ..processes import make_process_runner
from ..runner import NodeRunner, ThreadRunner


def make_thread_runner(url: str, context: BackendContext) -> NodeRunner:
    """``threads://``: this process's threads (sync nodes) and event loop (async nodes)."""
    url_options(url, {})
    return ThreadRunner(context.max_workers)


@hookimpl
def wfengine_register_backends(registry: BackendRegistry) -> None:
    """Register ``threads://`` (the default) and ``processes://?workers=N``."""
    registry.register(
        "threads", make_thread_runner, "Threads and the event loop of this process (default)"
    )
    registry.register(
        "processes",
        make_process_runner,
        "Worker processes on this machine (?workers=N, default: CPU count)",
    )
