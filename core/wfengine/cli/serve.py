"""``wf serve``: the REST API (the optional ``wfengine[server]`` extra), imported lazily so
``wf`` starts without FastAPI."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from .context import get_context
from .errors import UserError
from .options import backend_option, debug_option

SERVER_MODULES = {"fastapi", "uvicorn", "starlette", "pydantic", "pydantic_core", "anyio"}
"""Missing modules that mean "the server extra is not installed"."""

NEEDS_EXTRA = "wf serve needs the server extra: pip install 'wfengine[server]'"


@click.command("serve")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (non-loopback needs API keys or --insecure).",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="Port to listen on.",
)
@click.option(
    "--store",
    "store_url",
    metavar="URL",
    help="Store for runs and graphs (default: as for every wf command).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="Directory the API may read input files from and write outputs to.",
)
@click.option(
    "--insecure", is_flag=True, help="Allow listening on a non-loopback address without API keys."
)
@click.option(
    "--allow-import-paths",
    is_flag=True,
    help="Let specs sent by clients run 'call:' import paths (default: registered tools only).",
)
@click.option(
    "--expose-tracebacks",
    is_flag=True,
    help="Send API clients the tracebacks of failed runs (default: type and message; the "
    "server log always has them). Not --debug, which is about wf's own errors.",
)
@click.option(
    "--limit-concurrency",
    type=click.IntRange(min=1),
    default=1024,
    show_default=True,
    metavar="N",
    help="Most connections (WebSockets included) and requests at once; more get a 503.",
)
@click.option(
    "--timeout-keep-alive",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    metavar="SECONDS",
    help="Close an idle keep-alive connection after this long.",
)
@backend_option
@debug_option
def serve_command(
    host: str,
    port: int,
    store_url: str | None,
    data_dir: str | None,
    insecure: bool,
    allow_import_paths: bool,
    expose_tracebacks: bool,
    limit_concurrency: int,
    timeout_keep_alive: int,
) -> None:
    """Serve the REST API (needs the server extra: pip install 'wfengine[server]').

    \b
    Examples:
      wf serve
      wf serve --port 9000 --store sqlite:////var/lib/wf/runs.db
      WFENGINE_API_KEYS=secret wf serve --host 0.0.0.0

    uvicorn has no timeout for reading request headers: on an untrusted network, put a
    reverse proxy with read timeouts in front (docs/server.md).
    """
    from wfengine.errors import WorkflowError

    serve = load_serve()
    app = get_context()
    if store_url:
        app.store_url = store_url
    try:
        if app.backend_url:
            app.engine.set_backend(app.backend_url)
        serve(
            host=host,
            port=port,
            store=app.resolved_store_url(),
            data_dir=data_dir,
            insecure=insecure,
            engine=app.engine,
            allow_import_paths=allow_import_paths,
            expose_tracebacks=expose_tracebacks,
            limit_concurrency=limit_concurrency,
            timeout_keep_alive=timeout_keep_alive,
        )
    except WorkflowError as exc:
        raise UserError(str(exc)) from None


def load_serve() -> Callable[..., Any]:
    """``wfengine.server.serve``; a one-line usage error when the server extra is missing."""
    try:
        from wfengine.server import serve
    except ImportError as exc:
        missing = _missing_module(exc)
        if missing.split(".")[0] in SERVER_MODULES:
            raise UserError(NEEDS_EXTRA) from None
        if missing == "wfengine.server":
            raise UserError("this wfengine has no REST server (no wfengine.server)") from None
        raise
    return serve  # type: ignore[no-any-return]


def _missing_module(exc: BaseException) -> str:
    """The name of the module whose absence caused ``exc`` (following its causes)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        name = getattr(current, "name", None)
        if isinstance(current, ImportError) and name:
            return str(name)
        current = current.__cause__ or current.__context__
    return ""
