"""``create_app``: the FastAPI application serving one :class:`~wfengine.Engine`."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from ..engine import Engine
from .context import ServerContext
from .errors import ServerConfigError, install_error_handlers
from .jsonsafe import SafeJSONResponse
from .limits import ServerLimits
from .models import ErrorResponse
from .paths import PathConfiner
from .runs import RunManager
from .security import ApiKeyMiddleware, BodyLimitMiddleware, resolve_api_keys

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in (
        (400, "Bad request"),
        (401, "API key missing or wrong"),
        (403, "A path outside the data directory"),
        (404, "Not found"),
        (413, "Body or state too large"),
        (422, "Invalid input"),
        (429, "Too many runs going on"),
    )
}


def create_app(
    engine: Engine | None = None,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    api_keys: Iterable[str] | str | None = None,
    max_body_bytes: int = 10 * 2**20,
    allow_import_paths: bool = False,
    expose_tracebacks: bool = False,
    **limits: int,
) -> FastAPI:
    """The REST API over ``engine`` (default: a new engine with the installed plugins).

    :param data_dir: the directory file paths in states and specs are confined to; default:
        the current directory.
    :param api_keys: keys a request must carry (``Authorization: Bearer KEY`` or
        ``X-API-Key``); ``None`` reads ``WFENGINE_API_KEYS``; none means no authentication.
    :param max_body_bytes: the largest request body (413 beyond).
    :param allow_import_paths: let specs run ``call:`` import paths (code of the server's
        Python environment chosen by the client); off by default: registered tools only.
    :param expose_tracebacks: include the tracebacks of failed runs and node attempts in
        responses (default: type and message only; they always go to the server log).
    :param limits: any other :class:`ServerLimits` field (``max_nodes=100``, ...).
    """
    unknown = set(limits) - ServerLimits.names()
    if unknown:
        raise ServerConfigError(
            f"unknown server limit(s): {', '.join(sorted(unknown))}; known: "
            f"{', '.join(sorted(ServerLimits.names()))}"
        )
    try:
        bounds = ServerLimits(max_body_bytes=max_body_bytes, **limits)
    except ValueError as exc:
        raise ServerConfigError(str(exc)) from None
    engine = engine if engine is not None else Engine()
    paths = PathConfiner(
        data_dir if data_dir is not None else os.getcwd(), engine.tools.path_keys()
    )
    # every run of this server: declared tool paths confined to the data dir where they are
    # opened, and the state bounded after every step, not only at the door
    engine.set_limits(
        dataclasses.replace(engine.limits, max_state_bytes=bounds.max_state_bytes),
        path_roots=[paths.root],
    )
    engine.allow_calls = allow_import_paths
    ctx = ServerContext(
        engine=engine,
        limits=bounds,
        paths=paths,
        runs=RunManager(engine, bounds),
        expose_tracebacks=expose_tracebacks,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        ctx.close()

    from ..version import __version__
    from . import (
        routes_cache,
        routes_graphs,
        routes_history,
        routes_info,
        routes_reports,
        routes_runs,
        routes_validate,
        studio,
        websocket,
    )

    app = FastAPI(
        title="wfengine",
        version=__version__,
        description="Run workflow graphs of registered tools over a shared state.",
        lifespan=lifespan,
        responses=_ERRORS,
        # every body through SafeJSONResponse: a lone surrogate in a state is escaped, not a 500
        default_response_class=SafeJSONResponse,
    )
    app.state.wfengine = ctx
    install_error_handlers(app)
    # routes are matched in order: the hot ``POST /graph/run`` is first (see routes_runs)
    app.include_router(routes_runs.router)
    app.include_router(routes_info.router)
    app.include_router(routes_graphs.router)
    app.include_router(routes_history.router)
    app.include_router(routes_validate.router)
    app.include_router(routes_reports.router)
    app.include_router(routes_cache.router)
    app.include_router(websocket.router)
    app.include_router(studio.router)
    app.add_middleware(BodyLimitMiddleware, max_bytes=bounds.max_body_bytes)
    keys = resolve_api_keys(api_keys)
    app.state.api_keys_required = bool(keys)  # the studio asks for a key only then
    if keys:  # added last, so outermost: no byte of the body is read before the key is checked
        app.add_middleware(ApiKeyMiddleware, keys=keys)
    return app
