"""Every error the API returns has one JSON shape: ``{"error": {type, message, details}}``.

Bad input is answered with a 4xx that says what was wrong and where; a 500 means a bug (its
traceback goes to the server log, never to the client).
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..budget import BudgetError
from ..errors import (
    ConditionError,
    GraphValidationError,
    HistoryUnsupportedError,
    RegistryError,
    RunNotFoundError,
    SpecError,
    StepLimitError,
    StoreError,
    UnknownNameError,
    UnknownSettingError,
    WorkflowError,
)
from ..graph_ids import GraphIdTakenError, InvalidGraphIdError
from ..versions import GraphChangedError
from .jsonsafe import SafeJSONResponse, jsonable
from .paths import NestedTooDeep, PathOutsideDataDir

log = logging.getLogger("wfengine.server")

SERVER_FAULT = "the server could not answer this request; see the server log"


class ServerConfigError(WorkflowError):
    """The server was configured in a way it refuses to run with (bad data dir, ...)."""


class InsecureServerError(ServerConfigError):
    """Asked to listen beyond loopback without API keys (and without ``insecure=True``)."""


class ApiError(StarletteHTTPException):
    """An HTTP error with a machine-readable ``type`` and JSON ``details``."""

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        type: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status_code, message, headers)
        self.type = type or _type_for(status_code)
        self.details = details or {}


def error_body(type: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON body of an error response."""
    return {"error": {"type": type, "message": message, "details": jsonable(details or {})}}


def error_response(
    status: int,
    type: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """An error response in the API's shape."""
    return SafeJSONResponse(error_body(type, message, details), status_code=status, headers=headers)


def _type_for(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "http_error"


def workflow_error_status(exc: WorkflowError) -> tuple[int, dict[str, Any]]:
    """The HTTP status and details for an engine error."""
    if isinstance(exc, PathOutsideDataDir):
        return 403, {"where": exc.where, "path": exc.path, "reason": exc.reason}
    if isinstance(exc, GraphChangedError):
        return 409, {}
    if isinstance(exc, NestedTooDeep):
        return 422, {"where": exc.where}
    if isinstance(exc, GraphIdTakenError):
        return 409, {"graph_id": exc.graph_id}
    if isinstance(exc, InvalidGraphIdError):
        return 422, {"graph_id": exc.graph_id}
    if isinstance(exc, SpecError | ConditionError):
        return 422, {"where": exc.where}
    if isinstance(exc, GraphValidationError):
        return 422, {"graph": exc.graph, "problems": exc.problems}
    if isinstance(exc, UnknownNameError | RunNotFoundError):
        return 404, {}
    if isinstance(exc, UnknownSettingError):
        return 422, {"workflow": exc.workflow, "unknown": exc.unknown, "valid": exc.valid}
    if isinstance(exc, RegistryError | StepLimitError | BudgetError):
        return 422, {}
    if isinstance(exc, ServerConfigError):
        return 500, {}
    if isinstance(exc, HistoryUnsupportedError):
        return 501, {}  # the store cannot answer history questions: not a failure of it
    if isinstance(exc, StoreError) and not isinstance(exc, TypeError | ValueError):
        return 503, {}  # the store failed (its message names its file); bad values stay 4xx
    return 400, {}


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    details = exc.details if isinstance(exc, ApiError) else {}
    kind = exc.type if isinstance(exc, ApiError) else _type_for(exc.status_code)
    return error_response(
        exc.status_code, kind, str(exc.detail), details, headers=getattr(exc, "headers", None)
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()))
        problems.append(
            {"where": where, "message": error.get("msg", ""), "type": error.get("type", "")}
        )
    summary = "; ".join(f"{p['where']}: {p['message']}" for p in problems[:5])
    return error_response(
        422, "validation_error", f"invalid request: {summary}", {"problems": problems}
    )


async def _workflow_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, WorkflowError)
    status, details = workflow_error_status(exc)
    message = str(exc)
    if isinstance(exc, RunNotFoundError):  # the engine's message names the store (a file)
        run_id = request.path_params.get("run_id")
        message = f"run {run_id!r} not found" if run_id else "run not found"
        details = {"run_id": run_id} if run_id else details
    elif isinstance(exc, HistoryUnsupportedError):  # the store's own words may name files
        message = (
            "this server's store keeps no history of runs (state at a step, diffs, blame, "
            "forks); run the server on a store that does, e.g. sqlite:///runs.db or "
            "memory:// (not memory://?history=off)"
        )
    elif status >= 500:  # the message may name server files: the log gets it, not the client
        log.error(
            "%s answering %s %s: %s", type(exc).__name__, request.method, request.url.path, exc
        )
        message = SERVER_FAULT
    return error_response(status, type(exc).__name__, message, details)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error answering %s %s", request.method, request.url.path)
    return error_response(500, "internal_error", SERVER_FAULT)


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error in the API's JSON shape."""
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(WorkflowError, _workflow_error)
    app.add_exception_handler(Exception, _unexpected_error)
