"""``serve``: run the API with uvicorn (what ``wf serve`` calls)."""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..engine import Engine
from .app import create_app
from .errors import InsecureServerError, ServerConfigError
from .security import API_KEYS_ENV, is_loopback, resolve_api_keys

if TYPE_CHECKING:
    import uvicorn

TIMEOUT_KEEP_ALIVE = 5
"""Seconds an idle keep-alive connection stays open after its last response."""

LIMIT_CONCURRENCY = 1024
"""Most connections (WebSockets included) and requests in progress at once; beyond it new
requests get a ``503``."""


def uvicorn_config(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    log_level: str = "info",
    access_log: bool = True,
    timeout_keep_alive: int = TIMEOUT_KEEP_ALIVE,
    limit_concurrency: int = LIMIT_CONCURRENCY,
) -> uvicorn.Config:
    """The uvicorn configuration :func:`serve` runs ``app`` with: idle keep-alive
    connections closed after ``timeout_keep_alive`` s, at most ``limit_concurrency``
    connections and requests at once.

    uvicorn has no timeout for reading a request's headers or body: a client that sends them
    slowly holds its connection (up to ``limit_concurrency`` of them). On an untrusted
    network put a reverse proxy with read timeouts (nginx, Caddy, HAProxy) in front.
    """
    import uvicorn

    for name, value in (
        ("timeout_keep_alive", timeout_keep_alive),
        ("limit_concurrency", limit_concurrency),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ServerConfigError(f"{name} must be an integer >= 1, got {value!r}")
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=access_log,
        timeout_keep_alive=timeout_keep_alive,
        limit_concurrency=limit_concurrency,
    )


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    store: str | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    insecure: bool = False,
    api_keys: Iterable[str] | str | None = None,
    engine: Engine | None = None,
    log_level: str = "info",
    access_log: bool = True,
    allow_import_paths: bool = False,
    expose_tracebacks: bool = False,
    timeout_keep_alive: int = TIMEOUT_KEEP_ALIVE,
    limit_concurrency: int = LIMIT_CONCURRENCY,
    **limits: int,
) -> None:
    """Serve the REST API until interrupted.

    Listening beyond loopback without API keys (``api_keys`` or ``WFENGINE_API_KEYS``) is
    refused with :class:`InsecureServerError` unless ``insecure=True``. ``store`` is a store
    URL (default: ``WFENGINE_STORE``, else the engine's default); ``data_dir`` confines the
    file paths requests may name (default: the current directory); ``log_level`` and
    ``access_log`` go to uvicorn; ``allow_import_paths`` lets specs run ``call:`` import
    paths (off: registered tools only); ``expose_tracebacks`` sends clients the tracebacks
    of failed runs (default: type and message only; the server log always has them);
    ``timeout_keep_alive`` and ``limit_concurrency`` bound connections (see
    :func:`uvicorn_config`); ``limits`` are :class:`~wfengine.server.limits.ServerLimits`
    fields.
    """
    keys = resolve_api_keys(api_keys)
    if not keys and not insecure and not is_loopback(host):
        raise InsecureServerError(
            f"refusing to listen on {host!r} without API keys: anyone who can reach it could "
            f"run workflows. Set {API_KEYS_ENV}=KEY1,KEY2 (clients send 'Authorization: "
            "Bearer KEY'), listen on 127.0.0.1, or pass --insecure if the network is trusted"
        )
    import uvicorn

    own = engine is None
    if engine is None:
        engine = Engine(store=store)
    elif store is not None:
        engine.set_store(store)
    root = Path(data_dir if data_dir is not None else os.getcwd()).resolve()
    try:
        app = create_app(
            engine,
            data_dir=root,
            api_keys=keys,
            allow_import_paths=allow_import_paths,
            expose_tracebacks=expose_tracebacks,
            **limits,
        )
        config = uvicorn_config(
            app,
            host=host,
            port=port,
            log_level=log_level,
            access_log=access_log,
            timeout_keep_alive=timeout_keep_alive,
            limit_concurrency=limit_concurrency,
        )
        auth = "required" if keys else "off"
        print(
            f"wfengine API on http://{host}:{port} (store {engine.store_url}, data dir {root}, "
            f"API keys {auth}; at most {limit_concurrency} connections)",
            file=sys.stderr,
        )
        # what exists now lives as long as the process: keep it out of full GC passes
        gc.freeze()
        uvicorn.Server(config).run()
    finally:
        if own:
            engine.close()
